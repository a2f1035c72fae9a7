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
  const nav = visibleNav(s);
  const home = nav[0]?.name;
  // A screen the role has no navigation to still opens (the API decides);
  // an unknown address opens the role's home, and a role without a
  // screen of the console is told so.
  const name = screens[route.name] ? route.name : home;
  if (!name) {
    return (
      <Layout s={s}>
        <p role="status">此身份没有可用的控制台页面。</p>
      </Layout>
    );
  }
  const Screen = screens[name];
  // keyed by the record, so that no state carries from one record to the next
  return (
    <Layout s={s}>
      <Screen key={`${name}/${route.id}`} s={s} id={route.id} />
    </Layout>
  );
}
