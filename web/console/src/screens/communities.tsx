// The community a screen works on. A clerk of one community has no
// choice; a clerk of several picks one of theirs; street and district
// supervisors pick one of their area (or, where the API allows it, the
// whole area); bureau and admin pick any. The list comes from
// GET /v1/communities, narrowed to the supervisor's street or district.
import { useEffect } from "preact/hooks";
import { api, must, type Schemas } from "../api";
import type { Session } from "../session";
import { Field, useLoad } from "../ui";

type Community = Schemas["v1Community"];

/** Loads the communities the session may pick from (one call, up to 1000). */
export function useCommunities(s: Session) {
  const fixed = s.role === "clerk";
  return useLoad<Community[]>(async () => {
    if (fixed) {
      // A clerk's own communities, by name (a clerk has a handful).
      return Promise.all(
        s.communities.map(async (id) => {
          try {
            return must(await api.GET("/v1/communities/{id}", { params: { path: { id } } }));
          } catch {
            return { id, name: "" };
          }
        }),
      );
    }
    // The API's street and district filters take the names a community
    // carries; a supervisor's token names its area by division code, the
    // prefix of its communities' 12-digit codes.
    const r = must(await api.GET("/v1/communities", { params: { query: { pageSize: 1000 } } }));
    const area = s.role === "street" ? s.street : s.role === "district" ? s.district : "";
    return (r.communities ?? []).filter((c) => !area || (c.id ?? "").startsWith(area));
  }, [s.token]);
}

/**
 * A select of the communities (name="communityId"). allowArea adds the
 * empty choice "the whole area" for supervisors where the API lists an
 * area without a community; otherwise the first community is chosen once
 * the list came. Nothing is shown to a clerk of one community.
 */
export function CommunityPicker(props: {
  s: Session;
  value: string;
  onChange: (id: string) => void;
  allowArea?: boolean;
}) {
  const { s, value, onChange } = props;
  const list = useCommunities(s);
  const area = !!props.allowArea && (s.role === "street" || s.role === "district");
  const items = list.data ?? [];
  useEffect(() => {
    if (!value && !area && items.length > 0) onChange(items[0].id ?? "");
  }, [items.length, area]);
  if (s.role === "clerk" && s.communities.length <= 1) return null;
  if (list.error) {
    return (
      <p class="error-text" role="alert">
        社区列表加载失败：{(list.error as Error).message}
      </p>
    );
  }
  return (
    <Field
      label="社区"
      name="communityId"
      render={({ id }) => (
        <select id={id} name="communityId" value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          {area && <option value="">{s.role === "street" ? "本街道全部社区" : "本区全部社区"}</option>}
          {items.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name ? `${c.name}（${c.id}）` : c.id}
            </option>
          ))}
        </select>
      )}
    />
  );
}

/** Names already read in this tab, by retiree id (a name does not change between two loads). */
const knownNames = new Map<string, string>();

/**
 * Names of retirees by id, from their communities' roster pages
 * (GET /v1/retirees?communityId=..., masked numbers, 100 a call), at most
 * maxPages pages in all, never one read per retiree (a single read gives
 * the full number and is audited). An id not found is absent: show the id.
 */
export async function rosterNames(ids: string[], communities: string[], maxPages = 5): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const want = new Set<string>();
  for (const id of ids) {
    if (!id) continue;
    const n = knownNames.get(id);
    if (n) out.set(id, n);
    else want.add(id);
  }
  let pages = 0;
  for (const communityId of new Set(communities.filter(Boolean))) {
    let pageToken: string | undefined;
    while (want.size > 0 && pages < maxPages) {
      pages++;
      const r = must(await api.GET("/v1/retirees", { params: { query: { communityId, pageSize: 100, pageToken } } }));
      for (const x of r.retirees ?? []) {
        if (!x.id || !x.name) continue;
        knownNames.set(x.id, x.name);
        if (want.delete(x.id)) out.set(x.id, x.name);
      }
      pageToken = r.nextPageToken;
      if (!pageToken) break;
    }
  }
  return out;
}
