import type { Session } from "../session";
import { Title } from "../ui";

export function RosterScreen(_: { s: Session; id: string }) {
  return <Title>人员名册</Title>;
}
