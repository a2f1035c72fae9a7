// 人员名册: the community's retirees. GET /v1/retirees filters by a part
// of the name, the ID number's last 4 characters (the end a masked number
// shows), flags (the computed age flags included), status, management
// mode, residence kind and age range, and answers masked ID and phone
// numbers only. The API walks a bounded number of records a page, so a
// rare name may answer an empty page with a token to go on with. The
// look-up by full ID number is a form of its own: POST
// /v1/retirees:lookup with the number in the body, opening the retiree's
// page; the number never reaches the address or the history.
import { useState } from "preact/hooks";
import { ApiError, api, download, must, type Schemas } from "../api";
import { age, chinaToday, flagNames, managementNames, named, residenceNames, statusNames } from "../labels";
import { href, navigate } from "../router";
import type { Session } from "../session";
import { ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { CommunityPicker } from "./communities";

type Retiree = Schemas["v1Retiree"];
type Flag = Schemas["v1RetireeFlag"];
type Status = Schemas["v1RetireeStatus"];

/** Every flag, the computed age flags first. */
const allFlags: Flag[] = [
  "AGED_80_PLUS",
  "AGED_90_PLUS",
  "LIVING_ALONE",
  "EMPTY_NEST",
  "DISABLED",
  "DEMENTIA",
  "BEREAVED_PARENT",
  "HARDSHIP",
  "SERIOUS_ILLNESS",
  "MODEL_WORKER",
  "VETERAN",
];

interface Search {
  query: string;
  idNumberTail: string;
  flags: Flag[];
  status: string;
  managementMode: string;
  residenceKind: string;
  minAge: string;
  maxAge: string;
}

const empty: Search = { query: "", idNumberTail: "", flags: [], status: "", managementMode: "", residenceKind: "", minAge: "", maxAge: "" };

/** A page of the API's answer. */
const pageSize = 50;

export function RosterScreen({ s }: { s: Session; id: string }) {
  const [community, setCommunity] = useState(s.role === "clerk" ? (s.communities[0] ?? "") : "");
  const [form, setForm] = useState<Search>(empty);
  const [applied, setApplied] = useState<Search>(empty);
  const [page, setPage] = useState<string[]>([""]);
  const token = page[page.length - 1];
  const waiting = (s.role === "bureau" || s.role === "admin" || s.communities.length > 1) && !community;
  const list = useLoad(() => (waiting ? Promise.resolve(undefined) : searchPage(community, applied, token)), [community, JSON.stringify(applied), token, waiting]);
  const submit = (e: Event) => {
    e.preventDefault();
    setApplied(form);
    setPage([""]);
  };
  return (
    <div data-screen="roster">
      <Title>人员名册</Title>
      <form class="panel roster-search" onSubmit={submit} aria-label="查询人员">
        <div class="row">
          <CommunityPicker
            s={s}
            value={community}
            allowArea
            onChange={(c) => {
              setCommunity(c);
              setPage([""]);
            }}
          />
          <Field
            label="姓名"
            name="name"
            hint="可输入姓名的一部分"
            error={list.error instanceof ApiError ? list.error : null}
            render={({ id, describedBy, invalid }) => (
              <input
                id={id}
                name="query"
                type="search"
                maxLength={20}
                autoComplete="off"
                aria-describedby={describedBy}
                aria-invalid={invalid ? "true" : undefined}
                value={form.query}
                onInput={(e) => setForm({ ...form, query: e.currentTarget.value })}
              />
            )}
          />
          <Field
            label="身份证后四位"
            name="idNumberTail"
            hint="末位可为X"
            error={list.error instanceof ApiError ? list.error : null}
            render={({ id, describedBy, invalid }) => (
              <input
                id={id}
                name="idNumberTail"
                type="text"
                inputMode="text"
                maxLength={4}
                size={6}
                autoComplete="off"
                spellcheck={false}
                class="mono"
                aria-describedby={describedBy}
                aria-invalid={invalid ? "true" : undefined}
                value={form.idNumberTail}
                onInput={(e) => setForm({ ...form, idNumberTail: e.currentTarget.value })}
              />
            )}
          />
          <EnumSelect label="状态" name="status" value={form.status} names={statusNames} skip="RETIREE_STATUS_UNSPECIFIED" onChange={(v) => setForm({ ...form, status: v })} />
          <EnumSelect label="管理方式" name="managementMode" value={form.managementMode} names={managementNames} skip="MANAGEMENT_MODE_UNSPECIFIED" onChange={(v) => setForm({ ...form, managementMode: v })} />
          <EnumSelect label="居住地" name="residenceKind" value={form.residenceKind} names={residenceNames} skip="KIND_UNSPECIFIED" onChange={(v) => setForm({ ...form, residenceKind: v })} />
          <AgeField label="最小年龄" name="minAge" value={form.minAge} onChange={(v) => setForm({ ...form, minAge: v })} error={list.error} />
          <AgeField label="最大年龄" name="maxAge" value={form.maxAge} onChange={(v) => setForm({ ...form, maxAge: v })} error={list.error} />
        </div>
        <fieldset class="roster-flags">
          <legend>特殊群体（同时具备所选各项）</legend>
          {allFlags.map((fl) => (
            <label key={fl}>
              <input
                type="checkbox"
                name="flags"
                value={fl}
                checked={form.flags.includes(fl)}
                onChange={(e) => setForm({ ...form, flags: e.currentTarget.checked ? [...form.flags, fl] : form.flags.filter((x) => x !== fl) })}
              />{" "}
              {flagNames[fl]}
            </label>
          ))}
        </fieldset>
        <div class="row">
          <button type="submit" class="primary" data-action="search">
            查询
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(empty);
              setApplied(empty);
              setPage([""]);
            }}
          >
            清空条件
          </button>
          <ExportButton community={community} />
        </div>
      </form>
      <Lookup />
      <ErrorNotice error={list.error} />
      <Loading show={list.loading} />
      {list.data && <Results rows={list.data.retirees} more={!!list.data.next} />}
      <Pager next={list.data?.next} atStart={page.length === 1} onFirst={() => setPage([""])} onNext={(t) => setPage([...page, t])} />
    </div>
  );
}

/**
 * One page of the roster with the search applied, every condition an
 * API filter. The name and the ID number's end go in the query string of
 * a same-origin request (neither is a full ID number, which goes in a
 * POST body only; the gateway logs no query); never in the address bar.
 * A lower-case x typed as the check character is sent as the API spells
 * it, X.
 */
async function searchPage(community: string, q: Search, token: string): Promise<{ retirees: Retiree[]; next?: string }> {
  const name = q.query.trim();
  const tail = q.idNumberTail.trim().toUpperCase();
  const query: Record<string, string | number | string[]> = { pageSize };
  if (community) query.communityId = community;
  if (name) query.name = name;
  if (tail) query.idNumberTail = tail;
  if (q.flags.length) query.flags = q.flags;
  if (q.status) query.status = q.status;
  if (q.managementMode) query.managementMode = q.managementMode;
  if (q.residenceKind) query.residenceKind = q.residenceKind;
  if (q.minAge) query.minAge = Number(q.minAge);
  if (q.maxAge) query.maxAge = Number(q.maxAge);
  if (token) query.pageToken = token;
  const r = must(await api.GET("/v1/retirees", { params: { query } }));
  return { retirees: r.retirees ?? [], next: r.nextPageToken || undefined };
}

function EnumSelect<K extends string>(props: { label: string; name: string; value: string; names: Record<K, string>; skip: K; onChange: (v: string) => void }) {
  return (
    <Field
      label={props.label}
      name={props.name}
      render={({ id }) => (
        <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
          <option value="">全部</option>
          {(Object.keys(props.names) as K[])
            .filter((k) => k !== props.skip)
            .map((k) => (
              <option key={k} value={k}>
                {props.names[k]}
              </option>
            ))}
        </select>
      )}
    />
  );
}

function AgeField(props: { label: string; name: string; value: string; onChange: (v: string) => void; error: unknown }) {
  return (
    <Field
      label={props.label}
      name={props.name}
      error={props.error instanceof ApiError ? props.error : null}
      render={({ id, describedBy, invalid }) => (
        <input
          id={id}
          name={props.name}
          type="number"
          min={0}
          max={150}
          inputMode="numeric"
          class="age"
          aria-describedby={describedBy}
          aria-invalid={invalid ? "true" : undefined}
          value={props.value}
          onInput={(e) => props.onChange(e.currentTarget.value)}
        />
      )}
    />
  );
}

/** more: the API has a next page, which it may have even for an empty one. */
function Results({ rows, more }: { rows: Retiree[]; more: boolean }) {
  if (rows.length === 0) return <p role="status">{more ? "本页没有找到符合条件的人员，可翻到下一页继续查找。" : "没有符合条件的人员。"}</p>;
  return (
    <table class="roster">
      <caption>查询结果（本页 {rows.length} 人）</caption>
      <thead>
        <tr>
          <th scope="col">姓名</th>
          <th scope="col">身份证号</th>
          <th scope="col">年龄</th>
          <th scope="col">电话</th>
          <th scope="col">特殊群体</th>
          <th scope="col">状态</th>
          <th scope="col">管理方式</th>
          <th scope="col">社区</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-id={r.id}>
            <td>
              <a href={href("retirees", r.id)} data-action="open">
                {r.name}
              </a>
            </td>
            <td class="mono">{r.idNumberMasked}</td>
            <td>{age(r.birthDate)}</td>
            <td class="mono">{r.phoneMasked}</td>
            <td>
              <Flags flags={r.flags} />
            </td>
            <td>
              <StatusBadge status={r.status} />
            </td>
            <td>{named(managementNames, r.managementMode)}</td>
            <td>{r.communityId}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A retiree's flags as badges (text, not colour, carries the meaning). */
export function Flags({ flags }: { flags?: Flag[] }) {
  if (!flags?.length) return <span>—</span>;
  return (
    <ul class="flags">
      {flags.map((f) => (
        <li key={f} class={f === "AGED_80_PLUS" || f === "AGED_90_PLUS" ? "badge" : "badge warn"}>
          {named(flagNames, f)}
        </li>
      ))}
    </ul>
  );
}

export function StatusBadge({ status }: { status?: Status }) {
  if (!status) return null;
  const tone = status === "LIVING" ? "ok" : status === "DECEASED" || status === "MOVED_OUT" ? "" : "bad";
  return <span class={`badge ${tone}`}>{named(statusNames, status)}</span>;
}

/** The look-up by full ID number: the number goes in a POST body only. */
function Lookup() {
  const [number, setNumber] = useState("");
  const act = useAction(async () => {
    const r = must(await api.POST("/v1/retirees:lookup", { body: { idNumber: number.trim() } }));
    setNumber("");
    if (r.id) navigate("retirees", r.id);
  });
  return (
    <form
      class="panel roster-lookup"
      aria-label="按身份证号查找"
      autoComplete="off"
      onSubmit={(e) => {
        e.preventDefault();
        act.run();
      }}
    >
      <div class="row">
        <Field
          label="按身份证号查找"
          name="idNumber"
          error={act.error}
          hint="输入完整的18位身份证号；号码只发送给服务器，不会出现在地址栏。"
          render={({ id, describedBy, invalid }) => (
            <input
              id={id}
              name="idNumber"
              type="text"
              inputMode="text"
              maxLength={18}
              autoComplete="off"
              spellcheck={false}
              required
              class="mono"
              aria-describedby={describedBy}
              aria-invalid={invalid ? "true" : undefined}
              value={number}
              onInput={(e) => setNumber(e.currentTarget.value)}
            />
          )}
        />
        <button type="submit" data-action="lookup" disabled={act.busy}>
          查找
        </button>
      </div>
      {!act.error?.field("idNumber") && <ErrorNotice error={act.failure} />}
    </form>
  );
}

/** The community's roster register (名册) as the API exports it. */
function ExportButton({ community }: { community: string }) {
  const act = useAction(() => download("/v1/exports/roster", { communityId: community, format: "xlsx" }, `roster-${community}-${chinaToday()}.xlsx`));
  if (!community) return null;
  return (
    <>
      <button type="button" data-action="export" disabled={act.busy} onClick={() => act.run()}>
        导出名册（Excel）
      </button>
      <ErrorNotice error={act.failure} />
    </>
  );
}
