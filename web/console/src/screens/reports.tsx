import type { Session } from "../session";
import { Title } from "../ui";

export function ReportsScreen(_: { s: Session; id: string }) {
  return <Title>统计报表</Title>;
}
