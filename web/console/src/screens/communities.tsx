// The community a screen works on. A clerk of one community has no
// choice; a clerk of several picks one of theirs; street and district
// supervisors pick one of their area (or, where the API allows it, the
// whole area); bureau and admin pick any. The list comes from
// GET /v1/communities, filtered to the supervisor's street or district.
import { useEffect } from "preact/hooks";
import { api, must, type Schemas } from "../api";
import type { Session } from "../session";
import { Field, useLoad } from "../ui";

type Community = Schemas["v1Community"];

/** Loads the communities the session may pick from (one call, up to 1000). */
export function useCommunities(s: Session) {
  const fixed = s.role === "clerk";
  return useLoad<Community[]>(async () => {
    if (fixed) return s.communities.map((id) => ({ id, name: "" }));
    const query: { pageSize: number; street?: string; district?: string } = { pageSize: 1000 };
    if (s.role === "street" && s.street) query.street = s.street;
    if (s.role === "district" && s.district) query.district = s.district;
    const r = must(await api.GET("/v1/communities", { params: { query } }));
    return r.communities ?? [];
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
