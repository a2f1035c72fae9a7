// Hash routing: "#/retirees/r-1f2e" → { name: "retirees", id: "r-1f2e" }.
// Only screen names and opaque ids go into the address; search terms and
// ID numbers stay in the page's memory.
import { signal, useSignal } from "./state";

export interface Route {
  /** The screen: "work", "roster", "retirees", ... ("" for the home). */
  name: string;
  /** The opaque id after the screen's name, or "". */
  id: string;
}

function parse(hash: string): Route {
  const [name = "", id = ""] = hash.replace(/^#\/?/, "").split("/");
  return { name: decodeURIComponent(name), id: decodeURIComponent(id) };
}

const current = signal<Route>(parse(location.hash));
addEventListener("hashchange", () => {
  current.value = parse(location.hash);
});

export function useRoute(): Route {
  return useSignal(current);
}

/** The address of a screen, for links: href("retirees", id). */
export function href(name: string, id = ""): string {
  return id ? `#/${name}/${encodeURIComponent(id)}` : `#/${name}`;
}

export function navigate(name: string, id = ""): void {
  location.hash = href(name, id);
}
