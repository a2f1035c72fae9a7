import type { Session } from "../session";
import { Title } from "../ui";

export function ActivitiesScreen(_: { s: Session; id: string }) {
  return <Title>社区活动</Title>;
}
