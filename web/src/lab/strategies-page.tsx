import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, session } from "../api";
import { useStore } from "../store";
import { dec, signed, time, tone } from "../format";
import { trades } from "../streams";
import { messageOf } from "./errors";
import { StrategyCreate } from "./strategy-create";
import { StrategyEdit } from "./strategy-edit";
import type { LiveStatsJson, LiveStatusJson, LogLine, StrategyJson, StrategyUpdate, TemplateJson } from "./types";

// The Strategies page: the user's strategies with their status and live P&L, start and
// stop, the log tail of the one selected (fetched once, then pushed on the socket's
// strategy_updates stream), and the form that creates new ones.

const LOG_KEEP = 500;
const REFRESH_MS = 5000;

export function StrategiesPage() {
  // Deleting a strategy is strategy:delete, which the role matrix gives admins alone: the
  // others see no button that could only answer 403.
  const canDelete = useStore(session).user?.role === "admin";
  const [list, setList] = useState<StrategyJson[] | null>(null);
  const [templates, setTemplates] = useState<TemplateJson[]>([]);
  const [stats, setStats] = useState<Record<string, LiveStatsJson>>({});
  const [selected, setSelected] = useState<string | null>(null);
  // What an action (start, stop, delete) was refused for; a load's failure apart, since every
  // load after an action (and every few seconds) clears it (found in QA: a refused start
  // showed nothing, its 409 cleared by the reload that followed it).
  const [problem, setProblem] = useState<string | null>(null);
  const [loadProblem, setLoadProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  /** The status each strategy had when its statistics were last asked for. */
  const asked = useRef(new Map<string, string>());
  const load = () =>
    api<StrategyJson[]>("GET", "/api/strategies").then(
      (rows) => {
        setList(rows);
        setLoadProblem(null);
        // Statistics of every one that has run: a stopped one shows its last run's (after a
        // reload it showed "—"); one that never ran has none and is not asked (it answered
        // 409, an error in the console for each; QA). Only a running one's move, so the others
        // are asked once per status they take: asking for all of them every refresh spent most
        // of the user's request budget (QA: 117 requests a minute with nine strategies, and
        // the user's own actions got 429).
        for (const s of rows) {
          if (s.last_run === null) continue;
          if (s.status !== "running" && asked.current.get(s.id) === s.status) continue;
          asked.current.set(s.id, s.status);
          void api<LiveStatusJson>("GET", `/api/strategies/${s.id}/stats`).then(
            (st) => setStats((m) => ({ ...m, [s.id]: st.stats })),
            // A strategy that never ran has none (409), one deleted meanwhile is gone (404); any other failure (the network, a 429) is asked again next time.
            (e: unknown) => {
              if (!(e instanceof ApiError && (e.status === 409 || e.status === 404))) asked.current.delete(s.id);
            },
          );
        }
      },
      (e: unknown) => setLoadProblem(messageOf(e, "Could not load strategies.")),
    );

  // Status changes made elsewhere (an error stop, another tab, the API) show within a few
  // seconds; a failed load is tried again the same way.
  useEffect(() => {
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    void load();
    api<TemplateJson[]>("GET", "/api/strategies/templates").then(setTemplates, (e: unknown) => setLoadProblem(messageOf(e, "Could not load templates.")));
    return trades.onStream("strategy_updates", (data) => {
      const u = data as StrategyUpdate;
      if (u?.stats) setStats((m) => ({ ...m, [u.id]: u.stats }));
      // A strategy that errored shows it (and why) at once, not at the next refresh.
      if (u?.status && u.status !== "running") void load();
    });
  }, []);

  async function run(s: StrategyJson, action: "start" | "stop") {
    setBusy(s.id);
    setProblem(null);
    try {
      const status = await api<LiveStatusJson>("POST", `/api/strategies/${s.id}/${action}`);
      setStats((m) => ({ ...m, [s.id]: status.stats }));
    } catch (e) {
      setProblem(messageOf(e, `The strategy could not ${action}.`));
    } finally {
      setBusy(null);
      await load();
    }
  }

  async function remove(s: StrategyJson) {
    if (!confirm(`Delete the strategy "${s.name}" and its versions?`)) return;
    try {
      await api("DELETE", `/api/strategies/${s.id}`);
      if (selected === s.id) setSelected(null);
    } catch (e) {
      setProblem(messageOf(e, "The strategy could not be deleted."));
    }
    await load();
  }

  const current = list?.find((s) => s.id === selected) ?? null;
  return (
    <main class="page lab">
      <h1>Strategies</h1>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {loadProblem && (
        <p class="form-error" role="alert">
          {loadProblem}
        </p>
      )}
      <section class="panel">
        {list === null ? (
          <p class="empty">Loading…</p>
        ) : list.length === 0 ? (
          <p class="empty">No strategies yet: create one below.</p>
        ) : (
          <div class="table-scroll">
            <table data-testid="strategies">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Symbol</th>
                  <th>Kind</th>
                  <th>Status</th>
                  <th class="r">P&amp;L</th>
                  <th class="r">Orders</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {list.map((s) => {
                  const pnl = dec(stats[s.id]?.pnl);
                  return (
                    // The row opens the detail (log tail, statistics, edit) by mouse or, focused, by Enter or Space; the keys its buttons get are theirs.
                    <tr
                      key={s.id}
                      data-strategy={s.id}
                      data-name={s.name}
                      class={selected === s.id ? "selected" : ""}
                      tabIndex={0}
                      aria-selected={selected === s.id}
                      onClick={() => setSelected(s.id)}
                      onKeyDown={(e) => {
                        if (e.target !== e.currentTarget || (e.key !== "Enter" && e.key !== " ")) return;
                        e.preventDefault();
                        setSelected(s.id);
                      }}
                    >
                      <td>{s.name}</td>
                      <td>
                        {s.symbol} <span class="muted small">{s.timeframe}</span>
                      </td>
                      <td>{s.template ?? `code v${s.current_version}`}</td>
                      <td>
                        <span class={`badge ${s.status}`} data-testid="status">
                          {s.status}
                        </span>
                        {s.status_message && <div class="small down" data-testid="status-message">{s.status_message}</div>}
                      </td>
                      <td class={`r ${tone(pnl)}`} data-testid="pnl">
                        {signed(pnl)}
                      </td>
                      <td class="r">{stats[s.id]?.orders ?? "—"}</td>
                      <td class="actions">
                        {s.status === "running" ? (
                          <button disabled={busy === s.id} onClick={(e) => (e.stopPropagation(), void run(s, "stop"))} aria-label={`Stop ${s.name}`}>
                            Stop
                          </button>
                        ) : (
                          <button class="primary" disabled={busy === s.id} onClick={(e) => (e.stopPropagation(), void run(s, "start"))} aria-label={`Start ${s.name}`}>
                            Start
                          </button>
                        )}
                        {canDelete && (
                          <button class="ghost" disabled={s.status === "running"} onClick={(e) => (e.stopPropagation(), void remove(s))} aria-label={`Delete ${s.name}`}>
                            Delete
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {current && <StrategyDetail key={current.id} strategy={current} stats={stats[current.id]} templates={templates} onSaved={() => void load()} />}
      {templates.length > 0 && (
        <StrategyCreate
          templates={templates}
          onCreated={(s) => {
            setSelected(s.id);
            void load();
          }}
        />
      )}
    </main>
  );
}

/** One strategy's statistics and log tail. */
function StrategyDetail(props: { strategy: StrategyJson; stats: LiveStatsJson | undefined; templates: TemplateJson[]; onSaved(): void }) {
  const { strategy, stats } = props;
  const [lines, setLines] = useState<LogLine[]>([]);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    const merge = (more: LogLine[]) =>
      setLines((have) => {
        const last = have.at(-1)?.seq ?? 0;
        return [...have, ...more.filter((l) => l.seq > last)].slice(-LOG_KEEP);
      });
    api<{ lines: LogLine[] }>("GET", `/api/strategies/${strategy.id}/logs?after=0&limit=500`).then(
      (r) => merge(r.lines),
      (e: unknown) => setNote(e instanceof ApiError && e.status === 404 ? "It has not run yet." : messageOf(e, "Could not load the log.")),
    );
    return trades.onStream("strategy_updates", (data) => {
      const u = data as StrategyUpdate;
      if (u?.id === strategy.id && Array.isArray(u.logs)) merge(u.logs);
    });
  }, [strategy.id]);

  return (
    <section class="panel" data-testid="strategy-detail">
      <h2>
        {strategy.name} <span class="muted small">v{strategy.running_version ?? strategy.current_version}</span>
      </h2>
      {strategy.status === "errored" && strategy.status_message && (
        <p class="form-error" role="alert">
          Errored: {strategy.status_message}
        </p>
      )}
      {stats && (
        <dl class="stats-row">
          <div>
            <dt>Callbacks</dt>
            <dd>{stats.callbacks}</dd>
          </div>
          <div>
            <dt>Failures</dt>
            <dd>{stats.failures}</dd>
          </div>
          <div>
            <dt>Success</dt>
            <dd>{stats.success_rate === null ? "—" : `${(stats.success_rate * 100).toFixed(1)}%`}</dd>
          </div>
          <div>
            <dt>Orders</dt>
            <dd>{stats.orders}</dd>
          </div>
          <div>
            <dt>Refused</dt>
            <dd>{stats.refused}</dd>
          </div>
          <div>
            <dt>Fills</dt>
            <dd>{stats.fills}</dd>
          </div>
          <div>
            <dt>P&amp;L</dt>
            <dd class={tone(dec(stats.pnl))}>{signed(dec(stats.pnl))}</dd>
          </div>
          <div>
            <dt>Since</dt>
            <dd>{time(stats.started_at)}</dd>
          </div>
        </dl>
      )}
      <h3>Log</h3>
      <pre class="log-tail" data-testid="log-tail" aria-live="polite">
        {lines.length === 0 ? (note ?? "No log lines yet.") : lines.map((l) => `${time(l.t)}  ${l.text}`).join("\n")}
      </pre>
      <StrategyEdit strategy={strategy} templates={props.templates} onSaved={props.onSaved} />
    </section>
  );
}
