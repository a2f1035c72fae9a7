import type { Session } from "../session";
import { Title } from "../ui";

export function HandoversScreen(_: { s: Session; id: string }) {
  return <Title>移交接收</Title>;
}
