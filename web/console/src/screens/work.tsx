import type { Session } from "../session";
import { Title } from "../ui";

export function WorkScreen(_: { s: Session; id: string }) {
  return <Title>我的工作</Title>;
}
