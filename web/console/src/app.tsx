// The console: sign-in until there is a session, then the screen the
// address names, inside the frame with the role's navigation.
import { ActivitiesScreen } from "./screens/activities";
import { CertificationScreen } from "./screens/certification";
import { HandoversScreen } from "./screens/handovers";
import { ReportsScreen } from "./screens/reports";
import { RetireeScreen } from "./screens/retiree";
import { RosterScreen } from "./screens/roster";
import { SignInScreen } from "./screens/signin";
import { WorkScreen } from "./screens/work";
import { useRoute } from "./router";
import { type Session, sessionSignal } from "./session";
import { useSignal } from "./state";
import { Layout, visibleNav } from "./ui";

type Screen = (p: { s: Session; id: string }) => preact.JSX.Element;

const screens: Record<string, Screen> = {
  work: WorkScreen,
  roster: RosterScreen,
  retirees: RetireeScreen,
  certification: CertificationScreen,
  handovers: HandoversScreen,
  activities: ActivitiesScreen,
  reports: ReportsScreen,
};

export function App() {
  const s = useSignal(sessionSignal);
  const route = useRoute();
  if (!s) return <SignInScreen />;
  const home = visibleNav(s)[0]?.name ?? "roster";
  const Screen = screens[route.name] ?? screens[home];
  return (
    <Layout s={s}>
      <Screen s={s} id={route.id} />
    </Layout>
  );
}
