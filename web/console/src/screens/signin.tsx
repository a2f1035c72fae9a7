// Sign-in: paste a token, or (in development only, when the gateway was
// started with --dev-identities as make run does) pick one of the
// identities of the seeded demo city.
import { useEffect, useState } from "preact/hooks";
import { type Role, signIn } from "../session";
import { Field, Title } from "../ui";

interface DevIdentity {
  /** A stable key: clerk-a, clerk-b, street, district, bureau, admin, ... */
  key: string;
  /** What the button says, in Chinese (e.g. "社区专干（示范社区一）"). */
  label: string;
  role: Role;
  token: string;
}

export function SignInScreen() {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [dev, setDev] = useState<DevIdentity[]>([]);
  useEffect(() => {
    fetch("/console/dev-identities", { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { identities: [] }))
      .then((b: { identities?: DevIdentity[] }) => setDev(b.identities ?? []))
      .catch(() => setDev([]));
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    setError(signIn(token) ?? "");
  };
  return (
    <main id="main" class="signin">
      <Title>退休人员社会化管理 · 登录</Title>
      <form onSubmit={submit} aria-describedby={error ? "signin-error" : undefined}>
        <Field
          label="访问令牌"
          name="token"
          hint="粘贴经办机构签发的令牌。令牌只保存在本标签页中，关闭即失效。"
          render={({ id, describedBy }) => (
            <textarea
              id={id}
              name="token"
              rows={4}
              autoComplete="off"
              spellcheck={false}
              aria-describedby={describedBy}
              aria-invalid={error ? "true" : undefined}
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          )}
        />
        {error && (
          <p id="signin-error" class="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" data-action="sign-in">
          登录
        </button>
      </form>
      {dev.length > 0 && (
        <section aria-labelledby="dev-title" class="dev">
          <h2 id="dev-title">开发环境身份（仅供开发使用）</h2>
          <ul>
            {dev.map((d) => (
              <li key={d.key}>
                <button type="button" data-dev-identity={d.key} onClick={() => setError(signIn(d.token) ?? "")}>
                  {d.label}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}
