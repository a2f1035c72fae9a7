// The pieces every screen is built of: the page frame with the navigation
// the role may use, labelled fields that show the API's message for them,
// a notice for errors and conflicts, a pager, and a hook for loading data.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { roleNames } from "./labels";
import { href, useRoute } from "./router";
import { type Role, type Session, signOut } from "./session";

/** A screen of the console and the roles that see it in the navigation. */
export interface NavItem {
  name: string;
  title: string;
  roles: Role[];
}

export const navItems: NavItem[] = [
  { name: "work", title: "我的工作", roles: ["clerk", "street", "district", "bureau", "admin"] },
  { name: "roster", title: "人员名册", roles: ["clerk", "street", "district", "bureau", "admin"] },
  { name: "certification", title: "资格认证", roles: ["clerk", "street", "district", "bureau", "admin"] },
  { name: "handovers", title: "移交接收", roles: ["clerk", "street", "district", "bureau", "archivist", "admin"] },
  { name: "activities", title: "社区活动", roles: ["clerk", "street", "district", "bureau", "admin"] },
  { name: "reports", title: "统计报表", roles: ["clerk", "street", "district", "bureau", "admin"] },
];

export function visibleNav(s: Session): NavItem[] {
  return navItems.filter((n) => n.roles.includes(s.role));
}

export function Layout({ s, children }: { s: Session; children: ComponentChildren }) {
  const route = useRoute();
  const active = route.name === "retirees" ? "roster" : route.name;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        跳到正文
      </a>
      <header class="top">
        <span class="brand">退休人员社会化管理</span>
        <nav aria-label="主导航">
          <ul>
            {visibleNav(s).map((n) => (
              <li key={n.name}>
                <a href={href(n.name)} aria-current={active === n.name ? "page" : undefined}>
                  {n.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {roleNames[s.role] ?? s.role}
          {s.communities.length > 0 && `（${s.communities.join("、")}）`}
          {s.street && `（${s.street}）`}
          {s.district && `（${s.district}）`}
        </span>
        <button type="button" class="link" onClick={() => signOut()}>
          退出
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

/** A page's heading, focused when the screen opens so readers hear it. */
export function Title({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

let nextId = 0;
/** A stable id for a control and its label. */
export function useId(prefix: string): string {
  const ref = useRef("");
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

/**
 * A labelled control. name is the field's JSON path in the API, so that
 * the API's message for that field shows under it; render receives the
 * control's id and whether it is in error, to wire up the input.
 */
export function Field(props: {
  label: string;
  name: string;
  error?: ApiError | null;
  hint?: string;
  render: (a: { id: string; invalid: boolean; describedBy?: string }) => JSX.Element;
}) {
  const id = useId(props.name.replace(/[^a-zA-Z0-9]/g, "-"));
  const msg = props.error?.field(props.name);
  const describedBy = msg ? `${id}-err` : props.hint ? `${id}-hint` : undefined;
  return (
    <div class={msg ? "field invalid" : "field"}>
      <label for={id}>{props.label}</label>
      {props.render({ id, invalid: !!msg, describedBy })}
      {props.hint && !msg && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {msg && (
        <small id={`${id}-err`} class="error-text" role="alert">
          {msg}
        </small>
      )}
    </div>
  );
}

/**
 * The notice of a failed request: the API's message in Chinese; for a
 * conflict, plainly that someone changed the record, with a reload.
 */
export function ErrorNotice({ error, onReload }: { error: unknown; onReload?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const text = e ? e.message : "网络错误，请检查连接后重试";
  return (
    <div class="notice error" role="alert">
      <span>{text}</span>
      {e?.conflict && onReload && (
        <button type="button" onClick={onReload}>
          重新加载
        </button>
      )}
    </div>
  );
}

/** A short confirmation after a change, announced to screen readers. */
export function Done({ text }: { text: string }) {
  if (!text) return null;
  return (
    <div class="notice ok" role="status">
      {text}
    </div>
  );
}

/**
 * Paging by the API's page tokens: the first page and the next one; the
 * list itself is bounded by the API's page size.
 */
export function Pager(props: { next?: string; atStart: boolean; onFirst: () => void; onNext: (token: string) => void }) {
  if (props.atStart && !props.next) return null;
  return (
    <nav class="pager" aria-label="翻页">
      <button type="button" disabled={props.atStart} onClick={props.onFirst}>
        第一页
      </button>
      <button type="button" disabled={!props.next} onClick={() => props.next && props.onNext(props.next)}>
        下一页
      </button>
    </nav>
  );
}

/** The state of a load: data once it came, or the error. */
export interface Loaded<T> {
  data?: T;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads with fn when deps change (and on reload); a stale answer is dropped. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, set] = useState<{ data?: T; error: unknown; loading: boolean }>({ error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    set((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && set({ data, error: null, loading: false }),
      (error) => live && set({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/**
 * Runs a change: busy while it runs, the error if it fails (for the
 * fields and the notice), and onDone after a success.
 */
export function useAction<A extends unknown[]>(fn: (...a: A) => Promise<unknown>, onDone?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const run = async (...a: A) => {
    setBusy(true);
    setError(null);
    setFailure(null);
    try {
      await fn(...a);
      onDone?.();
      return true;
    } catch (e) {
      setFailure(e);
      if (e instanceof ApiError) setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, failure, clear: () => { setError(null); setFailure(null); } };
}

export function Loading({ show }: { show: boolean }) {
  return show ? (
    <p class="loading" role="status">
      正在加载…
    </p>
  ) : null;
}
