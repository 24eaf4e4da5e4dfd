import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { trades } from "../streams";
import { BacktestCompare, runLabel } from "./backtest-compare";
import { BacktestForm, initialMarket, type Market } from "./backtest-form";
import { BacktestReport, FailedRunLog } from "./backtest-report";
import { messageOf } from "./errors";
import { formatMetric } from "./metrics";
import { OptimizePanel } from "./optimize-panel";
import type { Point } from "./series-chart";
import type { BacktestJson, BacktestProgressJson, StrategyJson, TemplateJson } from "./types";

// The Backtests page: run one, watch its progress (the socket's backtest_updates, with
// polling as the fallback), cancel it, read its report; tick finished runs to compare
// them; optimize two parameters into a heat map.

const unfinished = (r: BacktestJson) => r.status === "queued" || r.status === "running";
const POLL_MS = 2000;

export function BacktestsPage() {
  const [runs, setRuns] = useState<BacktestJson[] | null>(null);
  const [templates, setTemplates] = useState<TemplateJson[]>([]);
  const [strategies, setStrategies] = useState<StrategyJson[]>([]);
  // Runs of saved strategies are labelled with their names (they all read "strategy").
  const names = Object.fromEntries(strategies.map((s) => [s.id, s.name]));
  const [market, setMarket] = useState<Market>(initialMarket);
  const [open, setOpen] = useState<string | null>(null);
  const [picked, setPicked] = useState<string[]>([]);
  const [closes, setCloses] = useState<Record<string, Point[]>>({});
  const [problem, setProblem] = useState<string | null>(null);

  const load = () => api<BacktestJson[]>("GET", "/api/backtests?limit=100").then(setRuns, (e: unknown) => setProblem(messageOf(e, "Could not load backtests.")));
  const patch = (p: BacktestProgressJson) =>
    setRuns((list) => list?.map((r) => (r.id === p.id ? { ...r, status: p.status, bars_done: p.bars_done, bars_total: p.bars_total, error: p.error, metrics: p.metrics ?? r.metrics } : r)) ?? list);

  useEffect(() => {
    void load();
    api<TemplateJson[]>("GET", "/api/strategies/templates").then(setTemplates, () => undefined);
    api<StrategyJson[]>("GET", "/api/strategies").then(setStrategies, () => undefined);
    return trades.onStream("backtest_updates", (data) => {
      const p = data as BacktestProgressJson;
      if (p?.id) patch(p);
    });
  }, []);

  // The fallback: while a run is unfinished, ask for it now and then (a socket that is
  // reconnecting, or a job that finished between two frames, still shows).
  // (An optimization's runs are followed by its own panel, not here.)
  const pending = runs?.filter((r) => unfinished(r) && r.optimization_id === null).map((r) => r.id) ?? [];
  useEffect(() => {
    if (pending.length === 0) return;
    const timer = setInterval(() => {
      for (const id of pending) void api<BacktestJson>("GET", `/api/backtests/${id}`).then((r) => setRuns((list) => list?.map((x) => (x.id === id ? r : x)) ?? list), () => undefined);
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [pending.join()]);

  async function cancel(id: string) {
    try {
      const r = await api<BacktestJson>("POST", `/api/backtests/${id}/cancel`);
      setRuns((list) => list?.map((x) => (x.id === id ? r : x)) ?? list);
    } catch (e) {
      setProblem(messageOf(e, "The backtest could not be cancelled."));
    }
  }

  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id]));
  const openRun = runs?.find((r) => r.id === open);
  const compared = (runs ?? []).filter((r) => picked.includes(r.id) && r.status === "done");
  const ownRuns = (runs ?? []).filter((r) => r.optimization_id === null);

  return (
    <main class="page lab">
      <h1>Backtests</h1>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {templates.length > 0 && (
        <BacktestForm
          templates={templates}
          strategies={strategies}
          market={market}
          onMarket={setMarket}
          onStarted={(run, c) => {
            setRuns((list) => [run, ...(list ?? []).filter((r) => r.id !== run.id)]);
            if (c) setCloses((m) => ({ ...m, [run.id]: c }));
            setOpen(run.id);
          }}
        />
      )}
      <section class="panel">
        <h2>Runs</h2>
        {runs === null ? (
          <p class="empty">Loading…</p>
        ) : ownRuns.length === 0 ? (
          <p class="empty">No backtests yet.</p>
        ) : (
          <div class="table-scroll">
            <table data-testid="backtests">
              <thead>
                <tr>
                  <th>
                    <span class="sr-only">Compare</span>
                  </th>
                  <th>Run</th>
                  <th>Status</th>
                  <th class="r">Return</th>
                  <th class="r">Sharpe</th>
                  <th class="r">Trades</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {ownRuns.map((r) => (
                  <tr key={r.id} data-backtest={r.id} data-status={r.status} class={open === r.id ? "selected" : ""} onClick={() => (r.status === "done" || r.status === "failed") && setOpen(r.id)}>
                    <td>
                      <input type="checkbox" aria-label={`Compare run ${r.id.slice(0, 8)}`} disabled={r.status !== "done"} checked={picked.includes(r.id)} onClick={(e) => e.stopPropagation()} onChange={() => toggle(r.id)} />
                    </td>
                    <td>
                      {r.symbol} <span class="muted small">{r.timeframe}</span>
                      <div class="muted small">{runLabel(r, names)}</div>
                    </td>
                    <td>
                      {unfinished(r) ? (
                        <progress data-testid="progress" max={Math.max(r.bars_total, 1)} value={r.bars_done} aria-label={`${r.bars_done} of ${r.bars_total} bars`} />
                      ) : (
                        <span class={`badge ${r.status}`}>{r.status}</span>
                      )}
                      {r.error && <div class="small down">{r.error}</div>}
                    </td>
                    <td class="r">{formatMetric("total_return", r.metrics?.total_return)}</td>
                    <td class="r">{formatMetric("sharpe", r.metrics?.sharpe)}</td>
                    <td class="r">{formatMetric("trades", r.metrics?.trades)}</td>
                    <td class="actions">
                      {unfinished(r) && (
                        <button onClick={(e) => (e.stopPropagation(), void cancel(r.id))} aria-label={`Cancel run ${r.id.slice(0, 8)}`}>
                          Cancel
                        </button>
                      )}
                      {r.status === "done" && <button class="ghost" onClick={(e) => (e.stopPropagation(), setOpen(r.id))}>Report</button>}
                      {r.status === "failed" && (
                        <button class="ghost" onClick={(e) => (e.stopPropagation(), setOpen(r.id))} aria-label={`Log of run ${r.id.slice(0, 8)}`}>
                          Log
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {compared.length === 1 && <p class="muted small">Tick one more finished run to compare.</p>}
      </section>
      {compared.length >= 2 && <BacktestCompare runs={compared} names={names} />}
      {openRun && openRun.status === "done" && <BacktestReport key={openRun.id} run={openRun} closes={closes[openRun.id] ?? null} />}
      {openRun && openRun.status === "failed" && <FailedRunLog key={openRun.id} run={openRun} />}
      {templates.length > 0 && <OptimizePanel templates={templates} market={market} />}
    </main>
  );
}
