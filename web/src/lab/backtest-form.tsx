import { useEffect, useState } from "preact/hooks";
import { api, ApiError, RawBody } from "../api";
import { fieldErrors, messageOf } from "./errors";
import { csvCloses } from "./csv";
import { ParamsForm } from "./params-form";
import { defaultsOf, type BacktestJson, type Params, type StrategyJson, type TemplateJson } from "./types";
import { TemplateSelect } from "./template-select";
import type { Point } from "./series-chart";

// Running a backtest: a template with parameters or a saved strategy, on a symbol's stored
// history between two dates or on an uploaded CSV of bars.

export interface Market {
  symbol: string;
  timeframe: string;
  start: string;
  end: string;
  /** Where the bars come from: the symbol's stored history or the uploaded file. */
  bars: "history" | "csv";
  csv: { name: string; text: string } | null;
}

export const BACKTEST_TIMEFRAMES = ["1Min", "5Min", "15Min", "1Hour", "1Day"] as const;

/** Errors listed under the form's message; the rest are counted. */
const MAX_LISTED_ERRORS = 5;
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
export const initialMarket = (): Market => ({ symbol: "AAPL", timeframe: "1Hour", start: daysAgo(30), end: daysAgo(0), bars: "history", csv: null });
export const rangeOf = (m: Market) => ({ start: `${m.start}T00:00:00Z`, end: `${m.end}T23:59:59Z` });

/** The symbol, timeframe and date range, shared by the run and optimization forms. */
export function MarketFields(props: { value: Market; onChange(m: Market): void; errors: Record<string, string>; dates: boolean }) {
  const { value, onChange, errors } = props;
  const set = (k: keyof Market) => (e: { currentTarget: HTMLInputElement | HTMLSelectElement }) => onChange({ ...value, [k]: e.currentTarget.value });
  const err = (k: string) => errors[k] && <small class="error">{errors[k]}</small>;
  return (
    <div class="form-grid">
      <div class={`field${errors.symbol ? " invalid" : ""}`}>
        <label for="bt-symbol">Symbol</label>
        <input id="bt-symbol" required value={value.symbol} onInput={set("symbol")} />
        {err("symbol")}
      </div>
      <div class={`field${errors.timeframe ? " invalid" : ""}`}>
        <label for="bt-timeframe">Timeframe</label>
        <select id="bt-timeframe" value={value.timeframe} onChange={set("timeframe")}>
          {BACKTEST_TIMEFRAMES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        {err("timeframe")}
      </div>
      {props.dates && (
        <>
          <div class={`field${errors.start ? " invalid" : ""}`}>
            <label for="bt-start">From</label>
            <input id="bt-start" type="date" value={value.start} onInput={set("start")} />
            {err("start")}
          </div>
          <div class={`field${errors.end ? " invalid" : ""}`}>
            <label for="bt-end">To</label>
            <input id="bt-end" type="date" value={value.end} onInput={set("end")} />
            {err("end")}
          </div>
        </>
      )}
    </div>
  );
}

export function BacktestForm(props: { templates: TemplateJson[]; strategies: StrategyJson[]; market: Market; onMarket(m: Market | ((current: Market) => Market)): void; onStarted(run: BacktestJson, closes: Point[] | null): void }) {
  const { templates, strategies, market } = props;
  const [source, setSource] = useState<"template" | "strategy">("template");
  const [template, setTemplate] = useState(templates[0]?.name ?? "");
  const [params, setParams] = useState<Params>({});
  const [strategyId, setStrategyId] = useState(strategies[0]?.id ?? "");
  const { bars, csv } = market;
  const setBars = (b: Market["bars"]) => props.onMarket({ ...market, bars: b });
  // Applied to the market as it is when the file has been read, not as it was when it was
  // chosen: a field changed meanwhile (reading a large file takes a while) stays changed.
  const setCsv = (c: Market["csv"]) => props.onMarket((current) => ({ ...current, csv: c }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  /** Every problem of the last refusal, in order: a CSV's line 1 may have several (found in QA: "3 problems on 1 line", one listed). */
  const [problems, setProblems] = useState<{ path: string; message: string }[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const chosen = templates.find((t) => t.name === template);
  // A refusal is about what was sent: any change to the form clears it (an old "not a listed
  // asset" stayed on screen after the symbol was changed).
  useEffect(() => {
    setProblem(null);
    setErrors({});
    setProblems([]);
  }, [market, params, template, source, bars, strategyId]);
  // Errors a field shows beside itself are not listed again under the message, and a long
  // list (a CSV's bad lines, up to 100) is cut to its first few.
  const shownByField = (k: string) => ["symbol", "timeframe", "start", "end"].includes(k) || (source === "template" && chosen !== undefined && (k.startsWith("params.") || k in ((chosen.params_schema.properties ?? {}) as Record<string, unknown>)));
  const listed = problems.filter((p) => !shownByField(p.path));

  useEffect(() => {
    if (chosen) setParams(defaultsOf(chosen.params_schema, chosen.defaults));
  }, [chosen]);
  useEffect(() => {
    if (!strategyId && strategies[0]) setStrategyId(strategies[0].id);
  }, [strategies]);

  // A saved strategy runs on its own symbol and timeframe unless the trader changes them
  // after choosing it (found in QA: the form kept AAPL 1Hour, and a BTC/USD 1Min strategy
  // was backtested on AAPL).
  const chooseStrategy = (id: string) => {
    setStrategyId(id);
    const s = strategies.find((x) => x.id === id);
    if (s) props.onMarket((current) => ({ ...current, symbol: s.symbol, timeframe: (BACKTEST_TIMEFRAMES as readonly string[]).includes(s.timeframe) ? s.timeframe : current.timeframe }));
  };

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setErrors({});
    setProblems([]);
    const who = source === "template" ? { template, params } : { strategy_id: strategyId };
    const symbol = market.symbol.trim().toUpperCase();
    try {
      let run: BacktestJson;
      if (bars === "csv") {
        if (!csv) throw new Error("Choose a CSV file of bars first.");
        const q = new URLSearchParams({ symbol, timeframe: market.timeframe });
        if (source === "template") {
          q.set("template", template);
          q.set("params", JSON.stringify(params));
        } else q.set("strategy_id", strategyId);
        run = await api<BacktestJson>("POST", `/api/backtests/csv?${q}`, new RawBody(csv.text, "text/csv"));
      } else {
        run = await api<BacktestJson>("POST", "/api/backtests", { ...who, symbol, timeframe: market.timeframe, ...rangeOf(market) });
      }
      props.onStarted(run, bars === "csv" && csv ? csvCloses(csv.text) : null);
    } catch (e) {
      setProblem(messageOf(e, e instanceof Error ? e.message : "The backtest could not start."));
      setErrors(fieldErrors(e));
      setProblems(e instanceof ApiError ? e.details : []);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="panel" onSubmit={(e) => void submit(e)} aria-label="Run a backtest">
      <h2>Run a backtest</h2>
      <div class="segmented">
        <button type="button" aria-pressed={source === "template"} onClick={() => setSource("template")}>
          Template
        </button>
        <button
          type="button"
          aria-pressed={source === "strategy"}
          onClick={() => {
            setSource("strategy");
            chooseStrategy(strategyId);
          }}
          disabled={strategies.length === 0}
        >
          Saved strategy
        </button>
      </div>
      <div class="form-grid">
        {source === "template" ? (
          <div class="field">
            <label for="bt-template">Template</label>
            <TemplateSelect id="bt-template" value={template} templates={templates} onChange={setTemplate} />
          </div>
        ) : (
          <div class="field wide">
            <label for="bt-strategy">Strategy</label>
            <select id="bt-strategy" value={strategyId} onChange={(e) => chooseStrategy(e.currentTarget.value)}>
              {strategies.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} ({s.symbol})
                </option>
              ))}
            </select>
          </div>
        )}
        <div class="field">
          <label for="bt-bars">Bars</label>
          <select id="bt-bars" value={bars} onChange={(e) => setBars(e.currentTarget.value as "history" | "csv")}>
            <option value="history">Stored history</option>
            <option value="csv">Upload a CSV</option>
          </select>
        </div>
      </div>
      {source === "template" && chosen && <ParamsForm idPrefix="bt-param" schema={chosen.params_schema} value={params} onChange={setParams} errors={errors} />}
      <MarketFields value={market} onChange={props.onMarket} errors={errors} dates={bars === "history"} />
      {bars === "csv" && (
        <div class="field">
          <label for="bt-csv">CSV file (timestamp,open,high,low,close,volume)</label>
          <input
            id="bt-csv"
            type="file"
            accept=".csv,text/csv"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) void file.text().then((text) => setCsv({ name: file.name, text }));
            }}
          />
          {csv && <small class="hint">{csv.name}: {csv.text.split("\n").length - 1} lines</small>}
        </div>
      )}
      {problem && (
        <div class="form-error" role="alert" data-testid="backtest-error">
          {problem}
          {listed.length > 0 && (
            <ul>
              {listed.slice(0, MAX_LISTED_ERRORS).map((p, i) => (
                <li key={i}>
                  {p.path}: {p.message}
                </li>
              ))}
              {listed.length > MAX_LISTED_ERRORS && <li>and {listed.length - MAX_LISTED_ERRORS} more</li>}
            </ul>
          )}
        </div>
      )}
      <button class="primary" type="submit" disabled={busy}>
        Run backtest
      </button>
    </form>
  );
}
