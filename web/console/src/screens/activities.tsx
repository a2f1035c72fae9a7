// 社区活动: a month calendar of a community's venues, creating a one-off or
// weekly activity with the venue's clash shown in place, and an activity's
// page with its registrations, waiting list and attendance on the day.
// The activity API keeps no etag (its changes are single-step commands
// checked by the service), so nothing here has one to send.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, must, type Schemas } from "../api";
import { chinaToday, dateTime, named } from "../labels";
import { href } from "../router";
import type { Session } from "../session";
import { Done, ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { CommunityPicker, rosterNames } from "./communities";

type Occurrence = Schemas["v1Occurrence"];
type Activity = Schemas["v1Activity"];
type Registration = Schemas["v1Registration"];
type Category = Schemas["v1Category"];

export const categoryNames: Record<Category, string> = {
  CATEGORY_UNSPECIFIED: "未分类",
  CULTURE: "文化",
  SPORTS: "体育",
  HEALTH: "健康",
  EDUCATION: "学习",
  VOLUNTEER: "志愿服务",
  OTHER: "其他",
};

const stateNames: Record<NonNullable<Activity["state"]>, string> = {
  STATE_UNSPECIFIED: "未知",
  SCHEDULED: "按计划举行",
  CANCELLED: "已取消",
};

const weekdays = ["一", "二", "三", "四", "五", "六", "日"];
const hour = 3600_000;
const zone = "Asia/Shanghai";

/** A time as RFC 3339 in China time: 2026-12-01T09:00:00+08:00. */
export function chinaISO(ms: number): string {
  return new Date(ms + 8 * hour).toISOString().slice(0, 19) + "+08:00";
}

/** The China date of a time, YYYY-MM-DD. */
function chinaDate(t: string | undefined): string {
  return t ? new Date(t).toLocaleDateString("sv-SE", { timeZone: zone }) : "";
}

/** The China time of day of a time, HH:MM. */
function chinaClock(t: string | undefined): string {
  return t ? new Date(t).toLocaleTimeString("zh-CN", { timeZone: zone, hour12: false, hour: "2-digit", minute: "2-digit" }) : "";
}

function shiftMonth(ym: string, n: number): string {
  const [y, m] = ym.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 7);
}

/** The weeks of a month, Monday first; days outside it are "". */
export function monthWeeks(ym: string): string[][] {
  const [y, m] = ym.split("-").map(Number);
  const first = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const cells: string[] = Array(first).fill("");
  for (let d = 1; d <= days; d++) cells.push(`${ym}-${String(d).padStart(2, "0")}`);
  while (cells.length % 7) cells.push("");
  const weeks: string[][] = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return weeks;
}

/** Every occurrence in [from, to) of a community or venue, all pages (at most 20). */
async function allOccurrences(query: { communityId?: string; venueId?: string; from: string; to: string }): Promise<Occurrence[]> {
  const out: Occurrence[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 20; i++) {
    const r = must(await api.GET("/v1/activities", { params: { query: { ...query, pageSize: 500, pageToken } } }));
    out.push(...(r.occurrences ?? []));
    pageToken = r.nextPageToken;
    if (!pageToken) break;
  }
  return out;
}

/** The longest span the API lists at once (activity's maxListSpan). */
const maxSpan = 366 * 24 * hour;

/** Every occurrence of a venue in [from, to) ms, asked in spans of at most 366 days. */
async function occurrencesBetween(venueId: string, from: number, to: number): Promise<Occurrence[]> {
  const seen = new Map<string, Occurrence>();
  for (let a = from; a < to; a += maxSpan) {
    for (const o of await allOccurrences({ venueId, from: chinaISO(a), to: chinaISO(Math.min(to, a + maxSpan)) })) {
      seen.set(`${o.activityId}-${o.number}`, o);
    }
  }
  return [...seen.values()];
}

/** Creating, cancelling, registering and attendance are the clerk's (the activity service's managers) and admin's. */
function mayManage(s: Session): boolean {
  return s.role === "clerk" || s.role === "admin";
}

export function ActivitiesScreen({ s, id }: { s: Session; id: string }) {
  if (id) return <ActivityPage s={s} id={id} />;
  return <CalendarScreen s={s} />;
}

function CalendarScreen({ s }: { s: Session }) {
  const [community, setCommunity] = useState(s.role === "clerk" ? (s.communities[0] ?? "") : "");
  return (
    <div data-screen="activities">
      <Title>社区活动</Title>
      <CommunityPicker s={s} value={community} onChange={setCommunity} />
      {community && <CommunityCalendar key={community} s={s} communityId={community} />}
    </div>
  );
}

function CommunityCalendar({ s, communityId }: { s: Session; communityId: string }) {
  const [month, setMonth] = useState(chinaToday().slice(0, 7));
  const [venueId, setVenueId] = useState("");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState("");
  const venues = useLoad(
    async () => must(await api.GET("/v1/venues", { params: { query: { communityId, pageSize: 100 } } })).venues ?? [],
    [communityId],
  );
  const occ = useLoad(
    () =>
      allOccurrences({
        communityId,
        venueId: venueId || undefined,
        from: `${month}-01T00:00:00+08:00`,
        to: `${shiftMonth(month, 1)}-01T00:00:00+08:00`,
      }),
    [communityId, venueId, month],
  );
  const venueName = (v: string) => venues.data?.find((x) => x.id === v)?.name ?? v;
  // After a creation the form is gone: the focus goes to the notice.
  const notice = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (created) notice.current?.focus();
  }, [created]);
  return (
    <>
      <div class="row">
        <Field
          label="场地"
          name="venueId"
          render={({ id }) => (
            <select id={id} name="venueId" value={venueId} onChange={(e) => setVenueId(e.currentTarget.value)}>
              <option value="">全部场地</option>
              {(venues.data ?? []).map((v) => (
                <option key={v.id} value={v.id}>
                  {v.name}（{v.capacity}人）
                </option>
              ))}
            </select>
          )}
        />
        {mayManage(s) && (
          <button type="button" class="primary" data-action="new-activity" aria-expanded={creating} onClick={() => { setCreating(!creating); setCreated(""); }}>
            新建活动
          </button>
        )}
      </div>
      <ErrorNotice error={venues.error} />
      <div ref={notice} tabIndex={-1}>
        <Done text={created} />
      </div>
      {creating && (
        <CreateActivity
          communityId={communityId}
          venues={venues.data ?? []}
          venueId={venueId}
          onCreated={(a) => {
            setCreating(false);
            setCreated(`已创建活动“${a.title}”（${dateTime(a.startTime)} 起）。`);
            setMonth(chinaDate(a.startTime).slice(0, 7));
            occ.reload();
          }}
        />
      )}
      <nav class="row cal-nav" aria-label="切换月份">
        <button type="button" data-action="previous-month" onClick={() => setMonth(shiftMonth(month, -1))}>
          上个月
        </button>
        <button type="button" data-action="this-month" onClick={() => setMonth(chinaToday().slice(0, 7))}>
          本月
        </button>
        <button type="button" data-action="next-month" onClick={() => setMonth(shiftMonth(month, 1))}>
          下个月
        </button>
      </nav>
      <p class="visually-hidden" role="status">
        {occ.loading ? "" : `已显示 ${month.slice(0, 4)}年${Number(month.slice(5))}月，共 ${occ.data?.length ?? 0} 场活动`}
      </p>
      <ErrorNotice error={occ.error} />
      <Loading show={occ.loading} />
      <MonthTable month={month} occurrences={occ.data ?? []} venueName={venueName} />
    </>
  );
}

function MonthTable(p: { month: string; occurrences: Occurrence[]; venueName: (id: string) => string }) {
  const byDay = new Map<string, Occurrence[]>();
  for (const o of p.occurrences) {
    const d = chinaDate(o.startTime);
    byDay.set(d, [...(byDay.get(d) ?? []), o]);
  }
  const [y, m] = p.month.split("-");
  const today = chinaToday();
  return (
    <table class="calendar" data-calendar={p.month}>
      <caption>
        {y}年{Number(m)}月活动安排（共 {p.occurrences.length} 场）
      </caption>
      <thead>
        <tr>
          {weekdays.map((w) => (
            <th scope="col" key={w}>
              {w}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {monthWeeks(p.month).map((week) => (
          <tr key={week.join()}>
            {week.map((d, i) =>
              d ? (
                <td key={d} data-date={d} class={d === today ? "today" : undefined} aria-current={d === today ? "date" : undefined}>
                  <span class="day">
                    {Number(d.slice(8))}日{d === today && "（今天）"}
                  </span>
                  <ul>
                    {(byDay.get(d) ?? []).map((o) => (
                      <li key={`${o.activityId}-${o.number}`}>
                        <a href={href("activities", o.activityId)} data-activity={o.activityId} class={o.state === "CANCELLED" ? "cancelled" : undefined}>
                          {chinaClock(o.startTime)} {o.title}
                          <span class="venue">（{p.venueName(o.venueId ?? "")}）</span>
                          {o.state === "CANCELLED" && "（已取消）"}
                        </a>
                      </li>
                    ))}
                  </ul>
                </td>
              ) : (
                <td key={`empty-${i}`} class="outside" />
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Draft {
  title: string;
  category: Category;
  venueId: string;
  startDate: string;
  startTime: string;
  durationMinutes: string;
  capacity: string;
  weekly: boolean;
  weeks: string;
  description: string;
}

/** The draft as the form holds it when submitted (robust to fast input). */
function readDraft(form: HTMLFormElement): Draft {
  const f = new FormData(form);
  const v = (k: string) => String(f.get(k) ?? "");
  return {
    title: v("title"),
    category: v("category") as Category,
    venueId: v("venueId"),
    startDate: v("startDate"),
    startTime: v("startTime"),
    durationMinutes: v("durationMinutes"),
    capacity: v("capacity"),
    weekly: f.get("weekly") !== null,
    weeks: v("weeks"),
    description: v("description"),
  };
}

/** The sessions a draft asks for, as [start, end) in ms. */
function draftSessions(d: Draft): [number, number][] {
  const start = new Date(`${d.startDate}T${d.startTime}:00+08:00`).getTime();
  const len = Number(d.durationMinutes) * 60_000;
  const n = d.weekly ? Math.max(1, Number(d.weeks) || 1) : 1;
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([start + i * 7 * 24 * hour, start + i * 7 * 24 * hour + len]);
  return out;
}

/** A venue's bookings that overlap the draft's sessions, and the first free start of the same day that clashes with none. */
export interface Clash {
  booked: Occurrence[];
  alternative?: string;
  /** The venue's bookings could not be read: no alternative was computed. */
  failed?: boolean;
}

async function findClash(d: Draft): Promise<Clash> {
  const sessions = draftSessions(d);
  const day0 = new Date(`${d.startDate}T00:00:00+08:00`).getTime();
  const last = sessions[sessions.length - 1][0];
  const taken = (await occurrencesBetween(d.venueId, day0, last + 24 * hour)).filter((o) => o.state !== "CANCELLED");
  const spans = taken.map((o) => [new Date(o.startTime ?? "").getTime(), new Date(o.endTime ?? "").getTime()]);
  const clashes = (ss: [number, number][]) => spans.filter(([a, b]) => ss.some(([s, e]) => a < e && s < b));
  const booked = taken.filter((_, i) => clashes(sessions).includes(spans[i]));
  const len = sessions[0][1] - sessions[0][0];
  const later: number[] = [];
  const earlier: number[] = [];
  for (let t = day0 + 7 * hour; t + len <= day0 + 21 * hour; t += hour / 2) (t > sessions[0][0] ? later : earlier).push(t);
  for (const t of [...later, ...earlier.reverse()]) {
    const shift = t - sessions[0][0];
    if (shift !== 0 && clashes(sessions.map(([s, e]) => [s + shift, e + shift])).length === 0) {
      return { booked, alternative: chinaClock(chinaISO(t)) };
    }
  }
  return { booked };
}

function CreateActivity(p: { communityId: string; venues: Schemas["v1Venue"][]; venueId: string; onCreated: (a: Activity) => void }) {
  const [d, setD] = useState<Draft>({
    title: "",
    category: "CULTURE",
    venueId: p.venueId || p.venues[0]?.id || "",
    startDate: chinaToday(),
    startTime: "09:00",
    durationMinutes: "60",
    capacity: "20",
    weekly: false,
    weeks: "8",
    description: "",
  });
  const [clash, setClash] = useState<Clash | null>(null);
  const set = (k: keyof Draft) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    const v = t.type === "checkbox" ? t.checked : t.value;
    setD((prev) => ({ ...prev, [k]: v }));
  };
  const create = useAction(async (form: HTMLFormElement) => {
    setClash(null);
    const d = readDraft(form);
    const [[start, end]] = draftSessions(d);
    const body: Activity = {
      communityId: p.communityId,
      venueId: d.venueId,
      title: d.title.trim(),
      category: d.category,
      description: d.description.trim() || undefined,
      startTime: Number.isNaN(start) ? "" : chinaISO(start),
      endTime: Number.isNaN(end) ? "" : chinaISO(end),
      timeZone: zone,
      capacity: Number(d.capacity) || 0,
      recurrence: d.weekly ? { intervalWeeks: 1, count: Number(d.weeks) || 0 } : undefined,
    };
    try {
      p.onCreated(must(await api.POST("/v1/activities", { body })));
    } catch (e) {
      if (e instanceof ApiError && (e.reason === "SCHEDULE_CONFLICT" || e.status === 409)) {
        setClash(await findClash(d).catch(() => ({ booked: [], failed: true })));
      }
      throw e;
    }
  });
  const err = create.error;
  const submit = (e: Event) => {
    e.preventDefault();
    void create.run(e.currentTarget as HTMLFormElement);
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="new-activity-title">
      <h2 id="new-activity-title">新建活动</h2>
      <div class="row">
        <Field label="活动名称" name="title" error={err} render={({ id, describedBy }) => (
          <input id={id} name="title" required maxLength={100} autoFocus value={d.title} onInput={set("title")} aria-describedby={describedBy} />
        )} />
        <Field label="类别" name="category" error={err} render={({ id, describedBy }) => (
          <select id={id} name="category" value={d.category} onChange={set("category")} aria-describedby={describedBy}>
            {(Object.keys(categoryNames) as Category[]).filter((c) => c !== "CATEGORY_UNSPECIFIED").map((c) => (
              <option key={c} value={c}>{categoryNames[c]}</option>
            ))}
          </select>
        )} />
        <Field label="场地" name="venueId" error={err} render={({ id, describedBy }) => (
          <select id={id} name="venueId" value={d.venueId} onChange={set("venueId")} aria-describedby={describedBy}>
            {p.venues.map((v) => (
              <option key={v.id} value={v.id}>{v.name}（{v.capacity}人）</option>
            ))}
          </select>
        )} />
      </div>
      <div class="row">
        <Field label="开始日期" name="startTime" error={err} render={({ id, describedBy }) => (
          <input id={id} type="date" name="startDate" required value={d.startDate} onInput={set("startDate")} aria-describedby={describedBy} />
        )} />
        <Field label="开始时间" name="start-clock" render={({ id }) => (
          <input id={id} type="time" name="startTime" required value={d.startTime} onInput={set("startTime")} />
        )} />
        <Field label="时长（分钟）" name="endTime" error={err} render={({ id, describedBy }) => (
          <input id={id} type="number" name="durationMinutes" min={15} step={15} required value={d.durationMinutes} onInput={set("durationMinutes")} aria-describedby={describedBy} />
        )} />
        <Field label="名额" name="capacity" error={err} render={({ id, describedBy }) => (
          <input id={id} type="number" name="capacity" min={1} required value={d.capacity} onInput={set("capacity")} aria-describedby={describedBy} />
        )} />
      </div>
      <div class="row">
        <div class="field check">
          <label>
            <input type="checkbox" name="weekly" checked={d.weekly} onChange={set("weekly")} /> 每周重复
          </label>
        </div>
        {d.weekly && (
          <Field label="共几次（周）" name="recurrence" error={err} render={({ id, describedBy }) => (
            <input id={id} type="number" name="weeks" min={1} max={104} required value={d.weeks} onInput={set("weeks")} aria-describedby={describedBy} />
          )} />
        )}
      </div>
      <Field label="说明（可不填）" name="description" error={err} render={({ id, describedBy }) => (
        <textarea id={id} name="description" rows={2} value={d.description} onInput={set("description")} aria-describedby={describedBy} />
      )} />
      <ErrorNotice error={create.failure} />
      {clash && <ClashNotice clash={clash} onUse={(t) => { setD((prev) => ({ ...prev, startTime: t })); setClash(null); create.clear(); }} />}
      <button type="submit" class="primary" data-action="create-activity" disabled={create.busy}>
        创建
      </button>
    </form>
  );
}

function ClashNotice({ clash, onUse }: { clash: Clash; onUse: (t: string) => void }) {
  return (
    <div class="panel clash" data-clash>
      {clash.booked.length > 0 && (
        <>
          <p>该场地在以下时段已有安排：</p>
          <ul>
            {clash.booked.slice(0, 5).map((o) => (
              <li key={`${o.activityId}-${o.number}`}>
                <a href={href("activities", o.activityId)}>{o.title}</a>：{chinaDate(o.startTime)} {chinaClock(o.startTime)}–{chinaClock(o.endTime)}
              </li>
            ))}
            {clash.booked.length > 5 && <li>另有 {clash.booked.length - 5} 场</li>}
          </ul>
        </>
      )}
      {clash.failed ? (
        <p>未能读取该场地的已有安排，无法推算可替代的时段。</p>
      ) : clash.alternative ? (
        <p>
          控制台按该场地已有安排推算：同一天 {clash.alternative} 开始的各次均无冲突。{" "}
          <button type="button" data-action="use-alternative" onClick={() => onUse(clash.alternative ?? "")}>
            改为 {clash.alternative} 开始
          </button>
        </p>
      ) : (
        <p>当天 7:00–21:00 没有同样时长的空闲时段，请换一天或换场地。</p>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- an activity's page

function ActivityPage({ s, id }: { s: Session; id: string }) {
  const [note, setNote] = useState("");
  const act = useLoad(async () => {
    const a = must(await api.GET("/v1/activities/{id}", { params: { path: { id } } }));
    const venue = a.venueId ? must(await api.GET("/v1/venues/{id}", { params: { path: { id: a.venueId } } })) : undefined;
    return { a, venue };
  }, [id]);
  const a = act.data?.a;
  return (
    <div data-screen="activity">
      <p>
        <a href={href("activities")}>← 返回活动日历</a>
      </p>
      <Title>{a ? a.title : "活动"}</Title>
      <ErrorNotice error={act.error} onReload={act.reload} />
      <Loading show={act.loading} />
      <Done text={note} />
      {a && (
        <>
          <ActivityFacts a={a} venue={act.data?.venue} />
          <Registrations manage={mayManage(s)} activity={a} onNote={setNote} />
          {a.state !== "CANCELLED" && mayManage(s) && <CancelActivity activity={a} onDone={() => { setNote("活动已取消，已报名者的报名已标记。"); act.reload(); }} />}
        </>
      )}
    </div>
  );
}

function ActivityFacts({ a, venue }: { a: Activity; venue?: Schemas["v1Venue"] }) {
  const r = a.recurrence;
  const repeat = r && (r.count || r.until) ? `每${(r.intervalWeeks ?? 1) > 1 ? ` ${r.intervalWeeks} ` : ""}周一次，${r.count ? `共 ${r.count} 次` : `至 ${r.until}`}` : "不重复";
  return (
    <dl class="facts" data-section="details">
      <dt>状态</dt>
      <dd data-field="state">
        <span class={a.state === "CANCELLED" ? "badge bad" : "badge ok"}>{named(stateNames, a.state)}</span>
        {a.cancelReason && `（${a.cancelReason}）`}
      </dd>
      <dt>类别</dt>
      <dd>{named(categoryNames, a.category)}</dd>
      <dt>场地</dt>
      <dd>{venue ? `${venue.name}（${venue.address ?? ""}，容纳 ${venue.capacity} 人）` : a.venueId}</dd>
      <dt>首次时间</dt>
      <dd>{dateTime(a.startTime)}–{chinaClock(a.endTime)}</dd>
      <dt>重复</dt>
      <dd>{repeat}</dd>
      <dt>名额</dt>
      <dd>{a.capacity}</dd>
      {a.description && (
        <>
          <dt>说明</dt>
          <dd>{a.description}</dd>
        </>
      )}
    </dl>
  );
}

/** The activity's own sessions, from its venue's bookings (at most a year). */
async function sessionsOf(a: Activity): Promise<Occurrence[]> {
  const from = new Date(a.startTime ?? "").getTime();
  const occ = await allOccurrences({ venueId: a.venueId, from: chinaISO(from), to: chinaISO(from + 366 * 24 * hour) });
  return occ.filter((o) => o.activityId === a.id);
}

/** Names of retirees by id, from the community's roster pages; an id not found stands for itself. */
async function namesOf(ids: string[], communityId = ""): Promise<Record<string, string>> {
  const got = await rosterNames(ids, [communityId]).catch(() => new Map<string, string>());
  return Object.fromEntries(ids.map((id) => [id, got.get(id) ?? id]));
}

/** At most this many pages of registrations are read for the counts and the attendance. */
const maxRegPages = 20;

/** Every registration of an activity (at most maxRegPages pages); complete says whether all were read. */
async function allRegistrations(activityId: string): Promise<{ all: Registration[]; complete: boolean }> {
  const all: Registration[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < maxRegPages; i++) {
    const r = must(await api.GET("/v1/activities/{activityId}/registrations", { params: { path: { activityId }, query: { pageSize: 100, pageToken } } }));
    all.push(...(r.registrations ?? []));
    pageToken = r.nextPageToken;
    if (!pageToken) return { all, complete: true };
  }
  return { all, complete: false };
}

function Registrations({ manage, activity, onNote }: { manage: boolean; activity: Activity; onNote: (t: string) => void }) {
  const [page, setPage] = useState<string[]>([""]);
  const token = page[page.length - 1];
  const regs = useLoad(async () => {
    const r = must(await api.GET("/v1/activities/{activityId}/registrations", { params: { path: { activityId: activity.id ?? "" }, query: { pageSize: 100, pageToken: token || undefined } } }));
    const list = r.registrations ?? [];
    return { list, next: r.nextPageToken, names: await namesOf(list.map((x) => x.retireeId ?? ""), activity.communityId) };
  }, [activity.id, token]);
  // The counts and the attendance cover every registration, not the page shown.
  const totals = useLoad(async () => {
    const t = await allRegistrations(activity.id ?? "");
    const confirmed = t.all.filter((r) => r.state === "CONFIRMED");
    const names = await namesOf(confirmed.map((x) => x.retireeId ?? ""), activity.communityId);
    return { ...t, confirmed, waiting: t.all.filter((r) => r.state === "WAITLISTED").length, names };
  }, [activity.id]);
  const reload = () => {
    regs.reload();
    totals.reload();
  };
  const list = regs.data?.list ?? [];
  const names = { ...totals.data?.names, ...regs.data?.names };
  const name = (id?: string) => names[id ?? ""] ?? id ?? "";
  const confirmed = list.filter((r) => r.state === "CONFIRMED");
  const waiting = list.filter((r) => r.state === "WAITLISTED");
  const cancelled = list.filter((r) => r.state === "CANCELLED");
  const cancel = useAction(async (r: Registration) => {
    const res = must(await api.DELETE("/v1/activities/{activityId}/registrations/{retireeId}", { params: { path: { activityId: activity.id ?? "", retireeId: r.retireeId ?? "" } } }));
    const promoted = res.promoted?.retireeId;
    const pn = promoted ? (await namesOf([promoted], activity.communityId))[promoted] : "";
    onNote(`已取消 ${name(r.retireeId)} 的报名。${promoted ? `候补的 ${pn} 已转为正式报名。` : ""}`);
    // The row is gone: the focus goes to the list's caption.
    document.querySelector<HTMLElement>("[data-list=registrations] caption")?.focus();
  }, reload);
  const open = activity.state !== "CANCELLED";
  const act = open && manage;
  const paged = !!regs.data?.next || page.length > 1;
  const t = totals.data;
  const more = t && !t.complete ? "以上" : "";
  return (
    <section aria-labelledby="regs-title">
      <h2 id="regs-title">
        报名（名额 {activity.capacity}
        {t && `，已报 ${t.confirmed.length}${more}，候补 ${t.waiting}${more}`}）
      </h2>
      <ErrorNotice error={regs.error} onReload={regs.reload} />
      <ErrorNotice error={totals.error} onReload={totals.reload} />
      <Loading show={regs.loading} />
      <ErrorNotice error={cancel.failure} onReload={reload} />
      {act && <RegisterForm activity={activity} onDone={(t) => { onNote(t); reload(); }} />}
      <RegTable page={paged} list="registrations" caption="已报名" rows={confirmed} name={name} onCancel={act ? (r) => void cancel.run(r) : undefined} busy={cancel.busy} />
      <RegTable page={paged} list="waiting" caption="候补名单（按报名先后递补）" rows={waiting} name={name} onCancel={act ? (r) => void cancel.run(r) : undefined} busy={cancel.busy} />
      {cancelled.length > 0 && <RegTable page={paged} list="cancelled" caption="已取消" rows={cancelled} name={name} busy={false} />}
      <Pager next={regs.data?.next} atStart={page.length === 1} onFirst={() => setPage([""])} onNext={(t) => setPage([...page, t])} />
      {act && t && t.confirmed.length > 0 && <Attendance key={t.confirmed.length} activity={activity} confirmed={t.confirmed} complete={t.complete} name={name} onNote={onNote} />}
    </section>
  );
}

function RegTable(p: { list: string; caption: string; page?: boolean; rows: Registration[]; name: (id?: string) => string; onCancel?: (r: Registration) => void; busy: boolean }) {
  return (
    <table data-list={p.list}>
      <caption tabIndex={-1}>
        {p.caption}（{p.page ? "本页 " : ""}{p.rows.length} 人）
      </caption>
      <thead>
        <tr>
          <th scope="col">顺序</th>
          <th scope="col">姓名</th>
          <th scope="col">报名时间</th>
          <th scope="col">状态</th>
          {p.onCancel && <th scope="col">操作</th>}
        </tr>
      </thead>
      <tbody>
        {p.rows.length === 0 && (
          <tr>
            <td colSpan={p.onCancel ? 5 : 4}>无</td>
          </tr>
        )}
        {p.rows.map((r) => (
          <tr key={r.retireeId} data-id={r.retireeId}>
            <td>{r.position}</td>
            <td>
              <a href={href("retirees", r.retireeId)}>{p.name(r.retireeId)}</a>
            </td>
            <td>{dateTime(r.registerTime)}</td>
            <td>{regStateNames[r.state ?? "STATE_UNSPECIFIED"]}{r.activityCancelled && "（活动已取消）"}</td>
            {p.onCancel && (
              <td>
                <button type="button" class="danger" data-action="cancel-registration" disabled={p.busy} aria-label={`取消报名：${p.name(r.retireeId)}`} onClick={() => p.onCancel?.(r)}>
                  取消报名
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const regStateNames: Record<NonNullable<Registration["state"]>, string> = {
  STATE_UNSPECIFIED: "未知",
  CONFIRMED: "已报名",
  WAITLISTED: "候补",
  CANCELLED: "已取消",
};

function RegisterForm({ activity, onDone }: { activity: Activity; onDone: (t: string) => void }) {
  const [retireeId, setRetireeId] = useState("");
  const reg = useAction(async (id: string) => {
    const r = must(await api.POST("/v1/activities/{activityId}/registrations", { params: { path: { activityId: activity.id ?? "" } }, body: { retireeId: id } }));
    const n = (await namesOf([r.retireeId ?? ""], activity.communityId))[r.retireeId ?? ""];
    onDone(r.state === "WAITLISTED" ? `名额已满，${n} 已进入候补名单（第 ${r.position} 位报名）。` : `${n} 报名成功。`);
    setRetireeId("");
  });
  return (
    <div class="panel">
      <h3>报名</h3>
      <form class="row" onSubmit={(e) => { e.preventDefault(); void reg.run(String(new FormData(e.currentTarget).get("retireeId") ?? "").trim()); }}>
        <Field label="退休人员编号" name="retireeId" error={reg.error} hint="可在下方按姓名查找后选择" render={({ id, describedBy }) => (
          <input id={id} name="retireeId" required autoComplete="off" value={retireeId} onInput={(e) => setRetireeId(e.currentTarget.value)} aria-describedby={describedBy} />
        )} />
        <button type="submit" class="primary" data-action="register" disabled={reg.busy}>
          报名
        </button>
      </form>
      <ErrorNotice error={reg.failure} />
      <RosterPick communityId={activity.communityId ?? ""} onPick={setRetireeId} />
    </div>
  );
}

/** Finds a retiree of the community by name: the API lists a community's roster but does not search names, so the console filters the pages it reads (at most 1,000 retirees). */
function RosterPick({ communityId, onPick }: { communityId: string; onPick: (id: string) => void }) {
  const [q, setQ] = useState("");
  const [found, setFound] = useState<Schemas["v1Retiree"][] | null>(null);
  const search = useAction(async (name: string) => {
    const out: Schemas["v1Retiree"][] = [];
    let pageToken: string | undefined;
    for (let i = 0; i < 5; i++) {
      const r = must(await api.GET("/v1/retirees", { params: { query: { communityId, status: "LIVING", pageSize: 100, pageToken } } }));
      out.push(...(r.retirees ?? []).filter((x) => (x.name ?? "").includes(name)));
      pageToken = r.nextPageToken;
      if (!pageToken || out.length >= 20) break;
    }
    setFound(out.slice(0, 20));
  });
  return (
    <>
      <form class="row" onSubmit={(e) => { e.preventDefault(); const n = String(new FormData(e.currentTarget).get("retireeName") ?? "").trim(); if (n) void search.run(n); }}>
        <Field label="按姓名查找本社区人员" name="retireeName" render={({ id }) => (
          <input id={id} name="retireeName" autoComplete="off" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        )} />
        <button type="submit" data-action="search-retiree" disabled={search.busy}>
          查找
        </button>
      </form>
      <ErrorNotice error={search.failure} />
      {found && (
        <table data-list="candidates">
          <caption>查找结果（{found.length} 人{found.length >= 20 ? "，只列前 20 人" : ""}）</caption>
          <thead>
            <tr>
              <th scope="col">姓名</th>
              <th scope="col">身份证号</th>
              <th scope="col">选择</th>
            </tr>
          </thead>
          <tbody>
            {found.map((r) => (
              <tr key={r.id} data-id={r.id}>
                <td>{r.name}</td>
                <td>{r.idNumberMasked}</td>
                <td>
                  <button type="button" data-action="pick" aria-label={`选择：${r.name}`} onClick={() => { onPick(r.id ?? ""); setFound(null); }}>
                    选择
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Attendance(p: { activity: Activity; confirmed: Registration[]; complete: boolean; name: (id?: string) => string; onNote: (t: string) => void }) {
  const sessions = useLoad(() => sessionsOf(p.activity), [p.activity.id]);
  const now = Date.now();
  const list = (sessions.data ?? []).filter((o) => o.state !== "CANCELLED" && new Date(o.startTime ?? "").getTime() <= now);
  const today = chinaToday();
  const preferred = list.find((o) => chinaDate(o.startTime) === today) ?? [...list].reverse().find((o) => chinaDate(o.startTime) < today) ?? list[0];
  const [chosen, setChosen] = useState("");
  const [absent, setAbsent] = useState<Set<string>>(new Set());
  const occurrenceStart = chosen || preferred?.startTime || "";
  const rec = useAction(async () => {
    const present = p.confirmed.map((r) => r.retireeId ?? "").filter((id) => !absent.has(id));
    const r = must(await api.POST("/v1/activities/{id}:recordAttendance", { params: { path: { id: p.activity.id ?? "" } }, body: { occurrenceStart, present } }));
    p.onNote(`已记录 ${dateTime(r.occurrenceStart)} 的出席：${r.present} / ${r.confirmed} 人。`);
  });
  const toggle = (id: string) => {
    const next = new Set(absent);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setAbsent(next);
  };
  return (
    <form class="panel" aria-labelledby="att-title" onSubmit={(e) => { e.preventDefault(); void rec.run(); }}>
      <h3 id="att-title">记录出席</h3>
      <ErrorNotice error={sessions.error} />
      <Loading show={sessions.loading} />
      {sessions.data && list.length === 0 && <p class="hint">还没有已开始的场次；活动当天开始后即可记录出席。</p>}
      <Field label="场次" name="occurrenceStart" error={rec.error} render={({ id, describedBy }) => (
        <select id={id} name="occurrenceStart" value={occurrenceStart} onChange={(e) => setChosen(e.currentTarget.value)} aria-describedby={describedBy}>
          {list.map((o) => (
            <option key={o.startTime} value={o.startTime}>
              第 {o.number} 次：{dateTime(o.startTime)}{chinaDate(o.startTime) === today ? "（今天）" : ""}
            </option>
          ))}
        </select>
      )} />
      <fieldset class="attendees">
        <legend>出席人员（默认全部出席，请取消缺席者{p.complete ? "" : `；只列出前 ${p.confirmed.length} 名已报名者`}）</legend>
        {p.confirmed.map((r) => (
          <label key={r.retireeId}>
            <input type="checkbox" name="present" value={r.retireeId} checked={!absent.has(r.retireeId ?? "")} onChange={() => toggle(r.retireeId ?? "")} /> {p.name(r.retireeId)}
          </label>
        ))}
      </fieldset>
      {rec.error?.field("present") && <p class="error-text" role="alert">{rec.error.field("present")}</p>}
      <ErrorNotice error={rec.failure} />
      <button type="submit" class="primary" data-action="record-attendance" disabled={rec.busy || !occurrenceStart}>
        记录出席
      </button>
    </form>
  );
}

function CancelActivity({ activity, onDone }: { activity: Activity; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const cancel = useAction(async (why: string) => {
    must(await api.POST("/v1/activities/{id}:cancel", { params: { path: { id: activity.id ?? "" } }, body: { reason: why } }));
    setOpen(false);
  }, onDone);
  if (!open) {
    return (
      <p>
        <button type="button" class="danger" data-action="cancel-activity" onClick={() => setOpen(true)}>
          取消活动
        </button>
      </p>
    );
  }
  return (
    <form class="panel" onSubmit={(e) => { e.preventDefault(); void cancel.run(String(new FormData(e.currentTarget).get("reason") ?? "").trim()); }}>
      <Field label="取消原因" name="reason" error={cancel.error} render={({ id, describedBy }) => (
        <input id={id} name="reason" required value={reason} onInput={(e) => setReason(e.currentTarget.value)} aria-describedby={describedBy} />
      )} />
      <ErrorNotice error={cancel.failure} />
      <div class="row">
        <button type="submit" class="danger" data-action="confirm-cancel" disabled={cancel.busy}>
          确认取消活动
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          不取消
        </button>
      </div>
    </form>
  );
}

