import { z } from "@hono/zod-openapi";
import { parseTimestamp } from "../market/csv";
import type { InstrumentSpec } from "../market/instrument";
import type { Metrics } from "../strategy/metrics";
import type { StrategyBar } from "../strategy/runtime";
import type { RiskLimits } from "../trading/risk";
import type { VenueConfig } from "../venue/venue";

// The backtest API (docs/backtests.md): requests, views, the job's RPC request and the
// backtest_updates socket frames. Metric names on the wire are snake_case.

/**
 * Bars one backtest may play. The job reads its bars from storage a row at a time and
 * keeps the equity curve as two columns (about 20 bytes a bar), within an isolate's 128 MB.
 */
export const MAX_BARS = 1_000_000;
/** Bars an upload sends to its job per call (a whole number of the job's stored rows). */
export const UPLOAD_CHUNK_BARS = 10_000;
/**
 * Numbers per bar in an upload chunk: one Float64Array of t, open, high, low, close, volume
 * per bar, so the call to the job copies one buffer instead of ten thousand objects.
 */
export const PACKED_BAR_WIDTH = 6;

/** Bars packed as an upload chunk is. */
export function packBars(bars: readonly StrategyBar[]): Float64Array {
  const packed = new Float64Array(bars.length * PACKED_BAR_WIDTH);
  let at = 0;
  for (const b of bars) {
    packed[at++] = b.t;
    packed[at++] = b.open;
    packed[at++] = b.high;
    packed[at++] = b.low;
    packed[at++] = b.close;
    packed[at++] = b.volume;
  }
  return packed;
}
/** Bars a JSON body may carry (the gateway takes bodies of up to 256 KiB on the two routes that carry bars; larger sets go through the CSV upload or stored history). */
export const MAX_POSTED_BARS = 1_000;
/** Parameter sets one optimization may run. */
export const MAX_OPTIMIZATION_RUNS = 200;
/** A user's backtests queued or running at once (an optimization's runs count one each): one full optimization, or that many single runs. */
export const MAX_ACTIVE_BACKTESTS = 200;
/**
 * Of those, backtests of the user's own code: each runs the code in a sandbox of its own,
 * with a loop budget per callback but up to a million callbacks, so a handful of heavy ones
 * is a user's fair share of the machine (twenty filled local workerd's one thread for a
 * minute, found in QA).
 */
export const MAX_ACTIVE_CODE_BACKTESTS = 4;
/** Points of the equity and drawdown series in a result; longer runs are thinned. */
export const MAX_SERIES_POINTS = 20_000;

const Decimal = z.union([z.string().trim().max(40), z.number()], { error: (issue) => (issue.input === undefined ? "is required" : "must be a decimal, as a string (\"100000.00\") or a number") }).openapi({ type: "string", example: "100000" });
// Described as what it takes: a string (RFC 3339) or a number (epoch ms); typed as a
// string alone, clients generated from the document could not send epoch milliseconds.
const Instant = z.union([z.string().max(40), z.number().int()], { error: (issue) => (issue.input === undefined ? "is required" : "must be an RFC 3339 time (2025-01-01T00:00:00Z) or whole epoch milliseconds") }).openapi({ example: "2025-01-01T00:00:00Z", description: "An RFC 3339 time (a string, e.g. 2025-01-01T00:00:00Z) or epoch milliseconds (a number)" });

/** A posted bar's time: an RFC 3339 instant that exists (not whatever Date.parse accepts), or epoch ms. */
const BarTime = Instant.superRefine((value, ctx) => {
  if (typeof value === "number" || (!/^\d+$/.test(value) && typeof parseTimestamp(value) === "number")) return;
  ctx.addIssue({ code: "custom", message: `"${value}" is not an RFC 3339 date and time that exists (2024-01-02T15:04:00Z); epoch milliseconds go as a number` });
});

export const PostedBar = z.object({
  t: BarTime,
  open: z.number().positive(),
  high: z.number().positive(),
  low: z.number().positive(),
  close: z.number().positive(),
  volume: z.number().nonnegative().default(0),
});

/** What every backtest and optimization request shares: where the bars come from and the venue's terms. */
const RunTerms = {
  symbol: z.string().trim().min(1).max(24).openapi({ example: "AAPL" }),
  timeframe: z.string().trim().min(2).max(12).default("1Hour").openapi({ example: "1Hour" }),
  start: Instant.optional(),
  end: Instant.optional(),
  bars: z.array(PostedBar).max(MAX_POSTED_BARS, { error: `at most ${MAX_POSTED_BARS} bars in a body; upload a CSV for more` }).optional(),
  tick_size: z.string().trim().max(24).optional().openapi({ description: "Only for a symbol the platform does not list", example: "0.01" }),
  lot_size: z.string().trim().max(24).optional().openapi({ description: "Only for a symbol the platform does not list", example: "1" }),
  cash: Decimal.optional(),
  fee_bps: z.number().min(0).max(1000).optional(),
  min_fee: Decimal.optional(),
  half_spread_ticks: z.number().int().min(0).max(1_000_000).default(0),
  slippage_ticks: z.number().int().min(0).max(1_000_000).optional(),
};

/**
 * A field (or query parameter) the request does not know is refused by name, not ignored
 * (the client may believe it was used): zod's error map for a strict object.
 */
export const unknownKeys =
  (noun: string) =>
  (issue: { code: string; keys?: string[] }): string | undefined =>
    issue.code === "unrecognized_keys" ? `unknown ${noun}${issue.keys!.length === 1 ? "" : "s"} ${issue.keys!.join(", ")}` : undefined;
const unknownFields = unknownKeys("field");

/** Bars come from the body or from a range of stored history, never both (start and end beside bars were ignored). */
function oneSourceOfBars(body: { bars?: unknown; start?: unknown; end?: unknown }, ctx: z.RefinementCtx): void {
  if (body.bars === undefined) return;
  for (const path of ["start", "end"] as const)
    if (body[path] !== undefined) ctx.addIssue({ code: "custom", path: [path], message: "give bars, or start and end of stored history, not both" });
}

export const BacktestRequest = z
  .strictObject(
    {
      strategy_id: z.string().trim().min(1).max(64).optional(),
      version: z.number().int().positive().optional().openapi({ description: "The saved strategy's version to run (with strategy_id); its latest when left out" }),
      template: z.string().trim().min(1).max(64).optional().openapi({ example: "ma-cross" }),
      params: z.record(z.string(), z.unknown()).optional().openapi({ description: "The template's parameters; with strategy_id, they override the saved version's" }),
      ...RunTerms,
      // A saved strategy names its own symbol and timeframe: they are the defaults with strategy_id.
      symbol: RunTerms.symbol.optional().openapi({ description: "Required with template; with strategy_id, the strategy's own by default", example: "AAPL" }),
      timeframe: z.string().trim().min(2).max(12).optional().openapi({ description: "1Hour by default; with strategy_id, the strategy's own", example: "1Hour" }),
    },
    { error: unknownFields },
  )
  .superRefine((body, ctx) => {
    if (body.version !== undefined && body.strategy_id === undefined) ctx.addIssue({ code: "custom", path: ["version"], message: "a version is of a saved strategy: give its strategy_id too" });
    oneSourceOfBars(body, ctx);
  })
  .openapi("BacktestRequest");
export type BacktestRequest = z.infer<typeof BacktestRequest>;

export const METRIC_NAMES = [
  "total_return",
  "cagr",
  "annualized_volatility",
  "sharpe",
  "sortino",
  "max_drawdown",
  "max_drawdown_duration",
  "calmar",
  "trades",
  "wins",
  "win_rate",
  "profit_factor",
  "expectancy",
  "average_trade",
  "gross_profit",
  "gross_loss",
  "exposure",
  "fees",
  "end_equity",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

// One form or the other: given both, the steps were dropped without a word (found in QA).
const Range = z.union(
  [
    z.strictObject({ values: z.array(z.union([z.number(), z.string(), z.boolean()])).min(1).max(MAX_OPTIMIZATION_RUNS) }),
    z.strictObject({ from: z.number(), to: z.number(), step: z.number().positive() }),
  ],
  { error: (issue) => (isRecord(issue.input) && "values" in issue.input && ["from", "to", "step"].some((k) => k in (issue.input as object)) ? "a range is either values or from, to and step, not both" : "a range is {values: [...]} or {from, to, step}") },
);

/** `samples` and `seed` draw a random search: a grid given them ran every combination and ignored both (found in QA). */
function samplingTerms(body: { mode: "grid" | "random"; samples?: number | null | undefined; seed?: number | null | undefined }, ctx: z.RefinementCtx): void {
  if (body.mode === "random" && (body.samples === undefined || body.samples === null)) ctx.addIssue({ code: "custom", path: ["samples"], message: "mode random draws samples parameter sets: say how many (1 or more)" });
  if (body.mode === "grid") {
    for (const field of ["samples", "seed"] as const) {
      if (body[field] !== undefined && body[field] !== null) ctx.addIssue({ code: "custom", path: [field], message: `${field} applies to mode random; a grid runs every combination (set mode to random to draw a sample)` });
    }
  }
}

export const OptimizeRequest = z
  .strictObject(
    {
      template: z.string().trim().min(1).max(64).openapi({ example: "ma-cross" }),
      params: z.record(z.string(), z.unknown()).default({}),
      ranges: z.record(z.string(), Range).refine((r) => Object.keys(r).length > 0, { error: "name at least one parameter to vary" }),
      mode: z.enum(["grid", "random"]).default("grid"),
      // null is "not given", as clients send unset fields.
      samples: z.number().int().min(1).max(MAX_OPTIMIZATION_RUNS).nullish(),
      seed: z.number().int().min(0).max(2 ** 32 - 1).nullish(),
      metric: z.enum(METRIC_NAMES).default("sharpe"),
      ...RunTerms,
    },
    {
      // An optimization runs a template: a saved strategy's id was ignored, and its template run instead (found in QA).
      error: (issue) =>
        issue.code === "unrecognized_keys" && issue.keys.includes("strategy_id") ? "an optimization runs a template (name it with template); a saved strategy cannot be optimized" : unknownFields(issue),
    },
  )
  .superRefine(oneSourceOfBars)
  .superRefine(samplingTerms)
  .openapi("OptimizeRequest");
export type OptimizeRequest = z.infer<typeof OptimizeRequest>;

export const BacktestStatus = z.enum(["queued", "running", "done", "failed", "cancelled"]);
export type BacktestStatus = z.infer<typeof BacktestStatus>;

const MetricsSchema = z.record(z.string(), z.union([z.number(), z.string(), z.null()])).openapi({ example: { total_return: 0.042, sharpe: 1.3, max_drawdown: 0.08, trades: 12 } });

export const BacktestView = z
  .object({
    id: z.string(),
    status: BacktestStatus,
    kind: z.enum(["template", "code"]),
    template: z.string().nullable(),
    strategy_id: z.string().nullable(),
    strategy_version: z.number().int().nullable(),
    symbol: z.string(),
    timeframe: z.string(),
    params: z.record(z.string(), z.unknown()),
    bars_total: z.number().int(),
    bars_done: z.number().int(),
    error: z.string().nullable(),
    metrics: MetricsSchema.nullable(),
    optimization_id: z.string().nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("Backtest");

export const BacktestResultView = z
  .object({
    id: z.string(),
    metrics: MetricsSchema,
    equity: z.array(z.object({ t: z.string(), equity: z.string() })),
    drawdown: z.array(z.object({ t: z.string(), drawdown: z.number() })),
    series_points_total: z.number().int().openapi({ description: `Bar closes in the run; the series hold at most ${MAX_SERIES_POINTS} of them` }),
    downsampled: z.boolean(),
    fills: z.array(z.record(z.string(), z.unknown())),
    fills_total: z.number().int(),
    orders: z.array(z.record(z.string(), z.unknown())),
    orders_total: z.number().int(),
    unsent: z.number().int(),
    logs: z.array(z.object({ t: z.string(), text: z.string() })).openapi({ description: "The first 1,000 lines the strategy logged" }),
    logs_dropped: z.number().int().openapi({ description: "Lines logged past the first 1,000, counted and not kept" }),
  })
  .openapi("BacktestResult");

export const BacktestLogsView = z
  .object({
    id: z.string(),
    status: z.enum(["done", "failed"]),
    error: z.string().nullable().openapi({ description: "Why a failed run failed (its last callback's error, with the line)" }),
    logs: z.array(z.object({ t: z.string(), text: z.string() })).openapi({ description: "The first 1,000 lines the strategy logged; a failed run's up to its failure, the failed callback's own lines last" }),
    logs_dropped: z.number().int().openapi({ description: "Lines logged past the first 1,000, counted and not kept" }),
  })
  .openapi("BacktestLogs");

export const OptimizationView = z
  .object({
    id: z.string(),
    template: z.string().nullable(),
    metric: z.string(),
    runs: z.array(
      z.object({
        rank: z.number().int(),
        id: z.string(),
        params: z.record(z.string(), z.unknown()),
        status: BacktestStatus,
        value: z.union([z.number(), z.string(), z.null()]),
        bars_done: z.number().int(),
        bars_total: z.number().int(),
        error: z.string().nullable().openapi({ description: "why the run failed (null unless failed)" }),
      }),
    ),
  })
  .openapi("Optimization");

// ---- the job's RPC request (gateway → BacktestJob) ------------------------------------

export interface BacktestJobRequest {
  id: string;
  userId: string;
  kind: "template" | "code";
  template: string | null;
  /** Compiled JavaScript of a code strategy's version. */
  code: string | null;
  /** Validated, with the template's defaults filled in. */
  params: Record<string, unknown>;
  spec: InstrumentSpec;
  timeframe: string;
  /** Bars from the body; null when they were uploaded or come from the symbol's stored history. */
  bars: StrategyBar[] | null;
  /** Bars of a CSV upload, already stored in the job (BacktestJob.uploadBars) before its start. */
  uploadedBars: number | null;
  history: { start: number; end: number } | null;
  cash: string;
  venue: Partial<VenueConfig>;
  limits: Partial<RiskLimits>;
  halfSpreadTicks: number;
  /** Set on the runs of an optimization: its id and the metric it ranks by. */
  optimization: { id: string; metric: MetricName } | null;
  /** A saved strategy's name, for its owner's notification (absent in jobs queued before it was kept). */
  name?: string | null;
}

export interface BacktestProgress {
  id: string;
  status: BacktestStatus;
  bars_done: number;
  bars_total: number;
  error: string | null;
  metrics: MetricsView | null;
}

// ---- the user's socket: backtest_updates ----------------------------------------------

export interface BacktestUpdate {
  stream: "backtest_updates";
  data: BacktestProgress;
}

// ---- metrics as the API names them --------------------------------------------------

export type MetricsView = Record<MetricName | "bars" | "start_equity", number | string | null>;

/** The engine's metrics under their API names (snake_case). */
export function metricsView(m: Metrics): MetricsView {
  return {
    bars: m.bars,
    start_equity: m.startEquity,
    end_equity: m.endEquity,
    total_return: m.totalReturn,
    cagr: m.cagr,
    annualized_volatility: m.volatility,
    sharpe: m.sharpe,
    sortino: m.sortino,
    max_drawdown: m.maxDrawdown,
    max_drawdown_duration: m.maxDrawdownDuration,
    calmar: m.calmar,
    trades: m.trades,
    wins: m.wins,
    win_rate: m.winRate,
    profit_factor: m.profitFactor,
    expectancy: m.expectancy,
    // The mean P&L of a closed round trip, fees included: the expectancy by another name.
    average_trade: m.expectancy,
    gross_profit: m.grossProfit,
    gross_loss: m.grossLoss,
    exposure: m.exposure,
    fees: m.fees,
  };
}
