// 统计报表: socialisation rates, the visit rate, certification status and
// participation, each as an accessible bar chart (inline SVG with a summary)
// and the table of the same figures; the registers the API exports are
// downloaded with the token (never in an address).
import { useState } from "preact/hooks";
import { ApiError, api, download, must, type Schemas } from "../api";
import { chinaToday } from "../labels";
import { type Session, isSupervisor } from "../session";
import { ErrorNotice, Field, Loading, Pager, Title, useAction, useLoad } from "../ui";
import { categoryNames } from "./activities";
import { useCommunities } from "./communities";

type Community = { id: string; name: string };

const pct = (r: number | undefined) => `${((r ?? 0) * 100).toFixed(1)}%`;

export interface Bar {
  label: string;
  value: number;
  text: string;
}

/**
 * A horizontal bar chart as inline SVG: role="img" with a summary for
 * screen readers; the same figures are in the table beside it.
 */
export function BarChart({ title, bars, max }: { title: string; bars: Bar[]; max?: number }) {
  const top = max ?? Math.max(1, ...bars.map((b) => b.value));
  const rowH = 26;
  const labelW = 170;
  const w = 640;
  const h = Math.max(1, bars.length) * rowH + 8;
  const summary = `${title}：${bars.map((b) => `${b.label} ${b.text}`).join("；") || "无数据"}`;
  return (
    <svg class="chart" role="img" aria-label={summary} viewBox={`0 0 ${w} ${h}`} width="100%" preserveAspectRatio="xMinYMin meet">
      {bars.map((b, i) => {
        const bw = Math.max(0, ((w - labelW - 90) * b.value) / top);
        const y = 4 + i * rowH;
        return (
          <g key={b.label + i}>
            <text x={labelW - 6} y={y + 17} text-anchor="end" class="chart-label">
              {b.label.length > 12 ? b.label.slice(0, 11) + "…" : b.label}
            </text>
            <rect x={labelW} y={y + 3} width={bw} height={rowH - 8} class="chart-bar" />
            <text x={labelW + bw + 6} y={y + 17} class="chart-value">
              {b.text}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

export function ReportsScreen({ s }: { s: Session; id: string }) {
  const communities = useCommunities(s);
  const list: Community[] = (communities.data ?? []).map((c) => ({ id: c.id ?? "", name: c.name || c.id || "" }));
  return (
    <div data-screen="reports">
      <Title>统计报表</Title>
      <ErrorNotice error={communities.error} />
      <Loading show={communities.loading} />
      <Socialisation s={s} communities={list} />
      <Visits communities={list} />
      <Certification communities={list} />
      <Participation communities={list} />
    </div>
  );
}

function CommunitySelect(p: { communities: Community[]; value: string; onChange: (v: string) => void; name?: string }) {
  return (
    <Field label="社区" name={p.name ?? "communityId"} render={({ id }) => (
      <select id={id} name={p.name ?? "communityId"} value={p.value} onChange={(e) => p.onChange(e.currentTarget.value)}>
        {p.communities.map((c) => (
          <option key={c.id} value={c.id}>{c.name}</option>
        ))}
      </select>
    )} />
  );
}

// ---------------------------------------------------------------- socialisation

const groupNames: Record<string, string> = { community: "按社区", street: "按街道", district: "按区县" };

function Socialisation({ s, communities }: { s: Session; communities: Community[] }) {
  const [groupBy, setGroupBy] = useState("community");
  const [asOf, setAsOf] = useState(chinaToday());
  const rep = useLoad(async () => must(await api.GET("/v1/reports/socialisation", { params: { query: { groupBy, asOf } } })), [groupBy, asOf]);
  const rows = rep.data?.rows ?? [];
  const wide = isSupervisor(s) || s.role === "bureau" || s.role === "admin";
  return (
    <section class="report" data-report="socialisation" aria-labelledby="rep-soc">
      <h2 id="rep-soc">社会化管理率</h2>
      <div class="row">
        {wide && (
          <Field label="统计口径" name="groupBy" render={({ id }) => (
            <select id={id} name="groupBy" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value)}>
              {Object.entries(groupNames).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
            </select>
          )} />
        )}
        <Field label="截至日期" name="asOf" error={rep.error instanceof ApiError ? rep.error : null} render={({ id }) => (
          <input id={id} type="date" name="asOf" max={chinaToday()} value={asOf} onChange={(e) => e.currentTarget.value && setAsOf(e.currentTarget.value)} />
        )} />
      </div>
      <ErrorNotice error={rep.error} />
      <Loading show={rep.loading} />
      {rep.data && (
        <>
          {rep.data.historyStart && asOf < rep.data.historyStart && (
            <p class="hint">登记系统自 {rep.data.historyStart} 起保存每日计数，此前的日期没有数据。</p>
          )}
          <BarChart title="社会化管理率" max={1} bars={rows.map((r) => ({ label: r.name || r.key || "", value: r.rate ?? 0, text: pct(r.rate) }))} />
          <table aria-label="社会化管理率明细">
            <thead>
              <tr>
                <th scope="col">{groupBy === "community" ? "社区" : groupBy === "street" ? "街道" : "区县"}</th>
                <th scope="col">在世人数</th>
                <th scope="col">社区管理</th>
                <th scope="col">社保机构管理</th>
                <th scope="col">企业管理</th>
                <th scope="col">社会化管理率</th>
                <th scope="col">社区管理率</th>
              </tr>
            </thead>
            <tbody>
              {[...rows, ...(rep.data.total && rows.length > 1 ? [{ ...rep.data.total, name: "合计" }] : [])].map((r) => (
                <tr key={r.key} data-id={r.key}>
                  <td>{r.name || r.key}</td>
                  <td>{Number(r.living ?? 0)}</td>
                  <td>{Number(r.communityManaged ?? 0)}</td>
                  <td>{Number(r.bureauManaged ?? 0)}</td>
                  <td>{Number(r.enterpriseManaged ?? 0)}</td>
                  <td>{pct(r.rate)}</td>
                  <td>{pct(r.communityRate)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <RegisterExport communities={communities} asOf={asOf} />
    </section>
  );
}

const registerNames: Record<string, string> = {
  roster: "在册人员名册",
  "special-groups": "特殊群体名册",
  "status-changes": "本月死亡及状态变更",
  transfers: "本月迁入迁出",
  "additions-removals": "本月增减表",
};

/** GET /v1/exports/{register}: a community's register as CSV or XLSX. */
function RegisterExport({ communities, asOf }: { communities: Community[]; asOf: string }) {
  const [register, setRegister] = useState("roster");
  const [community, setCommunity] = useState("");
  const [format, setFormat] = useState("csv");
  const communityId = community || communities[0]?.id || "";
  const exp = useAction(() => download(`/v1/exports/${register}`, { communityId, asOf, format }, `${registerNames[register]}-${communityId}-${asOf}.${format}`));
  if (communities.length === 0) return null;
  return (
    <form class="panel row" aria-label="导出名册" onSubmit={(e) => { e.preventDefault(); void exp.run(); }}>
      <Field label="导出名册" name="register" render={({ id }) => (
        <select id={id} name="register" value={register} onChange={(e) => setRegister(e.currentTarget.value)}>
          {Object.entries(registerNames).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
        </select>
      )} />
      <CommunitySelect communities={communities} value={communityId} onChange={setCommunity} name="exportCommunityId" />
      <Field label="格式" name="format" render={({ id }) => (
        <select id={id} name="format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
          <option value="csv">CSV</option>
          <option value="xlsx">Excel（XLSX）</option>
        </select>
      )} />
      <button type="submit" data-action="export" disabled={exp.busy}>
        下载
      </button>
      <ErrorNotice error={exp.failure} />
    </form>
  );
}

// ---------------------------------------------------------------- visits

function Visits({ communities }: { communities: Community[] }) {
  const [month, setMonth] = useState(chinaToday().slice(0, 7));
  const [page, setPage] = useState<string[]>([""]);
  const token = page[page.length - 1];
  const rep = useLoad(async () => must(await api.GET("/v1/visitReport", { params: { query: { month, pageSize: 100, pageToken: token || undefined } } })), [month, token]);
  const rows = rep.data?.rows ?? [];
  const name = (id?: string) => communities.find((c) => c.id === id)?.name ?? id ?? "";
  const rate = (r: Schemas["v1VisitReportRow"]) => (r.rateBasisPoints ?? 0) / 10000;
  return (
    <section class="report" data-report="visits" aria-labelledby="rep-visits">
      <h2 id="rep-visits">走访率</h2>
      <p class="hint">高、重点关爱对象按关爱等级应访（高：每周；重点：每月至少一次）并按期走访的比例。</p>
      <div class="row">
        <Field label="月份" name="month" error={rep.error instanceof ApiError ? rep.error : null} render={({ id }) => (
          <input id={id} type="month" name="month" value={month} onChange={(e) => { if (e.currentTarget.value) { setMonth(e.currentTarget.value); setPage([""]); } }} />
        )} />
      </div>
      <ErrorNotice error={rep.error} />
      <Loading show={rep.loading} />
      {rep.data && (
        <>
          <BarChart title={`${month} 走访率`} max={1} bars={rows.map((r) => ({ label: name(r.communityId), value: rate(r), text: pct(rate(r)) }))} />
          <table aria-label={`${month} 走访率明细`}>
            <thead>
              <tr>
                <th scope="col">社区</th>
                <th scope="col">应访人数</th>
                <th scope="col">按期走访</th>
                <th scope="col">走访率</th>
              </tr>
            </thead>
            <tbody>
              {rows.length === 0 && <tr><td colSpan={4}>本月无应访对象</td></tr>}
              {rows.map((r) => (
                <tr key={r.communityId} data-id={r.communityId}>
                  <td>{name(r.communityId)}</td>
                  <td>{Number(r.eligible ?? 0)}</td>
                  <td>{Number(r.visitedAsScheduled ?? 0)}</td>
                  <td>{pct(rate(r))}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager next={rep.data.nextPageToken} atStart={page.length === 1} onFirst={() => setPage([""])} onNext={(t) => setPage([...page, t])} />
        </>
      )}
      <p class="hint">接口未提供走访率的导出文件。</p>
    </section>
  );
}

// ---------------------------------------------------------------- certification

/** The first page (50 entries) of a certification list: its count, and whether there are more. */
async function countList(path: "/v1/certifications:overdue" | "/v1/certifications:dueSoon", communityId: string, asOf: string): Promise<Count> {
  const r = must(await api.GET(path, { params: { query: { communityId, asOf, pageSize: countPage } } }));
  const n = (("overdue" in r ? r.overdue?.length : 0) ?? 0) + (("dueSoon" in r ? r.dueSoon?.length : 0) ?? 0);
  return { n, more: !!r.nextPageToken };
}

/** Only the first page of a list is counted: no paging through personal data to count it. */
const countPage = 50;
type Count = { n: number; more: boolean };
const countText = (c: Count) => (c.more ? `≥${countPage}` : String(c.n));

function Certification({ communities }: { communities: Community[] }) {
  const [asOf, setAsOf] = useState(chinaToday());
  const [community, setCommunity] = useState("");
  const chosen = communities.find((c) => c.id === community) ?? communities[0];
  const rep = useLoad(
    async () => {
      if (!chosen) return [];
      const overdue = await countList("/v1/certifications:overdue", chosen.id, asOf);
      const dueSoon = await countList("/v1/certifications:dueSoon", chosen.id, asOf);
      return [{ ...chosen, overdue, dueSoon }];
    },
    [chosen?.id, asOf],
  );
  const rows = rep.data ?? [];
  return (
    <section class="report" data-report="certification" aria-labelledby="rep-cert">
      <h2 id="rep-cert">资格认证情况</h2>
      <p class="hint">养老金接口没有按社区的认证汇总：这里数的是所选社区逾期名单和 30 天内到期名单的条目，只数第一页（{countPage} 条），超过时显示“≥{countPage}”。</p>
      <div class="row">
        {communities.length > 1 && <CommunitySelect communities={communities} value={chosen?.id ?? ""} onChange={setCommunity} name="certCommunityId" />}
        <Field label="统计日期" name="certAsOf" render={({ id }) => (
          <input id={id} type="date" name="asOf" value={asOf} onChange={(e) => e.currentTarget.value && setAsOf(e.currentTarget.value)} />
        )} />
      </div>
      <ErrorNotice error={rep.error} />
      <Loading show={rep.loading} />
      {rep.data && (
        <>
          <BarChart
            title="资格认证逾期与 30 天内到期名单条目数"
            bars={rows.flatMap((r) => [
              { label: `${r.name}·逾期`, value: r.overdue.n, text: `逾期 ${countText(r.overdue)} 条` },
              { label: `${r.name}·将到期`, value: r.dueSoon.n, text: `将到期 ${countText(r.dueSoon)} 条` },
            ])}
          />
          <table aria-label="资格认证情况明细">
            <thead>
              <tr>
                <th scope="col">社区</th>
                <th scope="col">逾期未认证</th>
                <th scope="col">30 天内到期</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-id={r.id}>
                  <td>{r.name}</td>
                  <td>{countText(r.overdue)}</td>
                  <td>{countText(r.dueSoon)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <p class="hint">接口未提供认证情况的导出文件；名单可在“资格认证”页办理。</p>
    </section>
  );
}

// ---------------------------------------------------------------- participation

function Participation({ communities }: { communities: Community[] }) {
  const today = chinaToday();
  const [community, setCommunity] = useState("");
  const [from, setFrom] = useState(`${today.slice(0, 7)}-01`);
  const [to, setTo] = useState(today);
  const communityId = community || communities[0]?.id || "";
  const rep = useLoad(
    async () => (communityId ? must(await api.GET("/v1/reports/participation", { params: { query: { communityId, from, to } } })) : undefined),
    [communityId, from, to],
  );
  const r = rep.data;
  const cats = r?.byCategory ?? [];
  return (
    <section class="report" data-report="participation" aria-labelledby="rep-part">
      <h2 id="rep-part">活动参与</h2>
      <div class="row">
        {communities.length > 1 && <CommunitySelect communities={communities} value={communityId} onChange={setCommunity} name="partCommunityId" />}
        <Field label="起始日期" name="from" render={({ id }) => (
          <input id={id} type="date" name="from" value={from} onChange={(e) => e.currentTarget.value && setFrom(e.currentTarget.value)} />
        )} />
        <Field label="截止日期" name="to" render={({ id }) => (
          <input id={id} type="date" name="to" value={to} onChange={(e) => e.currentTarget.value && setTo(e.currentTarget.value)} />
        )} />
      </div>
      <ErrorNotice error={rep.error} />
      <Loading show={rep.loading} />
      {r && (
        <>
          <dl class="facts">
            <dt>举办场次</dt>
            <dd>{r.occurrencesHeld ?? 0}</dd>
            <dt>报名人次</dt>
            <dd>{r.registrations ?? 0}</dd>
            <dt>出席人次</dt>
            <dd>{r.attended ?? 0}</dd>
            <dt>出席率</dt>
            <dd>{pct(r.attendanceRate)}</dd>
            <dt>参与人数</dt>
            <dd>{r.distinctParticipants ?? 0}（其中80岁以上 {r.aged80PlusParticipants ?? 0}，独居 {r.livingAloneParticipants ?? 0}）</dd>
          </dl>
          <BarChart title="各类活动出席人次" bars={cats.map((c) => ({ label: categoryNames[c.category ?? "CATEGORY_UNSPECIFIED"], value: c.attended ?? 0, text: `${c.attended ?? 0} 人次` }))} />
          <table aria-label="各类活动参与明细">
            <thead>
              <tr>
                <th scope="col">类别</th>
                <th scope="col">场次</th>
                <th scope="col">报名人次</th>
                <th scope="col">出席人次</th>
              </tr>
            </thead>
            <tbody>
              {cats.length === 0 && <tr><td colSpan={4}>此期间没有活动</td></tr>}
              {cats.map((c) => (
                <tr key={c.category} data-id={c.category}>
                  <td>{categoryNames[c.category ?? "CATEGORY_UNSPECIFIED"]}</td>
                  <td>{c.occurrences ?? 0}</td>
                  <td>{c.registrations ?? 0}</td>
                  <td>{c.attended ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <p class="hint">接口未提供活动参与的导出文件。</p>
    </section>
  );
}
