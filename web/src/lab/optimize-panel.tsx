import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { fieldErrors, messageOf } from "./errors";
import { csvBars } from "./csv";
import { formatMetric, metricLabel, metricNumber, METRICS } from "./metrics";
import { rangeOf, type Market } from "./backtest-form";
import { TemplateSelect } from "./template-select";
import { shownFields, type OptimizationJson, type TemplateJson } from "./types";

// Optimization: two numeric parameters each over a range, one backtest per pair on the
// symbol's history, shown as a heat map of the chosen metric (a CSS grid, one cell per
// pair, coloured from the worst value to the best).

interface Axis {
  param: string;
  from: string;
  to: string;
  step: string;
}

/**
 * The parameters an axis can range over: the numeric ones that matter under the template's
 * defaults, which the other parameters keep (qty is no axis while sizing is all_in: every
 * cell would be the same run).
 */
const numericParams = (t: TemplateJson | undefined) => (t ? shownFields(t.params_schema, t.defaults).filter(([, f]) => f.type === "integer" || f.type === "number").map(([n]) => n) : []);
/** The most bars a JSON body may carry (the API's MAX_POSTED_BARS). */
const MAX_POSTED_BARS = 1000;
/** Errors shown of a refused start, and reasons of failed runs (a bad file can have one a bar). */
const MAX_SHOWN_ERRORS = 5;
const LOWER_IS_BETTER = new Set(["max_drawdown", "max_drawdown_duration", "annualized_volatility", "fees", "gross_loss"]);

export function OptimizePanel(props: { templates: TemplateJson[]; market: Market }) {
  const [template, setTemplate] = useState(props.templates[0]?.name ?? "");
  const chosen = props.templates.find((t) => t.name === template);
  const numeric = numericParams(chosen);
  const [x, setX] = useState<Axis>({ param: "", from: "", to: "", step: "1" });
  const [y, setY] = useState<Axis>({ param: "", from: "", to: "", step: "1" });
  const [metric, setMetric] = useState<string>("sharpe");
  const [opt, setOpt] = useState<OptimizationJson | null>(null);
  // The axes the shown optimization ran with (the form may change meanwhile).
  const [ran, setRan] = useState<{ x: string; y: string }>({ x: "", y: "" });
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    // Sensible first axes: the template's first two numeric parameters around their defaults.
    const axis = (name: string | undefined): Axis => {
      const d = Number(chosen?.defaults[name ?? ""] ?? 1);
      return { param: name ?? "", from: String(Math.max(1, Math.round(d / 2))), to: String(Math.round(d * 1.5) || 2), step: String(Math.max(1, Math.round(d / 4))) };
    };
    setX(axis(numeric[0]));
    setY(axis(numeric[1]));
  }, [template]);

  // Polls until every run has finished (an optimization's runs have no socket of their own).
  useEffect(() => {
    if (!opt || opt.runs.every((r) => !["queued", "running"].includes(r.status))) return;
    const timer = setTimeout(() => void api<OptimizationJson>("GET", `/api/backtests/optimize/${opt.id}`).then(setOpt, () => undefined), 1500);
    return () => clearTimeout(timer);
  }, [opt]);

  async function run(event: Event) {
    event.preventDefault();
    setProblem(null);
    const range = (a: Axis) => ({ from: Number(a.from), to: Number(a.to), step: Number(a.step) });
    const m = props.market;
    const bars = m.bars === "csv" && m.csv ? csvBars(m.csv.text) : null;
    if (m.bars === "csv" && !bars) return setProblem("Choose a CSV file of bars in the run form first.");
    if (bars && bars.length > MAX_POSTED_BARS) return setProblem(`An optimization takes at most ${MAX_POSTED_BARS} uploaded bars; use stored history for more.`);
    try {
      const started = await api<OptimizationJson>("POST", "/api/backtests/optimize", {
        template,
        params: {},
        ranges: { [x.param]: range(x), [y.param]: range(y) },
        metric,
        symbol: props.market.symbol.trim().toUpperCase(),
        timeframe: props.market.timeframe,
        ...(bars ? { bars } : rangeOf(m)),
      });
      setRan({ x: x.param, y: y.param });
      setOpt(started);
    } catch (e) {
      // A bad file can have an error a bar: the first few say what is wrong.
      const errs = Object.entries(fieldErrors(e)).map(([k, v]) => `${k}: ${v}`);
      const shown = errs.length > MAX_SHOWN_ERRORS ? [...errs.slice(0, MAX_SHOWN_ERRORS), `and ${errs.length - MAX_SHOWN_ERRORS} more`] : errs;
      setProblem([messageOf(e, "The optimization could not start."), ...shown].join(" · "));
    }
  }

  const axisFields = (label: string, a: Axis, set: (a: Axis) => void) => (
    <fieldset class="axis">
      <legend>{label}</legend>
      <select aria-label={`${label} parameter`} value={a.param} onChange={(e) => set({ ...a, param: e.currentTarget.value })}>
        {numeric.map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
      <input aria-label={`${label} from`} type="number" value={a.from} onInput={(e) => set({ ...a, from: e.currentTarget.value })} />
      <input aria-label={`${label} to`} type="number" value={a.to} onInput={(e) => set({ ...a, to: e.currentTarget.value })} />
      <input aria-label={`${label} step`} type="number" min="0" step="any" value={a.step} onInput={(e) => set({ ...a, step: e.currentTarget.value })} />
    </fieldset>
  );

  return (
    <section class="panel" aria-label="Optimize">
      <h2>Optimize two parameters</h2>
      <p class="muted small">
        On {props.market.symbol} {props.market.timeframe}{" "}
        {props.market.bars === "csv" ? `bars of ${props.market.csv?.name ?? "the uploaded file (choose one above)"}` : `history from ${props.market.start} to ${props.market.end}`} (the run form's market).
      </p>
      <form class="inline-form" onSubmit={(e) => void run(e)}>
        <label>
          Template
          <TemplateSelect value={template} templates={props.templates} onChange={setTemplate} />
        </label>
        {axisFields("Columns", x, setX)}
        {axisFields("Rows", y, setY)}
        <label>
          Metric
          <select value={metric} onChange={(e) => setMetric(e.currentTarget.value)}>
            {METRICS.map((m) => (
              <option key={m} value={m}>
                {metricLabel(m)}
              </option>
            ))}
          </select>
        </label>
        <button class="primary" type="submit" disabled={numeric.length < 2}>
          Optimize
        </button>
      </form>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {opt && <HeatMap opt={opt} x={ran.x} y={ran.y} />}
    </section>
  );
}

function HeatMap(props: { opt: OptimizationJson; x: string; y: string }) {
  const { opt, x, y } = props;
  const xs = [...new Set(opt.runs.map((r) => Number(r.params[x])))].sort((a, b) => a - b);
  const ys = [...new Set(opt.runs.map((r) => Number(r.params[y])))].sort((a, b) => a - b);
  const values = opt.runs.map((r) => metricNumber(r.value)).filter((v): v is number => v !== null);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const flip = LOWER_IS_BETTER.has(opt.metric);
  const done = opt.runs.filter((r) => !["queued", "running"].includes(r.status)).length;
  const failed = opt.runs.filter((r) => r.status === "failed");
  const canceled = opt.runs.filter((r) => r.status === "cancelled").length;
  // Ten colour steps as classes: 0 worst … 9 best.
  const level = (v: number | null) => (v === null || hi === lo ? 5 : Math.round(((flip ? hi - v : v - lo) / (hi - lo)) * 9));
  const cell = (xv: number, yv: number) => opt.runs.find((r) => Number(r.params[x]) === xv && Number(r.params[y]) === yv);
  return (
    <div class="heat" data-testid="heatmap">
      <p class="muted small">
        {metricLabel(opt.metric)}: {done} of {opt.runs.length} runs done{failed.length > 0 ? `, ${failed.length} failed` : ""}
        {canceled > 0 ? `, ${canceled} cancelled` : ""}
        {flip ? " (lower is better)" : ""}. Columns {x}, rows {y}.
      </p>
      {failed.length > 0 && (
        <p class="form-error" role="alert">
          {[...new Set(failed.map((r) => r.error ?? "failed"))].slice(0, MAX_SHOWN_ERRORS).join(" · ")}
        </p>
      )}
      {/* A style object is set through the CSSOM, which the Content-Security-Policy allows. */}
      <div class="heat-grid" style={{ gridTemplateColumns: `auto repeat(${xs.length}, minmax(3.5rem, 1fr))` }}>
        <span />
        {xs.map((xv) => (
          <span key={`x${xv}`} class="heat-axis">
            {xv}
          </span>
        ))}
        {ys.map((yv) => [
          <span key={`y${yv}`} class="heat-axis">
            {yv}
          </span>,
          ...xs.map((xv) => {
            const r = cell(xv, yv);
            const v = metricNumber(r?.value);
            const state = !r ? "none" : r.status === "done" ? (v === null ? "undefined" : `l${level(v)}`) : r.status;
            return (
              <span key={`${xv},${yv}`} class={`heat-cell ${state}`} title={r ? `${x}=${xv} ${y}=${yv}: ${r.status === "failed" ? (r.error ?? "failed") : `${formatMetric(opt.metric, r.value)} (rank ${r.rank}, ${r.status})`}` : "not run"}>
                {r?.status === "done" ? formatMetric(opt.metric, r.value) : r?.status === "failed" ? "failed" : r?.status === "cancelled" ? "cancelled" : r ? "…" : ""}
              </span>
            );
          }),
        ])}
      </div>
    </div>
  );
}
