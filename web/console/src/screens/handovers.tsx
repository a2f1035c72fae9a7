// 移交接收: the handovers a community (or a supervisor's area) receives,
// each track with its next step; a handover's own page with the package,
// its tracks and timeline, and the receiving steps the caller's role may
// take (handover.proto): the clerk of a package addressed to one community
// while it holds every part, or the receiving unit's street or district
// supervisor. Each step sends the handover's etag; the API decides.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, must, type Schemas } from "../api";
import { chinaToday, dateTime, named, roleNames, yuan } from "../labels";
import { href } from "../router";
import type { Session } from "../session";
import { Done, ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { CommunityPicker, useCommunities } from "./certification";
import { rosterNames } from "./communities";

type Handover = Schemas["v1Handover"];
type Track = Schemas["v1Track"];
type TrackKind = Schemas["v1TrackKind"];
type State = Schemas["v1HandoverState"];
type Category = Schemas["v1ArchiveCategory"];

const stateNames: Record<State, string> = {
  STATE_UNSPECIFIED: "未知",
  DRAFT: "草稿",
  SUBMITTED: "已提交，待接收",
  RETURNED: "已退回企业",
  COMPLETED: "已办结",
  WITHDRAWN: "已撤回",
};

const kindNames: Record<Schemas["v1HandoverKind"], string> = {
  KIND_UNSPECIFIED: "移交协议",
  AGREEMENT: "移交协议",
  MONTHLY_NEW_RETIREES: "当月新退休人员",
};

const trackNames: Record<TrackKind, string> = {
  KIND_UNSPECIFIED: "其他",
  SOCIAL_INSURANCE: "社保关系",
  ARCHIVES: "人事档案",
  PARTY: "党组织关系",
  PREMISES: "活动场地",
  FUNDS: "移交资金",
};

const trackOrder: TrackKind[] = ["SOCIAL_INSURANCE", "ARCHIVES", "PARTY", "PREMISES", "FUNDS"];

const categoryNames: Record<Category, string> = {
  ARCHIVE_CATEGORY_UNSPECIFIED: "未知",
  RESUME: "履历材料",
  AUTOBIOGRAPHY: "自传材料",
  APPRAISAL: "鉴定、考核材料",
  EDUCATION_TITLES: "学历、学位、职称材料",
  POLITICAL_REVIEW: "政审材料",
  PARTY_LEAGUE: "党团材料",
  AWARDS: "奖励材料",
  DISCIPLINE: "处分材料",
  WAGES_APPOINTMENTS: "工资、任免、出国等材料",
  OTHER_MATERIALS: "其他材料",
};

const categories = Object.keys(categoryNames).filter((c) => c !== "ARCHIVE_CATEGORY_UNSPECIFIED") as Category[];

/** The materials every enterprise retiree's file holds (handover.proto). */
const requiredMaterials: Category[] = ["RESUME", "AUTOBIOGRAPHY", "APPRAISAL", "EDUCATION_TITLES", "WAGES_APPOINTMENTS"];

const dossierStateNames: Record<Schemas["v1DossierState"], string> = {
  STATE_UNSPECIFIED: "未知",
  PENDING: "待接收",
  RECEIVED: "已接收",
  MISSING: "缺失（已说明）",
};

const inspectionNames: Record<Schemas["PremisesInspection"], string> = {
  INSPECTION_UNSPECIFIED: "未知",
  NOT_INSPECTED: "待查验",
  ACCEPTED: "已接收",
  DECLINED: "不予接收",
};

const fundsItemNames: Record<Schemas["v1FundsItemKind"], string> = {
  KIND_UNSPECIFIED: "其他",
  SERVICE_FEES: "社区服务费",
  PENSION_OUTSIDE_POOLING: "统筹外项目",
  OTHER: "其他",
};

const obligationNames: Record<Schemas["v1ObligationKind"], string> = {
  KIND_UNSPECIFIED: "其他",
  PENSION_OUTSIDE_POOLING: "统筹外项目",
  MEDICAL_UNINSURED: "无医保人员医疗费",
  OTHER: "其他",
};

const actionNames: Record<string, string> = {
  CREATED: "创建",
  UPDATED: "修改",
  SUBMITTED: "提交",
  RETURNED: "退回企业",
  WITHDRAWN: "撤回",
  FUNDS_RECEIVED: "接收资金",
  ARCHIVES_RECEIVED: "接收档案",
  PREMISES_INSPECTED: "查验场地",
  COMPLETED: "办结",
  DELIVERED: "已送达各系统",
  DELIVERY_FAILED: "送达失败",
  ALLOCATED: "分配社区",
  ROSTER_VERIFIED: "核验花名册",
  PARTY_MEMBERS_SET: "申报党员",
  PARTY_TRANSFER_RECORDED: "转接组织关系",
  OBLIGATION_STOPPED: "停止支付义务",
  OBLIGATION_RESUMED: "恢复支付义务",
};

const receiverNames: Record<string, string> = { ...roleNames, archivist: "档案管理员" };

function num(v: string | number | undefined): number {
  return Number(v ?? 0) || 0;
}

/** What a track waits for, in the clerk's words. */
export function nextStep(t: Track, h: Handover): string {
  if (t.state === "NOT_APPLICABLE") return "不涉及";
  if (t.state === "COMPLETED") return "已完成";
  if (h.state === "DRAFT" || h.state === "RETURNED") return "待企业提交";
  if (h.state === "WITHDRAWN") return "已撤回";
  const done = `${num(t.settled)}/${num(t.items)}`;
  switch (t.kind) {
    case "SOCIAL_INSURANCE":
      return "待社保经办机构核验花名册";
    case "ARCHIVES":
      return `待接收档案（已办 ${done} 份）`;
    case "PARTY":
      return `待转接组织关系（已确认 ${done} 人）`;
    case "PREMISES":
      return `待查验场地（已查验 ${done} 处）`;
    case "FUNDS":
      return `待接收资金（已收 ${yuan(t.settled)}，共 ${yuan(t.items)}）`;
    default:
      return "待办理";
  }
}

function sortedTracks(h: Handover): Track[] {
  return [...(h.tracks ?? [])].sort((a, b) => trackOrder.indexOf(a.kind ?? "KIND_UNSPECIFIED") - trackOrder.indexOf(b.kind ?? "KIND_UNSPECIFIED"));
}

function stateBadge(st: State | undefined) {
  const cls = st === "COMPLETED" ? "ok" : st === "SUBMITTED" ? "warn" : st === "RETURNED" || st === "WITHDRAWN" ? "bad" : "";
  return <span class={`badge ${cls}`}>{named(stateNames, st)}</span>;
}

export function HandoversScreen({ s, id }: { s: Session; id: string }) {
  return id ? <HandoverPage key={id} s={s} id={id} /> : <HandoverList s={s} />;
}

// ---- the inbox

function HandoverList({ s }: { s: Session }) {
  const communities = useCommunities(s);
  const [state, setState] = useState<State | "">(s.role === "clerk" ? "SUBMITTED" : "");
  const [community, setCommunity] = useState("");
  const [enterprise, setEnterprise] = useState("");
  const [query, setQuery] = useState({ enterprise: "" });
  const [page, setPage] = useState<string | undefined>(undefined);
  const load = useLoad(
    async () =>
      must(
        await api.GET("/v1/handovers", {
          params: {
            query: {
              state: state || undefined,
              communityId: community || undefined,
              enterpriseCreditCode: query.enterprise || undefined,
              pageToken: page,
            },
          },
        }),
      ),
    [state, community, query, page],
  );
  const rows = load.data?.handovers ?? [];
  const options = communities.data ?? [];
  return (
    <div data-screen="handovers">
      <Title>移交接收</Title>
      <form
        class="row"
        aria-label="筛选"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(undefined);
          setQuery({ enterprise: enterprise.trim() });
        }}
      >
        <Field
          label="状态"
          name="state"
          error={load.error instanceof ApiError ? load.error : null}
          render={(a) => (
            <select id={a.id} name="state" value={state} onChange={(e) => { setPage(undefined); setState((e.target as HTMLSelectElement).value as State | ""); }}>
              <option value="">全部</option>
              {(["SUBMITTED", "RETURNED", "COMPLETED", "WITHDRAWN", "DRAFT"] as State[]).map((v) => (
                <option key={v} value={v}>
                  {stateNames[v]}
                </option>
              ))}
            </select>
          )}
        />
        {options.length > 1 && (
          <CommunityPicker s={s} options={options} value={community} allowAll onChange={(c) => { setPage(undefined); setCommunity(c); }} />
        )}
        <Field
          label="企业统一社会信用代码"
          name="enterpriseCreditCode"
          error={load.error instanceof ApiError ? load.error : null}
          render={(a) => (
            <input
              id={a.id}
              name="enterpriseCreditCode"
              value={enterprise}
              maxLength={18}
              aria-invalid={a.invalid}
              aria-describedby={a.describedBy}
              onInput={(e) => setEnterprise((e.target as HTMLInputElement).value)}
            />
          )}
        />
        <button type="submit" data-action="search">
          查询
        </button>
      </form>
      <ErrorNotice error={load.error} onReload={load.reload} />
      <Loading show={load.loading} />
      {!load.loading && !load.error && rows.length === 0 && <p>没有符合条件的移交。</p>}
      {rows.length > 0 && (
        <table aria-label="移交列表">
          <thead>
            <tr>
              <th scope="col">移交</th>
              <th scope="col">企业</th>
              <th scope="col">类型</th>
              <th scope="col">接收社区（单位）</th>
              <th scope="col">状态</th>
              <th scope="col">人数</th>
              <th scope="col">各项进度</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((h) => (
              <tr key={h.id} data-id={h.id}>
                <td>
                  <a data-action="open" href={href("handovers", h.id)}>
                    {h.plan?.agreementNo || h.id}
                  </a>
                  <div class="hint">{h.submitTime ? `提交于 ${dateTime(h.submitTime)}` : dateTime(h.createTime)}</div>
                </td>
                <td>{h.enterpriseCreditCode}</td>
                <td>{named(kindNames, h.kind)}</td>
                <td>{h.communityId || h.receiverCode}</td>
                <td>{stateBadge(h.state)}</td>
                <td>{h.retireeIds?.length ?? 0}</td>
                <td>
                  <ul class="tracks-brief">
                    {sortedTracks(h)
                      .filter((t) => t.state !== "NOT_APPLICABLE")
                      .map((t) => (
                        <li key={t.kind} data-track={t.kind}>
                          {named(trackNames, t.kind)}：{nextStep(t, h)}
                        </li>
                      ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={load.data?.nextPageToken} atStart={!page} onFirst={() => setPage(undefined)} onNext={setPage} />
    </div>
  );
}

// ---- one handover

/** The caller acts for the receiving unit of submitted h (handover.proto). */
function receives(s: Session, h: Handover): boolean {
  if (!h.submitTime || h.state !== "SUBMITTED") return false;
  if (s.role === "clerk") {
    const parts = [h.communityId ?? "", ...(h.allocations ?? []).map((a) => a.communityId ?? "")].filter(Boolean);
    return !!h.communityId && parts.every((c) => s.communities.includes(c));
  }
  const area = s.role === "street" ? s.street : s.role === "district" ? s.district : "";
  return !!area && (h.receiverCode ?? "").startsWith(area);
}

function receivesArchives(s: Session, h: Handover): boolean {
  if (receives(s, h)) return true;
  return s.role === "archivist" && h.state === "SUBMITTED" && !!s.district && (h.receiverCode ?? "").startsWith(s.district);
}

type Verb = "receive-funds" | "receive-archives" | "inspect-premises" | "complete" | "return";

const verbNames: Record<Verb, string> = {
  "receive-funds": "接收资金",
  "receive-archives": "接收档案",
  "inspect-premises": "查验场地",
  complete: "办结",
  return: "退回企业",
};

function trackOpen(h: Handover, k: TrackKind): boolean {
  return (h.tracks ?? []).some((t) => t.kind === k && t.state === "OPEN");
}

function verbsFor(s: Session, h: Handover): Verb[] {
  const v: Verb[] = [];
  const r = receives(s, h);
  if (r && trackOpen(h, "FUNDS")) v.push("receive-funds");
  if (receivesArchives(s, h) && trackOpen(h, "ARCHIVES")) v.push("receive-archives");
  if (r && trackOpen(h, "PREMISES")) v.push("inspect-premises");
  if (r) v.push("complete", "return");
  return v;
}

function HandoverPage({ s, id }: { s: Session; id: string }) {
  const load = useLoad(async () => must(await api.GET("/v1/handovers/{id}", { params: { path: { id } } })), [id]);
  const [fresh, setFresh] = useState<Handover | undefined>(undefined);
  const [open, setOpen] = useState<Verb | "">("");
  const [done, setDone] = useState("");
  const [tick, setTick] = useState(0);
  const h = fresh ?? load.data;
  const reload = () => {
    setFresh(undefined);
    setOpen("");
    load.reload();
    setTick((n) => n + 1);
  };
  const stepped = (next: Handover, text: string) => {
    setFresh(next);
    setOpen("");
    setDone(text);
    setTick((n) => n + 1);
  };
  return (
    <div data-screen="handover">
      <p>
        <a href={href("handovers")}>← 返回移交列表</a>
      </p>
      <Title>移交 {h?.plan?.agreementNo || id}</Title>
      <ErrorNotice error={load.error} onReload={reload} />
      <Loading show={load.loading && !h} />
      {h && (
        <>
          <Summary h={h} />
          <Tracks h={h} />
          <Actions s={s} h={h} open={open} setOpen={(v) => { setOpen(v); setDone(""); }} onStep={stepped} onReload={reload} done={done} />
          <Package h={h} />
          <Events id={id} tick={tick} />
        </>
      )}
    </div>
  );
}

function Summary({ h }: { h: Handover }) {
  const rv = h.rosterVerification;
  return (
    <section class="panel" aria-labelledby="ho-summary">
      <h2 id="ho-summary">概况</h2>
      <dl class="facts">
        <dt>状态</dt>
        <dd data-field="state" data-state={h.state}>
          {named(stateNames, h.state)}
        </dd>
        <dt>编号</dt>
        <dd>{h.id}</dd>
        <dt>类型</dt>
        <dd>{named(kindNames, h.kind)}</dd>
        <dt>移交企业</dt>
        <dd>{h.enterpriseCreditCode}</dd>
        <dt>接收单位</dt>
        <dd>{h.receiverCode}</dd>
        {h.communityId && (
          <>
            <dt>接收社区</dt>
            <dd>{h.communityId}</dd>
          </>
        )}
        <dt>退休人员</dt>
        <dd>
          {h.retireeIds?.length ?? 0} 人{h.plan?.retirees ? `（协议共 ${h.plan.retirees} 人）` : ""}
        </dd>
        <dt>提交时间</dt>
        <dd>{dateTime(h.submitTime) || "未提交"}</dd>
        {h.completeTime && (
          <>
            <dt>办结时间</dt>
            <dd>{dateTime(h.completeTime)}</dd>
          </>
        )}
        <dt>花名册核验</dt>
        <dd>{rv?.verifyTime ? `已核验（${dateTime(rv.verifyTime)}${rv.note ? `，${rv.note}` : ""}）` : "社保经办机构尚未核验"}</dd>
        {h.returnReason && (
          <>
            <dt>退回原因</dt>
            <dd>{h.returnReason}</dd>
          </>
        )}
        {h.plan && (
          <>
            <dt>计划</dt>
            <dd>
              {[
                h.plan.startOn && h.plan.finishBy ? `${h.plan.startOn} 至 ${h.plan.finishBy}` : "",
                h.plan.archiveVolumes ? `档案 ${h.plan.archiveVolumes} 卷` : "",
                h.plan.partyMembers ? `党员 ${h.plan.partyMembers} 人` : "",
                h.plan.assets ?? "",
                h.plan.emergencyPlanRef ? `应急预案 ${h.plan.emergencyPlanRef}` : "",
              ]
                .filter(Boolean)
                .join("；")}
            </dd>
          </>
        )}
        {h.delivery?.state && (
          <>
            <dt>办结后送达</dt>
            <dd>
              {h.delivery.delivered ?? 0}/{h.delivery.commands ?? 0}
              {h.delivery.lastError ? `（${h.delivery.lastError}）` : ""}
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Tracks({ h }: { h: Handover }) {
  return (
    <section aria-labelledby="ho-tracks">
      <h2 id="ho-tracks">各项进度</h2>
      <table aria-label="各项进度">
        <thead>
          <tr>
            <th scope="col">事项</th>
            <th scope="col">接收方</th>
            <th scope="col">状态</th>
            <th scope="col">下一步</th>
            <th scope="col">最后办理</th>
          </tr>
        </thead>
        <tbody>
          {sortedTracks(h).map((t) => (
            <tr key={t.kind} data-track={t.kind} data-state={t.state}>
              <th scope="row">{named(trackNames, t.kind)}</th>
              <td>{receiverNames[t.receiverRole ?? ""] ?? t.receiverRole}</td>
              <td>
                {t.state === "COMPLETED" ? (
                  <span class="badge ok">已完成</span>
                ) : t.state === "OPEN" ? (
                  <span class="badge warn">办理中</span>
                ) : (
                  <span class="badge">不涉及</span>
                )}
              </td>
              <td class="next-step">{nextStep(t, h)}</td>
              <td>{t.completeTime ? `${t.completedBy ?? ""} ${dateTime(t.completeTime)}` : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface StepProps {
  h: Handover;
  onStep: (h: Handover, text: string) => void;
  onReload: () => void;
  onCancel: () => void;
}

function noStepsText(s: Session, h: Handover): string {
  if (h.state !== "SUBMITTED") return `本移交${named(stateNames, h.state)}，没有可办理的步骤。`;
  if (s.role === "clerk") return "本移交由接收单位（街道或区）统一接收，您可查看本社区的部分。";
  return "您的角色不办理本移交的接收步骤。";
}

function Actions(props: {
  s: Session;
  h: Handover;
  open: Verb | "";
  setOpen: (v: Verb | "") => void;
  onStep: (h: Handover, text: string) => void;
  onReload: () => void;
  done: string;
}) {
  const verbs = verbsFor(props.s, props.h);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (props.done) heading.current?.focus();
  }, [props.done]);
  const step: StepProps = { h: props.h, onStep: props.onStep, onReload: props.onReload, onCancel: () => props.setOpen("") };
  return (
    <section aria-labelledby="ho-actions">
      <h2 id="ho-actions" ref={heading} tabIndex={-1}>
        办理
      </h2>
      <Done text={props.done} />
      {verbs.length === 0 ? (
        <p>{noStepsText(props.s, props.h)}</p>
      ) : (
        <div class="row" role="group" aria-label="可办理的步骤">
          {verbs.map((v) => (
            <button
              key={v}
              type="button"
              data-action={v}
              class={v === "return" ? "danger" : v === "complete" ? "primary" : ""}
              aria-expanded={props.open === v}
              onClick={() => props.setOpen(props.open === v ? "" : v)}
            >
              {verbNames[v]}
            </button>
          ))}
        </div>
      )}
      {props.open === "receive-funds" && <FundsForm {...step} />}
      {props.open === "receive-archives" && <ArchivesForm {...step} />}
      {props.open === "inspect-premises" && <PremisesForm {...step} />}
      {props.open === "complete" && <CompleteForm {...step} />}
      {props.open === "return" && <ReturnForm {...step} />}
    </section>
  );
}

const problemLabels: [string, string][] = [
  ["rosterVerification", "花名册核验"],
  ["funds", "资金"],
  ["dossiers", "档案"],
  ["missing", "缺失档案"],
  ["premises", "场地"],
  ["partyTransfers", "党组织关系"],
  ["allocations", "社区分配"],
];

/** The API's messages for fields the form has no control for. */
function Problems({ error, shown }: { error: ApiError | null; shown: string[] }) {
  if (!error) return null;
  const rest = Object.entries(error.fields).filter(([k]) => !shown.some((n) => k === n || k.endsWith("." + n)));
  if (rest.length === 0) return null;
  return (
    <ul class="problems" aria-label="未满足的条件">
      {rest.map(([k, msg]) => {
        const label = problemLabels.find(([p]) => k.startsWith(p))?.[1];
        return (
          <li key={k}>
            {label ?? k}：{msg}
          </li>
        );
      })}
    </ul>
  );
}

/** The form of a step: its title, fields, 确认 and 取消, errors in place. */
function StepForm(props: {
  title: string;
  act: ReturnType<typeof useAction>;
  shown: string[];
  onSubmit: () => void;
  onCancel: () => void;
  onReload: () => void;
  children: preact.ComponentChildren;
}) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>("input, select, textarea, button")?.focus();
  }, []);
  return (
    <form
      ref={ref}
      class="panel step-form"
      aria-label={props.title}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      <h3>{props.title}</h3>
      {props.children}
      <ErrorNotice error={props.act.failure} onReload={props.onReload} />
      <Problems error={props.act.error} shown={props.shown} />
      <div class="row">
        <button type="submit" class="primary" data-action="confirm" disabled={props.act.busy}>
          确认
        </button>
        <button type="button" onClick={props.onCancel}>
          取消
        </button>
      </div>
    </form>
  );
}

function fenOf(text: string): string {
  const n = Number(text.trim().replace(/[,，¥]/g, ""));
  return Number.isFinite(n) ? String(Math.round(n * 100)) : "0";
}

function FundsForm({ h, onStep, onReload, onCancel }: StepProps) {
  const outstanding = Math.max(0, num(h.funds?.amountFen) - num(h.funds?.receivedFen));
  const [amount, setAmount] = useState((outstanding / 100).toFixed(2));
  const [voucher, setVoucher] = useState("");
  const [on, setOn] = useState(chinaToday());
  let result: Handover | undefined;
  const act = useAction(async () => {
    result = must(
      await api.POST("/v1/handovers/{id}:receiveFunds", {
        params: { path: { id: h.id ?? "" } },
        body: { etag: h.etag, amountFen: fenOf(amount), voucherNo: voucher.trim(), receivedOn: on },
      }),
    );
  });
  const submit = async () => {
    if ((await act.run()) && result) onStep(result, `已接收资金 ${yuan(fenOf(amount))}（凭证 ${voucher.trim()}）。`);
  };
  return (
    <StepForm title="接收资金" act={act} shown={["amountFen", "voucherNo", "receivedOn"]} onSubmit={submit} onCancel={onCancel} onReload={onReload}>
      <p>
        应收 {yuan(h.funds?.amountFen)}，已收 {yuan(h.funds?.receivedFen)}，尚欠 {yuan(outstanding)}。
      </p>
      <div class="row">
        <Field
          label="本次金额（元）"
          name="amountFen"
          error={act.error}
          render={(a) => (
            <input id={a.id} name="amountFen" inputMode="decimal" value={amount} required aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
          )}
        />
        <Field
          label="凭证号"
          name="voucherNo"
          error={act.error}
          render={(a) => (
            <input id={a.id} name="voucherNo" value={voucher} required aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setVoucher((e.target as HTMLInputElement).value)} />
          )}
        />
        <Field
          label="到账日期"
          name="receivedOn"
          error={act.error}
          render={(a) => (
            <input id={a.id} name="receivedOn" type="date" value={on} max={chinaToday()} required aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setOn((e.target as HTMLInputElement).value)} />
          )}
        />
      </div>
    </StepForm>
  );
}

/** A dossier still to be received or explained. */
function dossierOpen(d: Schemas["v1Dossier"]): boolean {
  if (d.state === "PENDING") return true;
  return (d.missingMaterials ?? []).some((m) => !m.explanation);
}

function ArchivesForm({ h, onStep, onReload, onCancel }: StepProps) {
  const open = (h.dossiers ?? []).filter(dossierOpen);
  const [rid, setRid] = useState(open[0]?.retireeId ?? "");
  const d = (h.dossiers ?? []).find((x) => x.retireeId === rid);
  const [outcome, setOutcome] = useState<"RECEIVED" | "MISSING">("RECEIVED");
  const [volumes, setVolumes] = useState(String(d?.volumes ?? 1));
  const [whole, setWhole] = useState("");
  const initial = (x: typeof d): Record<string, string | null> => {
    const m: Record<string, string | null> = {};
    for (const c of requiredMaterials) if (!(x?.checklist ?? []).includes(c)) m[c] = "";
    for (const mm of x?.missingMaterials ?? []) if (mm.category) m[mm.category] = mm.explanation ?? "";
    return m;
  };
  const [missing, setMissing] = useState<Record<string, string | null>>(initial(d));
  const pick = (id: string) => {
    const x = (h.dossiers ?? []).find((y) => y.retireeId === id);
    setRid(id);
    setVolumes(String(x?.volumes ?? 1));
    setMissing(initial(x));
  };
  let result: Handover | undefined;
  const act = useAction(async () => {
    const materials = Object.entries(missing)
      .filter(([, v]) => v !== null)
      .map(([c, v]) => ({ category: c as Category, explanation: (v ?? "").trim() }));
    const body =
      outcome === "RECEIVED"
        ? { etag: h.etag, dossiers: [{ retireeId: rid, volumesReceived: Number(volumes) || 0, missingMaterials: materials }] }
        : { etag: h.etag, missing: [{ retireeId: rid, explanation: whole.trim() }] };
    result = must(await api.POST("/v1/handovers/{id}:receiveArchives", { params: { path: { id: h.id ?? "" } }, body }));
  });
  const submit = async () => {
    if ((await act.run()) && result) onStep(result, outcome === "RECEIVED" ? `已接收档案 ${d?.dossierNo ?? rid}。` : `已登记档案 ${d?.dossierNo ?? rid} 缺失及说明。`);
  };
  if (open.length === 0) {
    return (
      <StepForm title="接收档案" act={act} shown={[]} onSubmit={onCancel} onCancel={onCancel} onReload={onReload}>
        <p>您能看到的档案都已接收或说明。</p>
      </StepForm>
    );
  }
  return (
    <StepForm title="接收档案" act={act} shown={["retireeId", "volumesReceived", "explanation"]} onSubmit={submit} onCancel={onCancel} onReload={onReload}>
      <div class="row">
        <Field
          label="档案"
          name="retireeId"
          error={act.error}
          render={(a) => (
            <select id={a.id} name="retireeId" value={rid} onChange={(e) => pick((e.target as HTMLSelectElement).value)}>
              {open.map((x) => (
                <option key={x.retireeId} value={x.retireeId}>
                  {x.dossierNo}（{x.retireeId}，{x.volumes} 卷，{named(dossierStateNames, x.state)}）
                </option>
              ))}
            </select>
          )}
        />
        <Field
          label="结果"
          name="outcome"
          render={(a) => (
            <select id={a.id} name="outcome" value={outcome} onChange={(e) => setOutcome((e.target as HTMLSelectElement).value as "RECEIVED" | "MISSING")}>
              <option value="RECEIVED">档案到达</option>
              <option value="MISSING">整份缺失</option>
            </select>
          )}
        />
        {outcome === "RECEIVED" && (
          <Field
            label="到达卷数"
            name="volumesReceived"
            error={act.error}
            render={(a) => (
              <input id={a.id} name="volumesReceived" type="number" min={0} value={volumes} aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setVolumes((e.target as HTMLInputElement).value)} />
            )}
          />
        )}
      </div>
      {d && <p class="hint">清单所列材料：{(d.checklist ?? []).map((c) => named(categoryNames, c)).join("、") || "无"}</p>}
      {outcome === "RECEIVED" ? (
        <table aria-label="缺少的材料及书面说明">
          <thead>
            <tr>
              <th scope="col">材料</th>
              <th scope="col">缺少</th>
              <th scope="col">书面说明</th>
            </tr>
          </thead>
          <tbody>
            {categories.map((c) => (
              <tr key={c} data-category={c}>
                <th scope="row">
                  {categoryNames[c]}
                  {requiredMaterials.includes(c) && <span class="hint">（必备）</span>}
                </th>
                <td>
                  <input
                    type="checkbox"
                    name="missingMaterials"
                    value={c}
                    aria-label={`缺少${categoryNames[c]}`}
                    checked={missing[c] !== undefined && missing[c] !== null}
                    onChange={(e) => setMissing({ ...missing, [c]: (e.target as HTMLInputElement).checked ? (missing[c] ?? "") : null })}
                  />
                </td>
                <td>
                  {missing[c] !== undefined && missing[c] !== null && (
                    <input
                      name="missingMaterials.explanation"
                      data-category={c}
                      aria-label={`${categoryNames[c]}缺失的书面说明`}
                      value={missing[c] ?? ""}
                      onInput={(e) => setMissing({ ...missing, [c]: (e.target as HTMLInputElement).value })}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <Field
          label="缺失说明"
          name="explanation"
          error={act.error}
          render={(a) => (
            <textarea id={a.id} name="explanation" rows={3} value={whole} aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setWhole((e.target as HTMLTextAreaElement).value)} />
          )}
        />
      )}
    </StepForm>
  );
}

function PremisesForm({ h, onStep, onReload, onCancel }: StepProps) {
  const todo = (h.premises ?? []).filter((p) => p.inspection !== "ACCEPTED" && p.inspection !== "DECLINED");
  const choices = todo.length > 0 ? todo : (h.premises ?? []);
  const [pid, setPid] = useState(choices[0]?.id ?? "");
  const [accepted, setAccepted] = useState("true");
  const [notes, setNotes] = useState("");
  const [approval, setApproval] = useState("");
  const [community, setCommunity] = useState(h.allocations?.[0]?.communityId ?? "");
  const split = !h.communityId;
  let result: Handover | undefined;
  const act = useAction(async () => {
    result = must(
      await api.POST("/v1/handovers/{id}:inspectPremises", {
        params: { path: { id: h.id ?? "" } },
        body: {
          etag: h.etag,
          premisesId: pid,
          accepted: accepted === "true",
          notes: notes.trim(),
          ...(split ? { groupApprovalRef: approval.trim(), communityId: community.trim() } : {}),
        },
      }),
    );
  });
  const name = choices.find((p) => p.id === pid)?.name ?? pid;
  const submit = async () => {
    if ((await act.run()) && result) onStep(result, `已${accepted === "true" ? "接收" : "不予接收"}场地“${name}”。`);
  };
  return (
    <StepForm title="查验场地" act={act} shown={["premisesId", "accepted", "notes", "groupApprovalRef", "communityId"]} onSubmit={submit} onCancel={onCancel} onReload={onReload}>
      <div class="row">
        <Field
          label="场地"
          name="premisesId"
          error={act.error}
          render={(a) => (
            <select id={a.id} name="premisesId" value={pid} onChange={(e) => setPid((e.target as HTMLSelectElement).value)}>
              {choices.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}（{p.address}，{named(inspectionNames, p.inspection)}）
                </option>
              ))}
            </select>
          )}
        />
        <Field
          label="查验结论"
          name="accepted"
          error={act.error}
          render={(a) => (
            <select id={a.id} name="accepted" value={accepted} onChange={(e) => setAccepted((e.target as HTMLSelectElement).value)}>
              <option value="true">接收</option>
              <option value="false">不予接收</option>
            </select>
          )}
        />
      </div>
      {split && (
        <div class="row">
          <Field
            label="集团公司批复文号"
            name="groupApprovalRef"
            error={act.error}
            render={(a) => (
              <input id={a.id} name="groupApprovalRef" value={approval} aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setApproval((e.target as HTMLInputElement).value)} />
            )}
          />
          <Field
            label="场地划归社区"
            name="communityId"
            error={act.error}
            render={(a) => (
              <input id={a.id} name="communityId" value={community} aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setCommunity((e.target as HTMLInputElement).value)} />
            )}
          />
        </div>
      )}
      <Field
        label="查验意见"
        name="notes"
        error={act.error}
        render={(a) => (
          <textarea id={a.id} name="notes" rows={2} value={notes} aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setNotes((e.target as HTMLTextAreaElement).value)} />
        )}
      />
    </StepForm>
  );
}

function CompleteForm({ h, onStep, onReload, onCancel }: StepProps) {
  let result: Handover | undefined;
  const act = useAction(async () => {
    result = must(await api.POST("/v1/handovers/{id}:complete", { params: { path: { id: h.id ?? "" } }, body: { etag: h.etag } }));
  });
  const submit = async () => {
    if ((await act.run()) && result) onStep(result, "移交已办结：退休人员转入社区管理，接收后的联系卡、首次走访等任务将陆续生成。");
  };
  return (
    <StepForm title="办结移交" act={act} shown={[]} onSubmit={submit} onCancel={onCancel} onReload={onReload}>
      <p>办结后，本移交的 {h.retireeIds?.length ?? 0} 名退休人员转由社区管理，场地转为社区活动场所。各项须已完成，系统会逐项核对。</p>
    </StepForm>
  );
}

function ReturnForm({ h, onStep, onReload, onCancel }: StepProps) {
  const [reason, setReason] = useState("");
  let result: Handover | undefined;
  const act = useAction(async () => {
    result = must(await api.POST("/v1/handovers/{id}:return", { params: { path: { id: h.id ?? "" } }, body: { etag: h.etag, reason: reason.trim() } }));
  });
  const submit = async () => {
    if ((await act.run()) && result) onStep(result, "已退回企业。");
  };
  return (
    <StepForm title="退回企业" act={act} shown={["reason"]} onSubmit={submit} onCancel={onCancel} onReload={onReload}>
      <Field
        label="退回原因"
        name="reason"
        error={act.error}
        render={(a) => (
          <textarea id={a.id} name="reason" rows={3} value={reason} required aria-invalid={a.invalid} aria-describedby={a.describedBy} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
        )}
      />
    </StepForm>
  );
}

// ---- the package

const perPage = 20;

function Package({ h }: { h: Handover }) {
  const [from, setFrom] = useState(0);
  const ids = h.retireeIds ?? [];
  const dossiers = new Map((h.dossiers ?? []).map((d) => [d.retireeId ?? "", d]));
  const shown = ids.slice(from, from + perPage);
  // Names from the receiving communities' roster pages (masked), not one
  // read per retiree; a retiree not found there shows by id.
  const communities = [h.communityId ?? "", ...(h.allocations ?? []).map((a) => a.communityId ?? "")];
  const names = useLoad(() => rosterNames(shown, communities), [shown.join(","), communities.join(",")]);
  return (
    <section aria-labelledby="ho-package">
      <h2 id="ho-package">移交内容</h2>
      <table aria-label="退休人员及档案">
        <caption>
          退休人员及档案（{ids.length} 人{ids.length > perPage ? `，第 ${from + 1}–${Math.min(from + perPage, ids.length)} 人` : ""}）
        </caption>
        <thead>
          <tr>
            <th scope="col">退休人员</th>
            <th scope="col">档案编号</th>
            <th scope="col">卷数</th>
            <th scope="col">档案状态</th>
            <th scope="col">缺少的材料</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((rid) => {
            const d = dossiers.get(rid);
            return (
              <tr key={rid} data-id={rid}>
                <td>
                  <a href={href("retirees", rid)}>{names.data?.get(rid) || rid}</a>
                </td>
                <td>{d?.dossierNo ?? "—"}</td>
                <td>{d ? `${d.volumesReceived ?? 0}/${d.volumes ?? 0}` : "—"}</td>
                <td>{d ? named(dossierStateNames, d.state) : "无档案"}</td>
                <td>
                  {(d?.missingMaterials ?? []).map((m) => `${named(categoryNames, m.category)}：${m.explanation || "待书面说明"}`).join("；") ||
                    d?.explanation ||
                    "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {ids.length > perPage && (
        <nav class="pager" aria-label="人员翻页">
          <button type="button" disabled={from === 0} onClick={() => setFrom(Math.max(0, from - perPage))}>
            上一页
          </button>
          <button type="button" disabled={from + perPage >= ids.length} onClick={() => setFrom(from + perPage)}>
            下一页
          </button>
        </nav>
      )}
      <Funds h={h} />
      <Premises h={h} />
      <Obligations h={h} />
    </section>
  );
}

function Funds({ h }: { h: Handover }) {
  const f = h.funds;
  if (!f || (!num(f.amountFen) && !(f.items ?? []).length)) return <p>本移交不含资金。</p>;
  return (
    <>
      <h3>资金</h3>
      <p>
        应收 {yuan(f.amountFen)}
        {num(f.perRetireeStandardFen) > 0 && `（每人 ${yuan(f.perRetireeStandardFen)}）`}，已收 {yuan(f.receivedFen)}。
      </p>
      {(f.items ?? []).length > 0 && (
        <table aria-label="资金构成">
          <thead>
            <tr>
              <th scope="col">类别</th>
              <th scope="col">金额</th>
              <th scope="col">说明</th>
            </tr>
          </thead>
          <tbody>
            {(f.items ?? []).map((it, i) => (
              <tr key={i}>
                <td>{named(fundsItemNames, it.kind)}</td>
                <td>{yuan(it.amountFen)}</td>
                <td>{it.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(f.receipts ?? []).length > 0 && (
        <table aria-label="到账记录">
          <thead>
            <tr>
              <th scope="col">凭证号</th>
              <th scope="col">到账日期</th>
              <th scope="col">金额</th>
            </tr>
          </thead>
          <tbody>
            {(f.receipts ?? []).map((r, i) => (
              <tr key={i}>
                <td>{r.voucherNo}</td>
                <td>{r.receivedOn}</td>
                <td>{yuan(r.amountFen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Premises({ h }: { h: Handover }) {
  const ps = h.premises ?? [];
  if (ps.length === 0) return <p>本移交不含场地。</p>;
  return (
    <table aria-label="场地">
      <caption>场地</caption>
      <thead>
        <tr>
          <th scope="col">名称</th>
          <th scope="col">地址</th>
          <th scope="col">面积（平方米）</th>
          <th scope="col">容纳人数</th>
          <th scope="col">用途</th>
          <th scope="col">查验</th>
        </tr>
      </thead>
      <tbody>
        {ps.map((p) => (
          <tr key={p.id} data-premises={p.id}>
            <td>{p.name}</td>
            <td>{p.address}</td>
            <td>{p.areaSqm}</td>
            <td>{p.capacity}</td>
            <td>{p.use}</td>
            <td>
              {named(inspectionNames, p.inspection)}
              {p.inspectionNotes && `：${p.inspectionNotes}`}
              {p.venueId && `（活动场所 ${p.venueId}）`}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Obligations({ h }: { h: Handover }) {
  const os = h.obligations ?? [];
  if (os.length === 0) return null;
  return (
    <table aria-label="企业继续承担的费用">
      <caption>企业继续承担的费用</caption>
      <thead>
        <tr>
          <th scope="col">类别</th>
          <th scope="col">说明</th>
          <th scope="col">每月金额</th>
          <th scope="col">截止</th>
        </tr>
      </thead>
      <tbody>
        {os.map((o, i) => (
          <tr key={i}>
            <td>{named(obligationNames, o.kind)}</td>
            <td>{o.description}</td>
            <td>{yuan(o.monthlyAmountFen)}</td>
            <td>{o.until || "长期"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Events({ id, tick }: { id: string; tick: number }) {
  const [page, setPage] = useState<string | undefined>(undefined);
  const load = useLoad(async () => must(await api.GET("/v1/handovers/{id}/events", { params: { path: { id }, query: { pageToken: page } } })), [id, page, tick]);
  const events = load.data?.events ?? [];
  return (
    <section aria-labelledby="ho-events">
      <h2 id="ho-events">办理记录</h2>
      <ErrorNotice error={load.error} onReload={load.reload} />
      <Loading show={load.loading} />
      {events.length > 0 && (
        <table aria-label="办理记录">
          <thead>
            <tr>
              <th scope="col">时间</th>
              <th scope="col">办理人</th>
              <th scope="col">事项</th>
              <th scope="col">内容</th>
              <th scope="col">办理后状态</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.sequence} data-event={e.action}>
                <td>{dateTime(e.time)}</td>
                <td>
                  {e.actor}
                  {e.actorRole && `（${receiverNames[e.actorRole] ?? e.actorRole}）`}
                </td>
                <td>{actionNames[e.action ?? ""] ?? e.action}</td>
                <td>{e.detail}</td>
                <td>{named(stateNames, e.state)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager next={load.data?.nextPageToken} atStart={!page} onFirst={() => setPage(undefined)} onNext={setPage} />
    </section>
  );
}
