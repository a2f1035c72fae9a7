// 人员详情: one retiree. GET /v1/retirees/{id} gives status, residence,
// carers and flags (numbers shown masked); history, payments,
// certification and visits load in sections of their own, each with its
// own error, so that a refusal of one (a 403 from pension, say) leaves
// the rest. A clerk changes the flags (PATCH with the etag; the age flags
// are computed and not settable) and the status (:changeStatus with the
// day it took effect and the reason). A 403 or 404 on the retiree shows
// the API's message and nothing else.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, ifMatch, must, type Schemas } from "../api";
import { age, chinaToday, dateTime, entitlementNames, flagNames, managementNames, methodNames, named, residenceNames, settableFlags, statusNames, yuan } from "../labels";
import { href } from "../router";
import type { Session } from "../session";
import { Done, ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { categoryNames } from "./activities";
import { Flags, StatusBadge } from "./roster";

type Retiree = Schemas["v1Retiree"];
type Flag = Schemas["v1RetireeFlag"];
type Status = Schemas["v1RetireeStatus"];

const sexNames: Record<Schemas["v1Sex"], string> = { SEX_UNSPECIFIED: "", MALE: "男", FEMALE: "女" };

const relationNames: Record<Schemas["CarerRelation"], string> = {
  RELATION_UNSPECIFIED: "未知",
  SPOUSE: "配偶",
  CHILD: "子女",
  CHILD_IN_LAW: "女婿/儿媳",
  GRANDCHILD: "孙辈",
  SIBLING: "兄弟姐妹",
  OTHER_RELATIVE: "其他亲属",
  NEIGHBOUR: "邻居",
  CARER: "护理员",
  OTHER: "其他",
};

const changeNames: Record<Schemas["v1ChangeKind"], string> = {
  CHANGE_KIND_UNSPECIFIED: "变更",
  CREATED: "登记",
  UPDATED: "修改",
  TRANSFERRED: "迁移",
  DIED: "死亡",
  ASSIGNED: "分配社区",
  SNAPSHOT: "快照",
  SNAPSHOT_END: "快照结束",
  STATUS_CHANGED: "状态变更",
  TRANSFER_PROPOSED: "提出迁移",
  TRANSFER_DECLINED: "迁移被拒",
  TRANSFER_LAPSED: "迁移过期",
  MOVED_OUT_OF_CITY: "迁出本市",
  DEATH_REPORTED: "死亡报告",
  DEATH_REPORT_REJECTED: "死亡报告被驳回",
  DEATH_REVERSED: "死亡撤销",
};

const certStatusNames: Record<Schemas["v1CertificationStatus"], string> = {
  CERTIFICATION_STATUS_UNSPECIFIED: "未知",
  CURRENT: "已认证",
  DUE_SOON: "即将到期",
  OVERDUE: "已逾期",
};

const reasonNames: Record<Schemas["v1DecisionReason"], string> = {
  DECISION_REASON_UNSPECIFIED: "",
  NOT_CERTIFIED: "未按期认证",
  LOST_CONTACT: "失联",
  IMPRISONED: "服刑",
  DECEASED: "死亡",
  OTHER: "其他",
};

const paymentKindNames: Record<Schemas["v1PaymentKind"], string> = {
  PAYMENT_KIND_UNSPECIFIED: "",
  REGULAR: "按月发放",
  ARREARS: "补发",
  ADJUSTMENT: "调整",
};

const tierNames: Record<Schemas["v1RiskTier"], string> = {
  RISK_TIER_UNSPECIFIED: "未定",
  HIGH: "高风险（每周走访）",
  KEY: "重点（每月走访）",
  REGULAR: "一般（每季度走访）",
};

const visitMethodNames: Record<Schemas["v1VisitMethod"], string> = {
  VISIT_METHOD_UNSPECIFIED: "",
  HOME: "入户",
  PHONE: "电话",
  VIDEO: "视频",
  NEIGHBOUR: "邻里",
  ACTIVITY: "活动中",
  VOLUNTEER: "志愿者",
  VISIT_METHOD_OTHER: "其他",
};

const visitOutcomeNames: Record<Schemas["v1VisitOutcome"], string> = {
  VISIT_OUTCOME_UNSPECIFIED: "",
  WELL: "情况良好",
  NEEDS_HELP: "需要帮助",
  NO_CONTACT: "未联系上",
  FOUND_DECEASED: "发现已故",
};

/** Chinese names of the fields a history entry lists. */
const fieldNames: Record<string, string> = {
  name: "姓名",
  phone: "电话",
  residenceAddress: "居住地址",
  "residence.kind": "居住地类型",
  "residence.address": "居住地址",
  "residence.divisionCode": "居住地区划",
  "residence.country": "国家或地区",
  retirementDate: "退休日期",
  enterpriseCreditCode: "原单位",
  communityId: "所属社区",
  managementMode: "管理方式",
  status: "状态",
  statusEffectiveOn: "状态生效日期",
  flags: "特殊群体",
  carers: "家属与联系人",
  dateOfDeath: "死亡日期",
};

/** A history value in Chinese where it is an enum value (or a list of them). */
function historyValue(v: string | undefined): string {
  if (!v) return "（空）";
  const names = {
    ...statusNames,
    ...flagNames,
    ...managementNames,
    ...residenceNames,
    ...relationNames,
    "legally responsible": "法定监护/赡养人",
    "emergency contact": "紧急联系人",
  } as Record<string, string>;
  // Lists are "A,B"; carers are "name (RELATION, phone, legally
  // responsible, emergency contact); name (...)": each word is named.
  return v.replace(/[^,;()]+/g, (x) => {
    const k = x.trim();
    return names[k] ? x.replace(k, names[k]) : x;
  }).replace(/, ?/g, "、").replace(/\(/g, "（").replace(/\)/g, "）");
}

/** The statuses :changeStatus takes; deaths and moves out are recorded elsewhere. */
const changeableStatuses: Status[] = ["LIVING", "LOST_CONTACT", "IMPRISONED", "ABROAD"];

export function RetireeScreen({ s, id }: { s: Session; id: string }) {
  const r = useLoad(() => api.GET("/v1/retirees/{id}", { params: { path: { id } } }).then(must), [id]);
  const [done, setDone] = useState("");
  const changed = (text: string) => {
    setDone(text);
    r.reload();
  };
  if (!id) {
    return (
      <div data-screen="retirees">
        <Title>人员详情</Title>
        <p>请从人员名册中选择人员。</p>
      </div>
    );
  }
  const rt = r.data;
  return (
    <div data-screen="retirees">
      <Title>{rt ? `人员详情：${rt.name}` : "人员详情"}</Title>
      <p>
        <a href="#/roster">返回人员名册</a>
      </p>
      <Loading show={r.loading && !rt} />
      <ErrorNotice error={r.error} />
      <Done text={done} />
      {rt && (
        <>
          <StatusSection s={s} rt={rt} onChanged={changed} onReload={r.reload} />
          <ResidenceSection rt={rt} />
          <CarersSection rt={rt} />
          <HistorySection id={id} rev={rt.etag ?? ""} />
          <CertificationSection id={id} />
          <PaymentsSection id={id} />
          <ActivitiesSection id={id} />
          <VisitsSection id={id} />
        </>
      )}
    </div>
  );
}

function Section(props: { name: string; title: string; children: ComponentChildren }) {
  const hid = `sec-${props.name}`;
  return (
    <section data-section={props.name} class="panel retiree-section" aria-labelledby={hid}>
      <h2 id={hid} tabIndex={-1}>
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}

function StatusSection(props: { s: Session; rt: Retiree; onChanged: (t: string) => void; onReload: () => void }) {
  const { s, rt } = props;
  const [form, setForm] = useState<"" | "flags" | "status">("");
  const mayChange = s.role === "clerk" || s.role === "bureau" || s.role === "admin";
  const final = rt.status === "DECEASED" || rt.status === "MOVED_OUT";
  const done = (t: string) => {
    setForm("");
    props.onChanged(t);
    // The form is gone: the focus goes to the section's heading.
    document.getElementById("sec-status")?.focus();
  };
  return (
    <Section name="status" title="基本情况与状态">
      <dl class="facts">
        <dt>姓名</dt>
        <dd>{rt.name}</dd>
        <dt>性别</dt>
        <dd>{named(sexNames, rt.sex)}</dd>
        {/* The birth date with the masked number gives the full number
            back: it is shown only to a caller the API gave the full number. */}
        {rt.idNumber ? (
          <>
            <dt>出生日期</dt>
            <dd>
              {rt.birthDate}（{age(rt.birthDate)}）
            </dd>
          </>
        ) : (
          <>
            <dt>年龄</dt>
            <dd>{age(rt.birthDate)}</dd>
          </>
        )}
        <dt>身份证号</dt>
        <dd class="mono">{rt.idNumberMasked}</dd>
        <dt>电话</dt>
        <dd class="mono">{rt.phoneMasked || "—"}</dd>
        <dt>状态</dt>
        <dd>
          <StatusBadge status={rt.status} />
          {rt.statusEffectiveOn && `，自 ${rt.statusEffectiveOn} 起`}
          {rt.statusReason && `（原因：${rt.statusReason}）`}
          {rt.dateOfDeath && `，死亡日期 ${rt.dateOfDeath}`}
          {rt.movedOutDate && `，${rt.movedOutDate} 迁出本市`}
        </dd>
        <dt>特殊群体</dt>
        <dd>
          <Flags flags={rt.flags} />
        </dd>
        <dt>管理方式</dt>
        <dd>{named(managementNames, rt.managementMode)}</dd>
        <dt>所属社区</dt>
        <dd>{rt.communityId}</dd>
        <dt>退休日期</dt>
        <dd>{rt.retirementDate || "—"}</dd>
        <dt>原单位（统一社会信用代码）</dt>
        <dd class="mono">{rt.enterpriseCreditCode || "—"}</dd>
      </dl>
      {mayChange && !final && (
        <div class="row retiree-actions">
          <button type="button" data-action="edit-flags" aria-expanded={form === "flags"} onClick={() => setForm(form === "flags" ? "" : "flags")}>
            修改特殊群体
          </button>
          <button type="button" data-action="change-status" aria-expanded={form === "status"} onClick={() => setForm(form === "status" ? "" : "status")}>
            变更状态
          </button>
        </div>
      )}
      {/* keyed by the etag: a reload after a conflict makes the form anew from the record */}
      {form === "flags" && <FlagsForm key={rt.etag} rt={rt} onDone={done} onCancel={() => setForm("")} onReload={props.onReload} />}
      {form === "status" && <StatusForm key={rt.etag} rt={rt} onDone={done} onCancel={() => setForm("")} onReload={props.onReload} />}
    </Section>
  );
}

function FlagsForm(props: { rt: Retiree; onDone: (t: string) => void; onCancel: () => void; onReload: () => void }) {
  const { rt } = props;
  const [flags, setFlags] = useState<Flag[]>((rt.flags ?? []).filter((f) => settableFlags.includes(f)));
  const act = useAction(
    () => api.PATCH("/v1/retirees/{id}", { params: { path: { id: rt.id ?? "" } }, body: { flags }, headers: ifMatch(rt.etag) }),
    () => props.onDone("特殊群体已保存。"),
  );
  return (
    <form
      class="wr-form"
      aria-label="修改特殊群体"
      onSubmit={(e) => {
        e.preventDefault();
        act.run();
      }}
    >
      <fieldset>
        <legend>特殊群体（80岁、90岁以上由出生日期自动计算）</legend>
        {settableFlags.map((f) => (
          <label key={f} class="check">
            <input
              type="checkbox"
              name="flags"
              value={f}
              checked={flags.includes(f)}
              onChange={(e) => setFlags(e.currentTarget.checked ? [...flags, f] : flags.filter((x) => x !== f))}
            />{" "}
            {flagNames[f]}
          </label>
        ))}
      </fieldset>
      {act.error?.field("flags") && (
        <p class="error-text" role="alert">
          {act.error.field("flags")}
        </p>
      )}
      {!act.error?.field("flags") && <ErrorNotice error={act.failure} onReload={props.onReload} />}
      <div class="row">
        <button type="submit" class="primary" data-action="save-flags" disabled={act.busy}>
          保存
        </button>
        <button type="button" onClick={props.onCancel}>
          取消
        </button>
      </div>
    </form>
  );
}

function StatusForm(props: { rt: Retiree; onDone: (t: string) => void; onCancel: () => void; onReload: () => void }) {
  const { rt } = props;
  const [status, setStatus] = useState<Status>(rt.status === "LIVING" ? "LOST_CONTACT" : "LIVING");
  const [effectiveOn, setEffectiveOn] = useState(chinaToday());
  const [reason, setReason] = useState("");
  const act = useAction(
    () =>
      api.POST("/v1/retirees/{id}:changeStatus", {
        params: { path: { id: rt.id ?? "" } },
        body: { status, effectiveOn, reason },
        headers: ifMatch(rt.etag),
      }),
    () => props.onDone(`状态已变更为${statusNames[status]}。`),
  );
  const shown = ["status", "effectiveOn", "reason"].some((f) => act.error?.field(f));
  return (
    <form
      class="wr-form"
      aria-label="变更状态"
      onSubmit={(e) => {
        e.preventDefault();
        act.run();
      }}
    >
      <div class="row">
        <Field
          label="新状态"
          name="status"
          error={act.error}
          render={({ id, describedBy }) => (
            <select id={id} name="status" aria-describedby={describedBy} value={status} onChange={(e) => setStatus(e.currentTarget.value as Status)}>
              {changeableStatuses
                .filter((x) => x !== rt.status)
                .map((x) => (
                  <option key={x} value={x}>
                    {statusNames[x]}
                  </option>
                ))}
            </select>
          )}
        />
        <Field
          label="生效日期"
          name="effectiveOn"
          error={act.error}
          render={({ id, describedBy, invalid }) => (
            <input id={id} name="effectiveOn" type="date" required max={chinaToday()} aria-describedby={describedBy} aria-invalid={invalid ? "true" : undefined} value={effectiveOn} onInput={(e) => setEffectiveOn(e.currentTarget.value)} />
          )}
        />
        <Field
          label="原因"
          name="reason"
          error={act.error}
          render={({ id, describedBy, invalid }) => (
            <input id={id} name="reason" type="text" required maxLength={500} autoComplete="off" aria-describedby={describedBy} aria-invalid={invalid ? "true" : undefined} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          )}
        />
      </div>
      {!shown && <ErrorNotice error={act.failure} onReload={props.onReload} />}
      <div class="row">
        <button type="submit" class="primary" data-action="confirm-status" disabled={act.busy}>
          确认变更
        </button>
        <button type="button" onClick={props.onCancel}>
          取消
        </button>
      </div>
    </form>
  );
}

function ResidenceSection({ rt }: { rt: Retiree }) {
  const res = rt.residence;
  return (
    <Section name="residence" title="居住情况">
      <dl class="facts">
        <dt>居住地类型</dt>
        <dd>{res?.kind ? named(residenceNames, res.kind) : "未登记"}</dd>
        <dt>居住地址</dt>
        <dd>{res?.address || rt.residenceAddress || "—"}</dd>
        {res?.divisionCode && (
          <>
            <dt>居住地区划代码</dt>
            <dd>{res.divisionCode}</dd>
          </>
        )}
        {res?.country && (
          <>
            <dt>国家或地区</dt>
            <dd>{res.country}</dd>
          </>
        )}
      </dl>
    </Section>
  );
}

function CarersSection({ rt }: { rt: Retiree }) {
  const carers = rt.carers ?? [];
  return (
    <Section name="carers" title="家属与联系人">
      {carers.length === 0 ? (
        <p>未登记家属或联系人。</p>
      ) : (
        <table>
          <caption class="visually-hidden">家属与联系人</caption>
          <thead>
            <tr>
              <th scope="col">姓名</th>
              <th scope="col">关系</th>
              <th scope="col">电话</th>
              <th scope="col">法定监护/赡养人</th>
              <th scope="col">紧急联系人</th>
            </tr>
          </thead>
          <tbody>
            {carers.map((c, i) => (
              <tr key={i}>
                <td>{c.name}</td>
                <td>{named(relationNames, c.relation)}</td>
                <td class="mono">{c.phoneMasked || "—"}</td>
                <td>{c.legallyResponsible ? "是" : "否"}</td>
                <td>{c.emergencyContact ? "是" : "否"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

/** Page tokens of a section: the first page and the ones after. */
function usePages() {
  const [page, setPage] = useState<string[]>([""]);
  return {
    token: page[page.length - 1],
    pager: (next?: string) => <Pager next={next} atStart={page.length === 1} onFirst={() => setPage([""])} onNext={(t) => setPage([...page, t])} />,
  };
}

function HistorySection({ id, rev }: { id: string; rev: string }) {
  const p = usePages();
  const h = useLoad(() => api.GET("/v1/retirees/{id}/history", { params: { path: { id }, query: { pageSize: 20, pageToken: p.token || undefined } } }).then(must), [id, p.token, rev]);
  const entries = h.data?.entries ?? [];
  return (
    <Section name="history" title="变更记录">
      <Loading show={h.loading && !h.data} />
      <ErrorNotice error={h.error} />
      {h.data && entries.length === 0 && <p>没有变更记录。</p>}
      {entries.length > 0 && (
        <table>
          <caption class="visually-hidden">变更记录</caption>
          <thead>
            <tr>
              <th scope="col">时间</th>
              <th scope="col">事项</th>
              <th scope="col">内容</th>
              <th scope="col">原因</th>
              <th scope="col">经办</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e, i) => (
              <tr key={`${e.revision}-${i}`}>
                <td>{dateTime(e.changeTime)}</td>
                <td>{named(changeNames, e.kind)}</td>
                <td>
                  <ul class="changes">
                    {(e.changes ?? []).map((c, j) => (
                      <li key={j}>
                        {fieldNames[c.field ?? ""] ?? c.field}：{c.oldValue ? `${historyValue(c.oldValue)} → ` : ""}
                        {historyValue(c.newValue)}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{e.reason}</td>
                <td>{e.actor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {p.pager(h.data?.nextPageToken)}
    </Section>
  );
}

function CertificationSection({ id }: { id: string }) {
  const p = usePages();
  const ent = useLoad(() => api.GET("/v1/retirees/{retireeId}/entitlement", { params: { path: { retireeId: id } } }).then(must), [id]);
  const certs = useLoad(
    () => api.GET("/v1/retirees/{retireeId}/certifications", { params: { path: { retireeId: id }, query: { pageSize: 10, pageToken: p.token || undefined } } }).then(must),
    [id, p.token],
  );
  const e = ent.data;
  const c = e?.certification;
  const tone = c?.status === "OVERDUE" ? "bad" : c?.status === "DUE_SOON" ? "warn" : "ok";
  const list = certs.data?.certifications ?? [];
  return (
    <Section name="certification" title="资格认证与待遇">
      <Loading show={ent.loading && !e} />
      <ErrorNotice error={ent.error} />
      {e && (
        <dl class="facts">
          <dt>待遇状态</dt>
          <dd>
            {named(entitlementNames, e.state)}
            {e.stateSince && `（自 ${e.stateSince}）`}
            {e.reason && reasonNames[e.reason] && `，原因：${reasonNames[e.reason]}`}
          </dd>
          <dt>认证状态</dt>
          <dd>{c?.status ? <span class={`badge ${tone}`}>{named(certStatusNames, c.status)}</span> : "—"}</dd>
          <dt>上次认证</dt>
          <dd>
            {c?.lastCertifiedOn || e.lastCertifiedOn || "—"}
            {c?.lastChannel && `（${named(methodNames, c.lastChannel)}）`}
          </dd>
          <dt>下次认证截止</dt>
          <dd>{c?.dueOn || e.nextDueOn || "—"}</dd>
          {(e.backPayMonths ?? []).length > 0 && (
            <>
              <dt>待补发月份</dt>
              <dd>{(e.backPayMonths ?? []).join("、")}</dd>
            </>
          )}
        </dl>
      )}
      <h3>认证记录</h3>
      <ErrorNotice error={certs.error} />
      {certs.data && list.length === 0 && <p>没有认证记录。</p>}
      {list.length > 0 && (
        <table>
          <caption class="visually-hidden">认证记录</caption>
          <thead>
            <tr>
              <th scope="col">认证日期</th>
              <th scope="col">方式</th>
              <th scope="col">记录人</th>
              <th scope="col">记录时间</th>
            </tr>
          </thead>
          <tbody>
            {list.map((x, i) => (
              <tr key={i}>
                <td>{x.certifiedOn}</td>
                <td>{named(methodNames, x.method)}</td>
                <td>{x.recordedBy}</td>
                <td>{dateTime(x.recordTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {p.pager(certs.data?.nextPageToken)}
    </Section>
  );
}

/** "2026-12" minus n months. */
function monthsBefore(month: string, n: number): string {
  const [y, m] = month.split("-").map(Number);
  const t = y * 12 + (m - 1) - n;
  return `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, "0")}`;
}

/**
 * Payments by twelve-month windows, newest first: the API takes a month
 * range, so the pager's token is the last month of the window.
 */
function PaymentsSection({ id }: { id: string }) {
  const p = usePages();
  const toMonth = p.token || chinaToday().slice(0, 7);
  const fromMonth = monthsBefore(toMonth, 11);
  const pay = useLoad(() => api.GET("/v1/retirees/{retireeId}/payments", { params: { path: { retireeId: id }, query: { fromMonth, toMonth } } }).then(must), [id, toMonth]);
  const list = [...(pay.data?.payments ?? [])].reverse();
  return (
    <Section name="payments" title="养老金发放">
      <p>
        {fromMonth} 至 {toMonth}
      </p>
      <Loading show={pay.loading && !pay.data} />
      <ErrorNotice error={pay.error} />
      {pay.data && list.length === 0 && <p>该期间没有发放记录。</p>}
      {list.length > 0 && (
        <table>
          <caption class="visually-hidden">养老金发放记录</caption>
          <thead>
            <tr>
              <th scope="col">月份</th>
              <th scope="col">类别</th>
              <th scope="col">合计</th>
              <th scope="col">基础养老金</th>
              <th scope="col">个人账户</th>
              <th scope="col">过渡性</th>
              <th scope="col">其他</th>
              <th scope="col">发放日</th>
              <th scope="col">银行账号</th>
            </tr>
          </thead>
          <tbody>
            {list.map((x, i) => (
              <tr key={i}>
                <td>{x.month}</td>
                <td>{named(paymentKindNames, x.kind)}</td>
                <td class="num">{yuan(x.totalFen)}</td>
                <td class="num">{yuan(x.basicFen)}</td>
                <td class="num">{yuan(x.personalAccountFen)}</td>
                <td class="num">{yuan(x.transitionalFen)}</td>
                <td class="num">{yuan(x.otherFen)}</td>
                <td>{x.paidOn}</td>
                <td class="mono">{x.bankAccountMasked}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {p.pager(monthsBefore(fromMonth, 1) >= "1990-01" ? monthsBefore(fromMonth, 1) : undefined)}
    </Section>
  );
}

const registrationStateNames: Record<NonNullable<Schemas["v1Registration"]["state"]>, string> = {
  STATE_UNSPECIFIED: "未知",
  CONFIRMED: "已报名",
  WAITLISTED: "候补",
  CANCELLED: "已取消",
};

/** When a registration's activity next meets, or why it does not. */
function nextSession(x: Schemas["v1RetireeRegistration"]): string {
  if (x.activityState === "CANCELLED") return "活动已取消";
  if (!x.nextSessionStart) return "已结束";
  const end = x.nextSessionEnd ? dateTime(x.nextSessionEnd).slice(11) : "";
  return end ? `${dateTime(x.nextSessionStart)}–${end}` : dateTime(x.nextSessionStart);
}

/** The retiree's registrations for activities, the latest registered first. */
function ActivitiesSection({ id }: { id: string }) {
  const p = usePages();
  const regs = useLoad(
    () => api.GET("/v1/retirees/{retireeId}/registrations", { params: { path: { retireeId: id }, query: { pageSize: 10, pageToken: p.token || undefined } } }).then(must),
    [id, p.token],
  );
  const list = regs.data?.registrations ?? [];
  return (
    <Section name="activities" title="参加活动">
      <Loading show={regs.loading && !regs.data} />
      <ErrorNotice error={regs.error} />
      {regs.data && list.length === 0 && <p>没有活动报名记录。</p>}
      {list.length > 0 && (
        <table>
          <caption class="visually-hidden">活动报名记录</caption>
          <thead>
            <tr>
              <th scope="col">活动</th>
              <th scope="col">类别</th>
              <th scope="col">场地</th>
              <th scope="col">报名状态</th>
              <th scope="col">首场</th>
              <th scope="col">下一场</th>
              <th scope="col">出席</th>
              <th scope="col">报名时间</th>
            </tr>
          </thead>
          <tbody>
            {list.map((x) => {
              const r = x.registration ?? {};
              const state = r.state ?? "STATE_UNSPECIFIED";
              return (
                <tr key={r.activityId} data-id={r.activityId}>
                  <td>
                    <a href={href("activities", r.activityId)}>{x.activityTitle}</a>
                  </td>
                  <td>{named(categoryNames, x.category)}</td>
                  <td>{x.venueName}</td>
                  <td>
                    <span class={state === "CONFIRMED" ? "badge ok" : state === "WAITLISTED" ? "badge warn" : "badge"}>{registrationStateNames[state]}</span>
                    {r.activityCancelled && "（活动已取消）"}
                  </td>
                  <td>
                    {dateTime(x.firstSessionStart)}
                    {(x.sessionCount ?? 0) > 1 && `（共 ${x.sessionCount} 场）`}
                  </td>
                  <td>{nextSession(x)}</td>
                  <td>{(x.sessionsRecorded ?? 0) > 0 ? `${x.sessionsAttended ?? 0} / ${x.sessionsRecorded} 场` : "—"}</td>
                  <td>{dateTime(r.registerTime)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {p.pager(regs.data?.nextPageToken)}
    </Section>
  );
}

function VisitsSection({ id }: { id: string }) {
  const p = usePages();
  const prof = useLoad(() => api.GET("/v1/retirees/{retireeId}/careProfile", { params: { path: { retireeId: id } } }).then(must), [id]);
  const visits = useLoad(() => api.GET("/v1/visits", { params: { query: { retireeId: id, pageSize: 10, pageToken: p.token || undefined } } }).then(must), [id, p.token]);
  const c = prof.data;
  const list = visits.data?.visits ?? [];
  return (
    <Section name="visits" title="走访关爱">
      <ErrorNotice error={prof.error} />
      {c && (
        <dl class="facts">
          <dt>关爱等级</dt>
          <dd>
            {named(tierNames, c.tier)}
            {c.override ? "（人工调整）" : (c.derivedFrom ?? []).length > 0 && `（依据：${(c.derivedFrom ?? []).map((f) => flagNames[f as Flag] ?? f).join("、")}）`}
          </dd>
          <dt>下次走访截止</dt>
          <dd>{dateTime(c.nextVisitDue) || "—"}</dd>
          <dt>上次走访</dt>
          <dd>
            {dateTime(c.lastVisitTime) || "—"}
            {c.lastOutcome && visitOutcomeNames[c.lastOutcome] && `（${visitOutcomeNames[c.lastOutcome]}）`}
          </dd>
          {(c.failedContacts ?? 0) > 0 && (
            <>
              <dt>连续未联系上</dt>
              <dd>{c.failedContacts} 次</dd>
            </>
          )}
        </dl>
      )}
      <h3>走访记录</h3>
      <Loading show={visits.loading && !visits.data} />
      <ErrorNotice error={visits.error} />
      {visits.data && list.length === 0 && <p>没有走访记录。</p>}
      {list.length > 0 && (
        <table>
          <caption class="visually-hidden">走访记录</caption>
          <thead>
            <tr>
              <th scope="col">时间</th>
              <th scope="col">方式</th>
              <th scope="col">结果</th>
              <th scope="col">走访人</th>
              <th scope="col">情况</th>
            </tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <tr key={v.id}>
                <td>{dateTime(v.visitTime)}</td>
                <td>{named(visitMethodNames, v.method)}</td>
                <td>{named(visitOutcomeNames, v.outcome)}</td>
                <td>{v.visitor}</td>
                <td>{v.note}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {p.pager(visits.data?.nextPageToken)}
    </Section>
  );
}
