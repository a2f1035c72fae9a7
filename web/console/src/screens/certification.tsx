// 资格认证: the overdue and due-soon certifications of a community, each
// recorded in two clicks (认证, then 确认) with one of the clerk's
// channels, dated today in China. The lists are the API's, paged by its
// tokens; a certified retiree leaves the list at once.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, must, type Schemas } from "../api";
import { chinaToday, entitlementNames, flagNames, methodNames, named } from "../labels";
import { href } from "../router";
import { type Session, isSupervisor } from "../session";
import { Done, ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";

type Method = Schemas["v1CertificationMethod"];
type Due = Schemas["v1OverdueCertification"];

/** The channels a community clerk records (pension.proto). */
const clerkMethods: Method[] = ["IN_PERSON", "HOME_VISIT", "ACTIVITY"];
/** Every channel the API records for the bureau and admin (validate.go). */
const bureauMethods: Method[] = [...clerkMethods, "DATA_MATCH", "FACE_APP", "CONSULAR", "OTHER_REGION"];

/** The roles that may record a certification (pension's certifiers, and admin). */
function mayCertify(s: Session): boolean {
  return s.role === "clerk" || s.role === "bureau" || s.role === "admin";
}

function methodsOf(s: Session): Method[] {
  return s.role === "clerk" ? clerkMethods : bureauMethods;
}

export interface CommunityOption {
  id: string;
  name: string;
}

/**
 * The communities the caller works for: a clerk's own (named from the
 * registry when it answers), a street's or district's by the code its id
 * starts with, every one for the bureau and admin.
 */
export function useCommunities(s: Session) {
  return useLoad(async (): Promise<CommunityOption[]> => {
    const all: Schemas["v1Community"][] = [];
    let token: string | undefined;
    try {
      for (let i = 0; i < 20; i++) {
        const r = must(await api.GET("/v1/communities", { params: { query: { pageSize: 1000, pageToken: token } } }));
        all.push(...(r.communities ?? []));
        token = r.nextPageToken;
        if (!token) break;
      }
    } catch (e) {
      if (s.role !== "clerk") throw e;
    }
    const names = new Map(all.map((c) => [c.id ?? "", c.name ?? ""]));
    if (s.role === "clerk") return s.communities.map((id) => ({ id, name: names.get(id) || id }));
    const prefix = s.role === "street" ? s.street : s.role === "district" ? s.district : "";
    return all
      .filter((c) => (c.id ?? "").startsWith(prefix))
      .map((c) => ({ id: c.id ?? "", name: c.name ?? c.id ?? "" }));
  }, [s.token]);
}

/** A choice of community, shown when the caller has more than one. */
export function CommunityPicker(props: {
  s: Session;
  options: CommunityOption[];
  value: string;
  onChange: (id: string) => void;
  allowAll?: boolean;
}) {
  if (props.options.length <= 1 && !isSupervisor(props.s) && !props.allowAll) return null;
  return (
    <Field
      label="社区"
      name="communityId"
      render={(a) => (
        <select
          id={a.id}
          name="communityId"
          value={props.value}
          onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
        >
          {props.allowAll ? <option value="">全部</option> : !props.value && <option value="">请选择社区</option>}
          {props.options.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}（{c.id}）
            </option>
          ))}
        </select>
      )}
    />
  );
}

export function CertificationScreen({ s }: { s: Session; id: string }) {
  const communities = useCommunities(s);
  const [community, setCommunity] = useState(s.role === "clerk" ? (s.communities[0] ?? "") : "");
  const [done, setDone] = useState("");
  const options = communities.data ?? [];
  return (
    <div data-screen="certification">
      <Title>资格认证</Title>
      <p class="hint">
        逾期未认证和 30 天内到期的退休人员。点“认证”后选择方式并确认，即记录今天（{chinaToday()}）的认证。
      </p>
      <ErrorNotice error={communities.error} />
      <CommunityPicker s={s} options={options} value={community} onChange={(id) => { setCommunity(id); setDone(""); }} />
      <Done text={done} />
      {community ? (
        <>
          <DueList key={`o-${community}`} s={s} list="overdue" community={community} onCertified={setDone} />
          <DueList key={`d-${community}`} s={s} list="dueSoon" community={community} onCertified={setDone} />
        </>
      ) : (
        !communities.loading && <p>请先选择社区。</p>
      )}
    </div>
  );
}

const listTitles = { overdue: "逾期未认证", dueSoon: "30 天内到期" } as const;

/** One of the two lists, paged by the API's tokens. */
function DueList(props: { s: Session; list: "overdue" | "dueSoon"; community: string; onCertified: (text: string) => void }) {
  const [page, setPage] = useState<string | undefined>(undefined);
  const [gone, setGone] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState("");
  const load = useLoad(async () => {
    if (props.list === "overdue") {
      const r = must(await api.GET("/v1/certifications:overdue", { params: { query: { communityId: props.community, pageToken: page } } }));
      return { rows: r.overdue ?? [], next: r.nextPageToken };
    }
    const r = must(
      await api.GET("/v1/certifications:dueSoon", { params: { query: { communityId: props.community, withinDays: 30, pageToken: page } } }),
    );
    return { rows: r.dueSoon ?? [], next: r.nextPageToken };
  }, [props.community, page]);
  const rows = (load.data?.rows ?? []).filter((r) => !gone.has(r.retireeId ?? ""));
  const title = listTitles[props.list];
  const heading = useRef<HTMLHeadingElement>(null);
  const certified = (r: Due, method: Method) => {
    heading.current?.focus();
    setGone(new Set(gone).add(r.retireeId ?? ""));
    setOpen("");
    props.onCertified(`已记录 ${r.name ?? ""} 的${methodNames[method]}（${chinaToday()}）。`);
  };
  return (
    <section data-list={props.list} aria-labelledby={`list-${props.list}`}>
      <h2 id={`list-${props.list}`} ref={heading} tabIndex={-1}>
        {title}
        {!page && load.data && !load.data.next && `（${rows.length} 人）`}
      </h2>
      <ErrorNotice error={load.error} onReload={load.reload} />
      <Loading show={load.loading} />
      {!load.loading && !load.error && rows.length === 0 && <p>本页没有需要认证的人员。</p>}
      {rows.length > 0 && (
        <table aria-label={title}>
          <thead>
            <tr>
              <th scope="col">姓名</th>
              <th scope="col">身份证号</th>
              <th scope="col">电话</th>
              <th scope="col">上次认证</th>
              <th scope="col">到期日</th>
              <th scope="col">{props.list === "overdue" ? "逾期" : "剩余"}</th>
              <th scope="col">标记</th>
              <th scope="col">待遇</th>
              {mayCertify(props.s) && <th scope="col">操作</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <DueRow
                key={r.retireeId}
                s={props.s}
                r={r}
                list={props.list}
                open={open === r.retireeId}
                onOpen={() => setOpen(open === r.retireeId ? "" : (r.retireeId ?? ""))}
                onDone={(m) => certified(r, m)}
              />
            ))}
          </tbody>
        </table>
      )}
      <Pager
        next={load.data?.next}
        atStart={!page}
        onFirst={() => { setPage(undefined); setGone(new Set()); }}
        onNext={(t) => { setPage(t); setGone(new Set()); }}
      />
    </section>
  );
}

function DueRow(props: { s: Session; r: Due; list: "overdue" | "dueSoon"; open: boolean; onOpen: () => void; onDone: (m: Method) => void }) {
  const { r } = props;
  const days = r.daysOverdue ?? 0;
  return (
    <>
      <tr data-id={r.retireeId}>
        <td>
          <a href={href("retirees", r.retireeId)}>{r.name}</a>
        </td>
        <td>{r.idNumberMasked}</td>
        <td>{r.phoneMasked || "—"}</td>
        <td>
          {r.lastCertifiedOn}
          {r.lastChannel && <span class="cert-channel">{named(methodNames, r.lastChannel)}</span>}
        </td>
        <td>{r.dueOn}</td>
        <td>
          {props.list === "overdue" ? (
            <span class="badge bad">逾期 {days} 天</span>
          ) : (
            <span class="badge warn">还有 {Math.max(0, -days)} 天</span>
          )}
        </td>
        <td>{(r.flags ?? []).map((f) => named(flagNames, f)).join("、") || "—"}</td>
        <td>
          {r.entitlement && r.entitlement !== "ACTIVE" ? (
            <span class="badge bad">{named(entitlementNames, r.entitlement)}</span>
          ) : (
            named(entitlementNames, r.entitlement)
          )}
        </td>
        {mayCertify(props.s) && (
        <td>
          <button type="button" data-action="certify" aria-expanded={props.open} aria-label={`为 ${r.name ?? ""} 记录认证`} onClick={props.onOpen}>
            认证
          </button>
        </td>
        )}
      </tr>
      {props.open && (
        <tr class="inline-form">
          <td colSpan={9}>
            <CertifyForm methods={methodsOf(props.s)} r={r} onDone={props.onDone} onCancel={props.onOpen} />
          </td>
        </tr>
      )}
    </>
  );
}

/** The second click: the channel (IN_PERSON preselected) and 确认. */
function CertifyForm(props: { methods: Method[]; r: Due; onDone: (m: Method) => void; onCancel: () => void }) {
  const [method, setMethod] = useState<Method>("IN_PERSON");
  const ref = useRef<HTMLSelectElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const act = useAction(() =>
    api.POST("/v1/retirees/{retireeId}/certifications", {
      params: { path: { retireeId: props.r.retireeId ?? "" } },
      body: { method, certifiedOn: chinaToday() },
    }),
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    if (await act.run()) props.onDone(method);
  };
  const dateError = act.error?.field("certifiedOn");
  return (
    <form class="row" onSubmit={submit} aria-label={`记录 ${props.r.name ?? ""} 的认证`}>
      <Field
        label="认证方式"
        name="method"
        error={act.error}
        render={(a) => (
          <select
            ref={ref}
            id={a.id}
            name="channel"
            value={method}
            aria-invalid={a.invalid}
            aria-describedby={a.describedBy}
            onChange={(e) => setMethod((e.target as HTMLSelectElement).value as Method)}
          >
            {props.methods.map((m) => (
              <option key={m} value={m}>
                {methodNames[m]}
              </option>
            ))}
          </select>
        )}
      />
      <span class="cert-date">认证日期：{chinaToday()}</span>
      <button type="submit" class="primary" data-action="confirm-certify" disabled={act.busy}>
        确认
      </button>
      <button type="button" onClick={props.onCancel}>
        取消
      </button>
      {dateError && <p class="error-text" role="alert">认证日期：{dateError}</p>}
      <ErrorNotice error={act.failure} />
    </form>
  );
}
