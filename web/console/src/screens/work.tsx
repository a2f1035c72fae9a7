// 我的工作: the casework queue. GET /v1/workItems lists a community's
// items (a clerk's own communities; a supervisor's area or one community
// of it) with counts by clock on the first page; a clerk claims an item
// from the community's queue, releases it, waits on someone and resumes,
// and completes it with an outcome; a supervisor may also reassign. Every
// change sends the item's etag (If-Match) and a conflict says so plainly.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ifMatch, must, type Schemas } from "../api";
import { dateTime } from "../labels";
import { href } from "../router";
import { isSupervisor, type Session } from "../session";
import { Done, ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { CommunityPicker } from "./communities";

type Item = Schemas["v1WorkItem"];
type Kind = Schemas["v1WorkKind"];
type State = Schemas["v1WorkState"];
type Clock = Schemas["v1Clock"];
type Priority = Schemas["v1Priority"];
type WaitingOn = Schemas["v1WaitingOn"];

export const kindNames: Record<Kind, string> = {
  WORK_KIND_UNSPECIFIED: "未知",
  CERTIFICATION_DUE: "资格认证提醒",
  PAYMENT_ANOMALY: "待遇发放异常",
  DEATH_REPORT_VERIFICATION: "死亡报告核实",
  RECOVERY_FOLLOW_UP: "追回跟进",
  HANDOVER_STEP: "移交步骤",
  HANDOVER_TASK: "移交后续任务",
  CARE_VISIT: "定期走访",
  CRISIS_VISIT: "紧急探访",
  HARDSHIP: "困难帮扶",
  LOST_CONTACT_CONFIRMATION: "失联确认",
  COMPLAINT: "投诉求助",
  OTHER: "其他",
};

const stateNames: Record<State, string> = {
  WORK_STATE_UNSPECIFIED: "未知",
  OPEN: "待认领",
  IN_PROGRESS: "办理中",
  WAITING: "等待中",
  DONE: "已办结",
  CANCELLED: "已撤销",
};

const clockNames: Record<Clock, string> = {
  CLOCK_UNSPECIFIED: "",
  ON_TRACK: "按时",
  AT_RISK: "临期",
  BREACHED: "超时",
};
const clockBadge: Record<Clock, string> = { CLOCK_UNSPECIFIED: "", ON_TRACK: "ok", AT_RISK: "warn", BREACHED: "bad" };

const priorityNames: Record<Priority, string> = {
  PRIORITY_UNSPECIFIED: "",
  PRIORITY_LOW: "低",
  PRIORITY_NORMAL: "普通",
  PRIORITY_HIGH: "高",
  PRIORITY_URGENT: "紧急",
};

const waitingNames: Record<WaitingOn, string> = {
  WAITING_ON_UNSPECIFIED: "",
  FAMILY: "等待老人或家属（暂停计时）",
  OTHER_AGENCY: "等待其他部门",
  OTHER_PARTY: "等待其他方面",
};

/** Outcomes a clerk often writes, offered as suggestions; the API takes any text. */
const outcomeHints: Partial<Record<Kind, string[]>> = {
  CERTIFICATION_DUE: ["已提醒老人完成认证", "已协助老人完成认证", "老人已自行完成认证"],
  CARE_VISIT: ["已走访，老人情况良好", "已电话联系，情况良好"],
  CRISIS_VISIT: ["已上门探访，已妥善处置"],
  PAYMENT_ANOMALY: ["已核实，发放正常", "已核实，已报经办机构处理"],
  HARDSHIP: ["已落实帮扶措施"],
  COMPLAINT: ["已答复并解决"],
};
const defaultHints = ["已办结", "已核实处理"];

interface Filters {
  communityId: string;
  assignee: string;
  state: string;
  clock: string;
  kind: string;
}

const pageSize = 25;

export function WorkScreen({ s }: { s: Session; id: string }) {
  const supervisor = isSupervisor(s);
  const [f, setF] = useState<Filters>({ communityId: "", assignee: "", state: "", clock: "", kind: "" });
  const [page, setPage] = useState<string[]>([""]);
  // The API counts by clock on the first page; a next page shows the
  // counts its first page came with. They travel with the list's data, so
  // a stale answer, dropped by useLoad, cannot overwrite them.
  const shownCounts = useRef<Schemas["v1ClockCounts"] | undefined>();
  const [done, setDone] = useState("");
  const token = page[page.length - 1];
  const needCommunity = !supervisor && !(s.role === "clerk" && s.communities.length <= 1);
  const ready = !needCommunity || f.communityId !== "";
  const list = useLoad(async () => {
    if (!ready) return undefined;
    const query: Record<string, string | number> = { pageSize };
    for (const [k, v] of Object.entries(f)) if (v) query[k] = v;
    if (token) query.pageToken = token;
    const r = must(await api.GET("/v1/workItems", { params: { query } }));
    return { ...r, counts: token ? shownCounts.current : r.counts };
  }, [JSON.stringify(f), token, ready]);
  const counts = list.data?.counts;
  if (counts) shownCounts.current = counts;

  const set = (k: keyof Filters) => (v: string) => {
    setF({ ...f, [k]: v });
    setPage([""]);
    setDone("");
  };
  const [focusOn, setFocusOn] = useState<{ id: string; before: unknown } | null>(null);
  const changed = (text: string, id = "") => {
    setDone(text);
    setFocusOn({ id, before: list.data });
    list.reload();
  };
  // After a change the row's buttons change or the row leaves the list:
  // once the list came again, the focus goes to the row's first button,
  // else to the list's caption.
  useEffect(() => {
    if (!focusOn || list.loading || list.data === focusOn.before) return;
    const row = focusOn.id ? document.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(focusOn.id)}"] button`) : null;
    (row ?? document.querySelector<HTMLElement>("[data-screen=work] table caption"))?.focus();
    setFocusOn(null);
  }, [focusOn, list.loading, list.data]);
  return (
    <div data-screen="work">
      <Title>我的工作</Title>
      <form class="row work-filters" onSubmit={(e) => e.preventDefault()} aria-label="筛选">
        <CommunityPicker s={s} value={f.communityId} onChange={set("communityId")} allowArea />
        <Select label="经办人" name="assignee" value={f.assignee} onChange={set("assignee")} options={{ "": "全部", me: "我的" }} />
        <Select label="状态" name="state" value={f.state} onChange={set("state")} options={{ "": "全部", ...omit(stateNames, "WORK_STATE_UNSPECIFIED") }} />
        <Select label="时限" name="clock" value={f.clock} onChange={set("clock")} options={{ "": "全部", ...omit(clockNames, "CLOCK_UNSPECIFIED") }} />
        <Select label="事项类型" name="kind" value={f.kind} onChange={set("kind")} options={{ "": "全部", ...omit(kindNames, "WORK_KIND_UNSPECIFIED") }} />
      </form>
      <Counts counts={counts} />
      <Done text={done} />
      <ErrorNotice error={list.error} />
      <Loading show={list.loading} />
      {list.data && (
        <ItemTable
          s={s}
          items={list.data.items ?? []}
          area={supervisor && !f.communityId}
          onChanged={changed}
          onReload={() => {
            setDone("");
            list.reload();
          }}
        />
      )}
      <Pager
        next={list.data?.nextPageToken}
        atStart={page.length === 1}
        onFirst={() => setPage([""])}
        onNext={(t) => setPage([...page, t])}
      />
    </div>
  );
}

function omit<K extends string>(names: Record<K, string>, key: K): Record<string, string> {
  const out: Record<string, string> = { ...names };
  delete out[key];
  return out;
}

function Select(props: { label: string; name: string; value: string; onChange: (v: string) => void; options: Record<string, string> }) {
  return (
    <Field
      label={props.label}
      name={props.name}
      render={({ id }) => (
        <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
          {Object.entries(props.options).map(([v, t]) => (
            <option key={v} value={v}>
              {t}
            </option>
          ))}
        </select>
      )}
    />
  );
}

function Counts({ counts }: { counts?: Schemas["v1ClockCounts"] }) {
  const c = counts ?? {};
  const cells: [Clock, string | undefined, string][] = [
    ["ON_TRACK", c.onTrack, "ok"],
    ["AT_RISK", c.atRisk, "warn"],
    ["BREACHED", c.breached, "bad"],
  ];
  return (
    <section class="work-counts" aria-label="未办结事项按时限统计">
      {cells.map(([k, n, tone]) => (
        <p key={k} class={`count ${tone}`}>
          <span>{clockNames[k]}</span> <strong data-clock={k}>{Number(n ?? 0)}</strong>
        </p>
      ))}
      <p class="count">
        <span>其中等待中</span> <strong>{Number(c.waiting ?? 0)}</strong>
      </p>
    </section>
  );
}

type Open = { id: string; form: "complete" | "wait" | "release" | "reassign" } | null;

function ItemTable(props: { s: Session; items: Item[]; area: boolean; onChanged: (t: string, id: string) => void; onReload: () => void }) {
  const [open, setOpen] = useState<Open>(null);
  if (props.items.length === 0) return <p>没有符合条件的事项。</p>;
  return (
    <table class="work-items">
      <caption tabIndex={-1}>工作事项</caption>
      <thead>
        <tr>
          <th scope="col">事项</th>
          <th scope="col">对象</th>
          <th scope="col">截止时间</th>
          <th scope="col">时限</th>
          <th scope="col">优先级</th>
          <th scope="col">状态</th>
          <th scope="col">经办人</th>
          <th scope="col">操作</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((it) => (
          <ItemRows
            key={it.id}
            s={props.s}
            area={props.area}
            it={it}
            open={open && open.id === it.id ? open.form : null}
            setOpen={(form) => setOpen(form ? { id: it.id ?? "", form } : null)}
            onChanged={(t) => {
              setOpen(null);
              props.onChanged(t, it.id ?? "");
            }}
            onReload={() => {
              setOpen(null);
              props.onReload();
            }}
          />
        ))}
      </tbody>
    </table>
  );
}

type FormKind = NonNullable<Open>["form"];

function ItemRows(props: {
  s: Session;
  area: boolean;
  it: Item;
  open: FormKind | null;
  setOpen: (f: FormKind | null) => void;
  onChanged: (t: string) => void;
  onReload: () => void;
}) {
  const { s, it } = props;
  const mine = !!it.assignee && it.assignee === s.subject;
  const supervisor = isSupervisor(s);
  const active = it.state === "OPEN" || it.state === "IN_PROGRESS" || it.state === "WAITING";
  const subject = it.subject?.kind === "HANDOVER" ? it.subject.id : "";
  const about = it.retireeName || (it.summary ?? "").slice(0, 30);
  const label = `${kindNames[it.kind ?? "WORK_KIND_UNSPECIFIED"]}${about ? " " + about : ""}`;
  const claim = useAction(
    () => api.POST("/v1/workItems/{id}:claim", { params: { path: { id: it.id ?? "" } }, body: {}, headers: ifMatch(it.etag) }),
    () => props.onChanged(`已认领：${label}`),
  );
  const resume = useAction(
    () => api.POST("/v1/workItems/{id}:resume", { params: { path: { id: it.id ?? "" } }, body: {}, headers: ifMatch(it.etag) }),
    () => props.onChanged(`已恢复办理：${label}`),
  );
  const err = claim.failure || resume.failure;
  return (
    <>
      <tr data-id={it.id}>
        <td>
          <strong>{kindNames[it.kind ?? "WORK_KIND_UNSPECIFIED"] ?? it.kind}</strong>
          {it.summary && <div class="work-summary">{it.summary}</div>}
          {it.state === "WAITING" && it.waitingOn && (
            <div class="work-summary">
              {waitingNames[it.waitingOn]}
              {it.waitingReason && `：${it.waitingReason}`}
            </div>
          )}
          {it.outcome && <div class="work-summary">结果：{it.outcome}</div>}
        </td>
        <td>
          {it.retireeId ? <a href={href("retirees", it.retireeId)}>{it.retireeName || "查看人员"}</a> : subject ? <a href={href("handovers", subject)}>查看移交</a> : "—"}
          {props.area && <div class="work-summary">社区 {it.communityId}</div>}
        </td>
        <td>{dateTime(it.dueTime)}</td>
        <td>{it.clock && clockNames[it.clock] ? <span class={`badge ${clockBadge[it.clock]}`}>{clockNames[it.clock]}</span> : ""}</td>
        <td>{priorityNames[it.priority ?? "PRIORITY_UNSPECIFIED"]}</td>
        <td>{stateNames[it.state ?? "WORK_STATE_UNSPECIFIED"]}</td>
        <td>{it.assignee ? (mine ? "我" : it.assignee) : "未认领"}</td>
        <td class="actions">
          {it.state === "OPEN" && !it.assignee && s.role === "clerk" && (
            <button type="button" data-action="claim" aria-label={`认领 ${label}`} disabled={claim.busy} onClick={() => claim.run()}>
              认领
            </button>
          )}
          {active && (mine || supervisor) && (
            <button type="button" class="primary" data-action="complete" aria-label={`办结 ${label}`} aria-expanded={props.open === "complete"} onClick={() => props.setOpen(props.open === "complete" ? null : "complete")}>
              办结
            </button>
          )}
          {it.state === "IN_PROGRESS" && mine && (
            <button type="button" data-action="wait" aria-label={`等待 ${label}`} aria-expanded={props.open === "wait"} onClick={() => props.setOpen(props.open === "wait" ? null : "wait")}>
              等待
            </button>
          )}
          {it.state === "WAITING" && (mine || (!it.assignee && s.role === "clerk")) && (
            <button type="button" data-action="resume" aria-label={`恢复 ${label}`} disabled={resume.busy} onClick={() => resume.run()}>
              恢复
            </button>
          )}
          {active && it.assignee && (mine || supervisor) && (
            <button type="button" data-action="release" aria-label={`退回 ${label}`} aria-expanded={props.open === "release"} onClick={() => props.setOpen(props.open === "release" ? null : "release")}>
              退回
            </button>
          )}
          {active && supervisor && (
            <button type="button" data-action="reassign" aria-label={`改派 ${label}`} aria-expanded={props.open === "reassign"} onClick={() => props.setOpen(props.open === "reassign" ? null : "reassign")}>
              改派
            </button>
          )}
        </td>
      </tr>
      {err && (
        <tr class="work-form">
          <td colSpan={8}>
            <ErrorNotice error={err} onReload={props.onReload} />
          </td>
        </tr>
      )}
      {props.open && (
        <tr class="work-form">
          <td colSpan={8}>
            <ItemForm form={props.open} it={it} label={label} onCancel={() => props.setOpen(null)} onChanged={props.onChanged} onReload={props.onReload} />
          </td>
        </tr>
      )}
    </>
  );
}

function ItemForm(props: { form: FormKind; it: Item; label: string; onCancel: () => void; onChanged: (t: string) => void; onReload: () => void }) {
  const { form, it, label } = props;
  const [text, setText] = useState("");
  const [waitingOn, setWaitingOn] = useState<WaitingOn>("FAMILY");
  const id = it.id ?? "";
  const headers = ifMatch(it.etag);
  const act = useAction(async () => {
    const path = { id };
    if (form === "complete") return api.POST("/v1/workItems/{id}:complete", { params: { path }, body: { outcome: text }, headers });
    if (form === "wait") return api.POST("/v1/workItems/{id}:wait", { params: { path }, body: { waitingOn, reason: text }, headers });
    if (form === "release") return api.POST("/v1/workItems/{id}:release", { params: { path }, body: { reason: text }, headers });
    return api.POST("/v1/workItems:reassign", { body: { ids: [id], assignee: text.trim() } });
  }, () => props.onChanged(`${verbs[form]}：${label}`));
  const field = fields[form];
  const hints = outcomeHints[it.kind ?? "OTHER"] ?? defaultHints;
  return (
    <form
      class="wr-form"
      aria-label={`${verbs[form]} ${label}`}
      onSubmit={(e) => {
        e.preventDefault();
        act.run();
      }}
    >
      {form === "wait" && (
        <Field
          label="等待对象"
          name="waitingOn"
          error={act.error}
          render={({ id: cid, describedBy }) => (
            <select id={cid} name="waitingOn" aria-describedby={describedBy} value={waitingOn} onChange={(e) => setWaitingOn(e.currentTarget.value as WaitingOn)}>
              {(["FAMILY", "OTHER_AGENCY", "OTHER_PARTY"] as WaitingOn[]).map((w) => (
                <option key={w} value={w}>
                  {waitingNames[w]}
                </option>
              ))}
            </select>
          )}
        />
      )}
      <Field
        label={field.label}
        name={field.name}
        error={act.error}
        hint={field.hint}
        render={({ id: cid, describedBy, invalid }) => (
          <input
            id={cid}
            name={field.name}
            type="text"
            required={field.required}
            maxLength={500}
            list={form === "complete" ? `outcome-hints-${id}` : undefined}
            autoComplete="off"
            aria-describedby={describedBy}
            aria-invalid={invalid ? "true" : undefined}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        )}
      />
      {form === "complete" && (
        <datalist id={`outcome-hints-${id}`}>
          {hints.map((h) => (
            <option key={h} value={h} />
          ))}
        </datalist>
      )}
      <ErrorNotice error={act.error?.field(field.name) || act.error?.field("waitingOn") ? null : act.failure} onReload={props.onReload} />
      <div class="row">
        <button type="submit" class="primary" data-action={`confirm-${form}`} disabled={act.busy}>
          确认{verbs[form]}
        </button>
        <button type="button" onClick={props.onCancel}>
          取消
        </button>
      </div>
    </form>
  );
}

const verbs: Record<FormKind, string> = { complete: "办结", wait: "等待", release: "退回", reassign: "改派" };

const fields: Record<FormKind, { label: string; name: string; hint?: string; required: boolean }> = {
  complete: { label: "办理结果", name: "outcome", hint: "写明办理结果；不要写身份证号或手机号。", required: true },
  wait: { label: "原因", name: "reason", required: true },
  release: { label: "退回原因（可不填）", name: "reason", required: false },
  reassign: { label: "改派给（经办人账号）", name: "assignee", required: true },
};
