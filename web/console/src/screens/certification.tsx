import type { Session } from "../session";
import { Title } from "../ui";

export function CertificationScreen(_: { s: Session; id: string }) {
  return <Title>资格认证</Title>;
}
