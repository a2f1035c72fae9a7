// The signed-in identity. The token lives in this tab's sessionStorage
// only: never in a URL, a cookie or localStorage. The role and communities
// are read from the token's claims to show only what the role may do; the
// API decides what is allowed.
import { signal } from "./state";

export type Role =
  | "admin"
  | "bureau"
  | "clerk"
  | "enterprise"
  | "service"
  | "street"
  | "district"
  | "archivist";

export interface Session {
  token: string;
  subject: string;
  role: Role;
  communities: string[];
  street: string;
  district: string;
  enterprise: string;
  /** Expiry, seconds since the epoch (0 when the token has none). */
  exp: number;
}

const key = "socmgmt.session";

function decode(token: string): Session | null {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const c = JSON.parse(json) as Record<string, unknown>;
    if (typeof c.role !== "string") return null;
    return {
      token: token.trim(),
      subject: String(c.sub ?? ""),
      role: c.role as Role,
      communities: Array.isArray(c.communities) ? c.communities.map(String) : [],
      street: String(c.street ?? ""),
      district: String(c.district ?? ""),
      enterprise: String(c.enterprise ?? ""),
      exp: typeof c.exp === "number" ? c.exp : 0,
    };
  } catch {
    return null;
  }
}

function load(): Session | null {
  const t = sessionStorage.getItem(key);
  if (!t) return null;
  const s = decode(t);
  if (!s || (s.exp && s.exp * 1000 < Date.now())) {
    sessionStorage.removeItem(key);
    return null;
  }
  return s;
}

const current = signal<Session | null>(load());

/** The signed-in session, or null. */
export function session(): Session | null {
  return current.value;
}

/** Subscribes to sign-in and sign-out. */
export const sessionSignal = current;

/** Signs in with a token; returns an error message when it is not a token. */
export function signIn(token: string): string | null {
  const s = decode(token);
  if (!s) return "这不是有效的令牌";
  if (s.exp && s.exp * 1000 < Date.now()) return "令牌已过期";
  sessionStorage.setItem(key, s.token);
  current.value = s;
  return null;
}

export function signOut(): void {
  sessionStorage.removeItem(key);
  current.value = null;
}

/** True for the supervisors above communities (street office, district). */
export function isSupervisor(s: Session): boolean {
  return s.role === "street" || s.role === "district";
}
