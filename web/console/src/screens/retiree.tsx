import type { Session } from "../session";
import { Title } from "../ui";

export function RetireeScreen(_: { s: Session; id: string }) {
  return <Title>人员详情</Title>;
}
