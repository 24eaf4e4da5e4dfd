import { useEffect, useMemo, useState } from "preact/hooks";
import { accessToken, api } from "../api";
import { messageOf } from "./errors";
import { formatMetricOf, metricLabel, METRICS } from "./metrics";
import { SeriesChart, toTime, type Line, type Point, type TradeMark } from "./series-chart";
import { thinned } from "./thin";
import type { BacktestJson, BacktestResultJson } from "./types";

/** Closes drawn on the price chart at most (plus the bars of the trades shown); the equity and drawdown series come thinned to 20,000 by the API. */
const PRICE_POINTS = 20_000;

// One finished backtest: its metrics, equity and drawdown curves, and the price with the
// trades as markers. The price comes from the uploaded CSV when there was one, otherwise
// from the market-data API over the run's span (stocks and crypto have their own paths).

interface Bar {
  t: string;
  c: number;
}

async function priceOf(run: BacktestJson, from: string, to: string): Promise<Point[]> {
  const q = `timeframe=${run.timeframe}&start=${encodeURIComponent(from)}&end=${encodeURIComponent(to)}&limit=10000`;
  const bars = run.symbol.includes("/")
    ? ((await api<{ bars: Record<string, Bar[]> }>("GET", `/v1beta3/crypto/us/bars?symbols=${encodeURIComponent(run.symbol)}&${q}`)).bars[run.symbol] ?? [])
    : (await api<{ bars: Bar[] }>("GET", `/v2/stocks/${encodeURIComponent(run.symbol)}/bars?${q}`)).bars;
  return bars.map((b) => ({ time: toTime(b.t), value: b.c }));
}

/** A CSV download needs the bearer token, so it is fetched and handed over as a blob. */
async function download(path: string, name: string): Promise<void> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${accessToken() ?? ""}` } });
  if (!res.ok) return;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

interface RunLogsJson {
  error: string | null;
  logs: { t: string; text: string }[];
  logs_dropped: number;
}

/** The log tail: each line with its time, and a note of the lines not kept. */
function LogTail(props: { logs: { t: string; text: string }[]; dropped: number }) {
  return (
    <pre class="log-tail" data-testid="run-log">
      {props.logs.map((l) => `${l.t}  ${l.text}`).join("\n")}
      {props.dropped > 0 ? `\n… and ${props.dropped.toLocaleString()} more lines, not kept (a run keeps its first ${props.logs.length.toLocaleString()})` : ""}
    </pre>
  );
}

/** A failed run has no report, but keeps what its strategy logged up to the failure. */
export function FailedRunLog(props: { run: BacktestJson }) {
  const { run } = props;
  const [log, setLog] = useState<RunLogsJson | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    api<RunLogsJson>("GET", `/api/backtests/${run.id}/logs`).then(setLog, (e: unknown) => setProblem(messageOf(e, "Could not load the run's log.")));
  }, [run.id]);
  return (
    <section class="panel report" data-testid="failed-run" aria-label="Failed backtest">
      <h2>
        {run.template ?? "strategy"} on {run.symbol} <span class="muted small">failed</span>
      </h2>
      {problem && <p class="form-error">{problem}</p>}
      {log?.error && <p class="down">{log.error}</p>}
      {log && (log.logs.length > 0 ? <LogTail logs={log.logs} dropped={log.logs_dropped} /> : <p class="muted small">The strategy logged nothing before it failed.</p>)}
    </section>
  );
}

export function BacktestReport(props: { run: BacktestJson; closes: Point[] | null }) {
  const { run } = props;
  const [result, setResult] = useState<BacktestResultJson | null>(null);
  const [price, setPrice] = useState<Point[] | null>(props.closes);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    setResult(null);
    api<BacktestResultJson>("GET", `/api/backtests/${run.id}/result`).then(setResult, (e: unknown) => setProblem(messageOf(e, "Could not load the report.")));
  }, [run.id]);

  useEffect(() => {
    if (props.closes || !result || result.equity.length === 0) return;
    priceOf(run, result.equity[0]!.t, result.equity.at(-1)!.t).then(setPrice, () => setPrice([]));
  }, [result, props.closes]);

  const equity = useMemo<Line[]>(() => (result ? [{ name: "equity", color: "#58a6ff", area: true, points: result.equity.map((p) => ({ time: toTime(p.t), value: Number(p.equity) })) }] : []), [result]);
  const drawdown = useMemo<Line[]>(() => (result ? [{ name: "drawdown", color: "#f85149", area: true, points: result.drawdown.map((p) => ({ time: toTime(p.t), value: -p.drawdown * 100 })) }] : []), [result]);
  const marks = useMemo<TradeMark[]>(
    () =>
      (result?.fills ?? []).map((f) => ({
        time: toTime(String(f.transaction_time)),
        side: f.side === "sell" ? "sell" : "buy",
        // The arrows say buy or sell; words at every fill would overlap.
        text: "",
      })),
    [result],
  );

  // A long upload (up to a million closes) is drawn as at most PRICE_POINTS of them, every bar a trade was made on kept.
  const priceLines = useMemo<Line[]>(() => (price && price.length ? [{ name: run.symbol, color: "#9aa4b2", points: thinned(price, PRICE_POINTS, new Set(marks.map((m) => m.time))) }] : []), [price, marks]);

  const metrics = result?.metrics ?? run.metrics ?? {};
  return (
    <section class="panel report" data-testid="backtest-report" aria-label="Backtest report">
      <div class="row">
        <h2>
          {run.template ?? "strategy"} on {run.symbol} <span class="muted small">{run.timeframe}</span>
        </h2>
        {result && (
          <span class="actions">
            <button class="ghost" onClick={() => void download(`/api/backtests/${run.id}/fills.csv`, `backtest-${run.id}-fills.csv`)}>
              Fills CSV
            </button>
            <button class="ghost" onClick={() => void download(`/api/backtests/${run.id}/equity.csv`, `backtest-${run.id}-equity.csv`)}>
              Equity CSV
            </button>
          </span>
        )}
      </div>
      {problem && <p class="form-error">{problem}</p>}
      <div class="report-body">
        <table class="metrics" data-testid="metrics">
          <tbody>
            {METRICS.map((m) => (
              <tr key={m} data-metric={m}>
                <th>{metricLabel(m)}</th>
                <td class="r">{formatMetricOf(metrics, m)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {result && (
          <div class="report-charts">
            <SeriesChart lines={equity} label={`Equity (USD)${result.downsampled ? `, ${result.equity.length} of ${result.series_points_total} points` : ""}`} testid="equity-chart" />
            <SeriesChart lines={drawdown} label="Drawdown (%)" testid="drawdown-chart" />
            {priceLines.length > 0 && <SeriesChart lines={priceLines} marks={marks} label={`${run.symbol} with the run's ${result.fills_total} fills`} testid="price-chart" />}
          </div>
        )}
      </div>
      {result && result.logs.length > 0 && <LogTail logs={result.logs} dropped={result.logs_dropped} />}
    </section>
  );
}
