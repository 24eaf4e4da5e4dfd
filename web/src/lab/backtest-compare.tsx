import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { formatMetricOf, metricLabel, METRICS } from "./metrics";
import { PALETTE, SeriesChart, toTime, type Line } from "./series-chart";
import type { BacktestJson, BacktestResultJson } from "./types";

// Two or more finished runs side by side: their metrics in columns, their equity overlaid.

/** A run's strategy (a template, or a saved strategy by its name and version) and its parameters. */
export function runLabel(r: BacktestJson, names: Record<string, string> = {}): string {
  const who = r.strategy_id ? `${names[r.strategy_id] ?? "saved strategy"} v${r.strategy_version ?? "?"}` : (r.template ?? "strategy");
  const params = Object.entries(r.params)
    .filter(([k]) => !["sizing", "qty", "notional"].includes(k))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return `${who} ${params}`.trim();
}

export function BacktestCompare(props: { runs: BacktestJson[]; names?: Record<string, string> }) {
  const [results, setResults] = useState<Record<string, BacktestResultJson>>({});
  const ids = props.runs.map((r) => r.id).join();

  useEffect(() => {
    for (const r of props.runs) {
      if (results[r.id]) continue;
      void api<BacktestResultJson>("GET", `/api/backtests/${r.id}/result`).then((res) => setResults((m) => ({ ...m, [r.id]: res })), () => undefined);
    }
  }, [ids]);

  const lines = useMemo<Line[]>(
    () =>
      props.runs
        .filter((r) => results[r.id])
        .map((r, i) => ({ name: `#${i + 1}`, color: PALETTE[i % PALETTE.length]!, points: results[r.id]!.equity.map((p) => ({ time: toTime(p.t), value: Number(p.equity) })) })),
    [ids, results],
  );

  return (
    <section class="panel" data-testid="compare" aria-label="Compare runs">
      <h2>Compare {props.runs.length} runs</h2>
      <div class="table-scroll">
        <table class="metrics">
          <thead>
            <tr>
              <th />
              {props.runs.map((r, i) => (
                <th key={r.id} class="r" title={r.id}>
                  <span class="swatch" data-color={i % PALETTE.length} /> #{i + 1} {r.symbol}
                  <div class="muted small">{runLabel(r, props.names)}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {METRICS.map((m) => (
              <tr key={m}>
                <th>{metricLabel(m)}</th>
                {props.runs.map((r) => (
                  <td key={r.id} class="r">
                    {formatMetricOf(r.metrics, m)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {lines.length === props.runs.length && <SeriesChart lines={lines} label="Equity, overlaid (USD)" testid="compare-chart" />}
    </section>
  );
}
