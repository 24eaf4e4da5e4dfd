import { and, count, eq, inArray, lt, sql } from "drizzle-orm";
import { notFound, tooManyRequests, unprocessable, type FieldError } from "../../shared/errors";
import { parseInstant } from "../../shared/instant";
import { parseTimestamp, priceProblem } from "../../shared/market/csv";
import { decimalToLots, decimalToTicks, InstrumentSpecSchema, PositiveDecimalString, type InstrumentSpec } from "../../shared/market/instrument";
import { bucketStart, parseTimeframe, type Timeframe } from "../../shared/market/timeframe";
import { SYMBOL_PATTERN } from "../../shared/schemas/assets";
import { MAX_ACTIVE_BACKTESTS, MAX_ACTIVE_CODE_BACKTESTS, MAX_BARS, type BacktestJobRequest, type BacktestRequest, type BacktestStatus } from "../../shared/schemas/backtests";
import type { StrategyBar } from "../../shared/strategy/runtime";
import { checkTemplateParams, instrumentRefusal, TEMPLATES, unknownTemplate, type StrategyTemplate } from "../../shared/strategy/templates";
import { instrumentSpec } from "../../shared/trading/asset";
import { startingCashProblem, tradingConfig } from "../../shared/trading/config";
import { parseMoney } from "../../shared/trading/money";
import { findAsset, instrumentSpecOf } from "../../platform/assets";
import { database, schema } from "../../platform/db";
import { jobOf } from "./objects";

// The gateway's side of backtests: a request becomes a job request (strategy resolved,
// parameters validated, bars checked, the venue's terms settled), a D1 row, and a started
// BacktestJob object. Everything a client can get wrong is found here, before a row exists.

export type BacktestRow = typeof schema.backtests.$inferSelect;

const invalid = (path: string, message: string) => unprocessable(`${path}: ${message}`, [{ path, message }]);

/** The strategy a request names: a template with parameters, or a saved strategy's version. */
export interface ResolvedStrategy {
  kind: "template" | "code";
  template: string | null;
  code: string | null;
  params: Record<string, unknown>;
  strategyId: string | null;
  strategyVersion: number | null;
  /** A saved strategy's symbol and timeframe: a backtest of it runs on them unless told otherwise. */
  symbol: string | null;
  timeframe: string | null;
  /** A saved strategy's name (what its owner calls it in notifications); null for a bare template. */
  name: string | null;
}

export async function resolveStrategy(env: Env, userId: string, body: Pick<BacktestRequest, "strategy_id" | "version" | "template" | "params">): Promise<ResolvedStrategy> {
  if (body.strategy_id !== undefined && body.template !== undefined) throw invalid("template", "name a template or a strategy_id, not both");
  if (body.strategy_id === undefined) {
    if (body.template === undefined) throw invalid("template", "name a template (or a saved strategy_id)");
    return { kind: "template", template: body.template, code: null, params: checkedParams(body.template, body.params), strategyId: null, strategyVersion: null, symbol: null, timeframe: null, name: null };
  }
  const db = database(env);
  const strategy = await db
    .select()
    .from(schema.strategies)
    .where(and(eq(schema.strategies.id, body.strategy_id), eq(schema.strategies.userId, userId)))
    .get();
  // Someone else's strategy answers exactly like a missing one.
  if (!strategy) throw notFound("strategy not found");
  const version = body.version ?? strategy.currentVersion;
  const saved = await db
    .select()
    .from(schema.strategyVersions)
    .where(and(eq(schema.strategyVersions.strategyId, strategy.id), eq(schema.strategyVersions.version, version)))
    .get();
  if (!saved) throw invalid("version", `strategy ${strategy.id} has no version ${version}`);
  const stored = JSON.parse(saved.params) as Record<string, unknown>;
  const params = { ...stored, ...body.params };
  if (strategy.kind === "template") {
    const template = saved.template ?? strategy.template ?? "";
    return { kind: "template", template, code: null, params: checkedParams(template, params), strategyId: strategy.id, strategyVersion: version, symbol: strategy.symbol, timeframe: strategy.timeframe, name: strategy.name };
  }
  if (!saved.compiled) throw invalid("version", "this version has no compiled code");
  return { kind: "code", template: null, code: saved.compiled, params, strategyId: strategy.id, strategyVersion: version, symbol: strategy.symbol, timeframe: strategy.timeframe, name: strategy.name };
}

/** The template a request names, or 422. */
export function checkedTemplate(name: string): StrategyTemplate {
  const refusal = unknownTemplate(name);
  if (refusal) throw unprocessable(refusal.message, refusal.details);
  return TEMPLATES.get(name)!;
}

/** A template's parameters with its defaults filled in (checked against `spec` when given, see checkTemplateParams); every problem as a 422 detail. */
export function checkedParams(name: string, params: unknown, prefix = "params", spec?: InstrumentSpec): Record<string, unknown> {
  const checked = checkTemplateParams(name, params, spec, prefix);
  if (checked.ok) return checked.params;
  throw unprocessable(checked.refusal.message, checked.refusal.details);
}

/**
 * The instrument: from the asset registry when the symbol is listed (its tick and lot
 * then cannot be overridden: the history and the venue use them), otherwise from
 * tick_size and lot_size, which are then required (bars from the body or a CSV only).
 */
export async function resolveSpec(env: Env, symbol: string, tickSize: string | undefined, lotSize: string | undefined): Promise<{ spec: InstrumentSpec; listed: boolean }> {
  // As orders name it: any case, a pair with or without its slash ("BTCUSD" is BTC/USD, found in QA: run as an unlisted equity).
  const row = await findAsset(env, symbol);
  if (row) {
    if (tickSize !== undefined || lotSize !== undefined) throw invalid("tick_size", `${row.symbol} is a listed asset: its tick and lot sizes come from the registry`);
    return { spec: instrumentSpecOf(row), listed: true };
  }
  if (tickSize === undefined || lotSize === undefined) throw invalid("symbol", `${symbol} is not a listed asset; give tick_size and lot_size to backtest it on your own bars`);
  // An unlisted symbol is spelled as a listed one must be: it names the run and is written
  // into its CSVs, where a cell like =HYPERLINK(…) is a formula to a spreadsheet (found in QA).
  const name = symbol.trim().toUpperCase();
  if (!SYMBOL_PATTERN.test(name)) throw invalid("symbol", "must be a ticker like AAPL or BRK.B, or a pair like BTC/USD");
  for (const [path, value] of [["tick_size", tickSize], ["lot_size", lotSize]] as const) {
    const parsed = PositiveDecimalString.safeParse(value);
    if (!parsed.success) throw invalid(path, parsed.error.issues[0]?.message ?? "must be a positive decimal");
  }
  // The symbol, tick and lot come from the client: a spec they cannot make is a 422, never a throw.
  const checked = InstrumentSpecSchema.safeParse(instrumentSpec(name, name.includes("/") ? "crypto" : "us_equity", tickSize, lotSize));
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw invalid(issue?.path[0] === "symbol" ? "symbol" : "tick_size", issue?.message ?? "does not make an instrument; check the symbol, tick_size and lot_size");
  }
  return { spec: checked.data, listed: false };
}

export function checkedTimeframe(text: string): Timeframe {
  const parsed = parseTimeframe(text);
  if (!parsed.ok) throw invalid("timeframe", parsed.message);
  return parsed.timeframe;
}

const instantOf = (path: string, value: string | number): number => {
  const ms = typeof value === "number" ? value : parseInstant(value);
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw invalid(path, `${JSON.stringify(value)} is not an RFC 3339 time with an offset, a YYYY-MM-DD date that exists or epoch milliseconds (as a number)`);
  return ms;
};

/** Posted bars as the strategy sees them, checked: strictly increasing times, prices on the tick grid, low ≤ open, close ≤ high. */
export function checkedBars(posted: NonNullable<BacktestRequest["bars"]>, spec: InstrumentSpec, timeframe: Timeframe, now: number): StrategyBar[] {
  const problems: FieldError[] = [];
  const bars: StrategyBar[] = [];
  posted.forEach((b, i) => {
    // A string was checked by the schema with the same reader (an RFC 3339 time that exists).
    const parsed = typeof b.t === "number" ? b.t : parseTimestamp(b.t);
    const t = typeof parsed === "number" ? parsed : Number.NaN;
    const problem = (message: string) => problems.length < 20 && problems.push({ path: `bars.${i}`, message });
    // Date's own range, so every time can be written back as RFC 3339.
    if (!Number.isFinite(t) || t < 0 || t > 8.64e15) return problem(`t ${JSON.stringify(b.t)} is not a time`);
    if (bars.length > 0 && t <= bars[bars.length - 1]!.t) return problem("bars must be in strictly increasing time");
    // The checks a CSV upload of the same bars meets (shared/market/csv.ts).
    const start = bucketStart(t, timeframe, spec.timeZone);
    // A number is epoch milliseconds here; one below 10^11 was most likely meant as seconds (found in QA: the refusal spoke of 1970 only).
    const unit = typeof b.t === "number" && b.t < 1e11 && b.t * 1000 <= 8.64e15 ? `; t is epoch milliseconds, and ${b.t} as seconds would be ${new Date(b.t * 1000).toISOString()}` : "";
    if (start !== t) return problem(`t ${new Date(t).toISOString()} is not the start of a ${timeframe.label} bar (that bar starts at ${new Date(start).toISOString()})${unit}`);
    if (t > now) return problem(`t ${new Date(t).toISOString()} is in the future`);
    if (decimalToLots(String(b.volume), spec) === undefined) return problem(`volume ${b.volume} is not a size >= 0 on the ${spec.lotSize} lot grid`);
    for (const key of ["open", "high", "low", "close"] as const) {
      if (decimalToTicks(String(b[key]), spec) === undefined) return problem(priceProblem(key, String(b[key]), spec.tickSize));
    }
    if (b.low > Math.min(b.open, b.close) || b.high < Math.max(b.open, b.close)) return problem("low must be ≤ open and close ≤ high");
    bars.push({ t, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume });
  });
  if (problems.length > 0) throw unprocessable(`${problems.length} bad bar${problems.length === 1 ? "" : "s"}; nothing was run`, problems);
  if (bars.length === 0) throw invalid("bars", "no bars to play");
  return bars;
}

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 28 * 86_400_000 } as const;

/** A range of the symbol's stored history, refused up front when it could hold more than MAX_BARS bars. */
export function historyRange(body: Pick<BacktestRequest, "start" | "end">, timeframe: Timeframe, timeZone: string, now: number): { start: number; end: number } {
  if (body.start === undefined && body.end === undefined) throw invalid("start", "give bars, or start and end of the symbol's stored history");
  // Each bound given is read before one missing is named, so an unreadable one is told so.
  const start = body.start === undefined ? undefined : instantOf("start", body.start);
  const last = body.end === undefined ? undefined : instantOf("end", body.end);
  if (start === undefined) throw invalid("start", "required with end: the range of the symbol's stored history to play");
  if (last === undefined) throw invalid("end", "required with start: the range of the symbol's stored history to play");
  // The bar now forming is not history yet (its close is not known): the range ends before it.
  const end = Math.min(last, bucketStart(now, timeframe, timeZone) - 1);
  if (end <= start) throw invalid("end", "must be after start, and the range must hold a completed bar");
  const most = Math.floor((end - start) / (UNIT_MS[timeframe.unit] * timeframe.amount)) + 1;
  if (most > MAX_BARS) throw invalid("end", `the range spans up to ${most} ${timeframe.label} bars; at most ${MAX_BARS}`);
  return { start, end };
}

/** The venue's terms: the platform's venue and risk limits, with the request's overrides. */
export function runTerms(env: Env, body: Pick<BacktestRequest, "cash" | "fee_bps" | "min_fee" | "half_spread_ticks" | "slippage_ticks">) {
  const platform = tradingConfig(env);
  const cash = String(body.cash ?? "100000");
  const cashProblem = startingCashProblem(cash);
  if (cashProblem) throw invalid("cash", cashProblem);
  const minFee = body.min_fee === undefined ? undefined : String(body.min_fee);
  const minFeeMoney = minFee === undefined ? undefined : parseMoney(minFee);
  if (minFee !== undefined && (minFeeMoney === undefined || minFeeMoney < 0n)) throw invalid("min_fee", "must be an amount in USD written as plain digits (like 1.50: no exponent, at most 20 digits before the point and 18 after), not negative");
  if (body.fee_bps !== undefined && Math.round(body.fee_bps * 100) !== body.fee_bps * 100) throw invalid("fee_bps", "at most two decimals");
  const venue = {
    ...platform.venue,
    ...(body.fee_bps !== undefined && { makerBps: body.fee_bps, takerBps: body.fee_bps }),
    ...(minFee !== undefined && { minFee }),
    ...(body.slippage_ticks !== undefined && { slippageTicks: body.slippage_ticks }),
  };
  return { cash, venue, limits: platform.limits, halfSpreadTicks: body.half_spread_ticks ?? 0 };
}

/** Records the backtest's row, then starts its job; a job that cannot start leaves the row failed, not queued. */
export async function startBacktest(env: Env, request: BacktestJobRequest, row: { strategyId: string | null; strategyVersion: number | null }, traceparent: string | null = null): Promise<void> {
  await startBacktests(env, [request], row, traceparent);
}

/**
 * Stores the runs' rows, queued, in one statement that inserts them only while the user's
 * queued and running backtests leave room for all of them (MAX_ACTIVE_BACKTESTS, and
 * MAX_ACTIVE_CODE_BACKTESTS for code), then starts each run's job. The count and the insert
 * are one statement, so starts that race cannot pass the cap together (found in QA: twelve
 * code runs started at once all passed a count read before any row existed). Refused: 429.
 */
export async function startBacktests(env: Env, requests: BacktestJobRequest[], row: { strategyId: string | null; strategyVersion: number | null }, traceparent: string | null = null): Promise<void> {
  const first = requests[0];
  if (!first) return;
  // The instrument is known only now: a template run's parameters (checked against its
  // schema when the request was read) are checked on it before anything is stored.
  requests.forEach((r, i) => {
    const refused = r.kind === "template" && r.template ? instrumentRefusal(r.template, r.params, r.spec, requests.length > 1 ? `combination ${i + 1} (${JSON.stringify(r.params)})` : "params") : null;
    if (refused) throw unprocessable(refused.message, refused.details);
  });
  const { userId } = first;
  // The code cap counts the code runs among them (an optimization's are all templates).
  const codeRuns = requests.filter((r) => r.kind === "code").length;
  const rows = requests.map((r) => [r.id, r.userId, row.strategyId, row.strategyVersion, r.kind, r.template, r.spec.symbol, r.timeframe, JSON.stringify(r.params), r.bars?.length ?? r.uploadedBars ?? 0, r.optimization?.id ?? null]);
  const active = (code: boolean) => sql`(SELECT COUNT(*) FROM backtests WHERE user_id = ${userId} AND status IN ('queued', 'running')${code ? sql` AND kind = 'code'` : sql``})`;
  const inserted = await database(env).run(sql`
    INSERT INTO backtests (id, user_id, strategy_id, strategy_version, kind, template, symbol, timeframe, params, status, bars_total, optimization_id)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4, r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8, 'queued', r.value ->> 9, r.value ->> 10
    FROM json_each(${JSON.stringify(rows)}) AS r
    WHERE ${active(false)} + ${requests.length} <= ${MAX_ACTIVE_BACKTESTS}
      AND (${codeRuns} = 0 OR ${active(true)} + ${codeRuns} <= ${MAX_ACTIVE_CODE_BACKTESTS})`);
  if (inserted.meta.changes !== requests.length) {
    // The count's own message; a start that raced this one took the room it saw.
    await checkRoomForRuns(env, userId, requests.length, codeRuns > 0 ? "code" : "template");
    throw tooManyRequests(`your queued and running backtests left no room for ${requests.length === 1 ? "another" : `${requests.length} more`} as this one started; wait for some to finish or cancel them (POST /api/backtests/{id}/cancel)`, 10);
  }
  await Promise.all(
    requests.map(async (request) => {
      try {
        await jobOf(env, request.id, traceparent).start(request);
      } catch (error) {
        await database(env)
          .update(schema.backtests)
          .set({ status: "failed", error: `could not start: ${String(error)}`.slice(0, 1000), finishedAt: Date.now() })
          .where(eq(schema.backtests.id, request.id))
          .run();
        throw error;
      }
    }),
  );
}

/** How long a row may stay queued before the sweep asks its job whether it ever started (a start takes a call, not minutes). */
export const UNSTARTED_AFTER_MS = 5 * 60_000;
const SWEEP_BATCH = 50;

/** Rows queued for over UNSTARTED_AFTER_MS; the statuses written out as the partial index's condition, so the scan reads unfinished rows only. */
export const longQueued = (env: Env, now: number) =>
  database(env)
    .select({ id: schema.backtests.id })
    .from(schema.backtests)
    .where(and(sql`${schema.backtests.status} IN ('queued', 'running')`, eq(schema.backtests.status, "queued"), lt(schema.backtests.createdAt, now - UNSTARTED_AFTER_MS)))
    .limit(SWEEP_BATCH);

/**
 * Fails the queued rows whose job never started: a request that died between the row's
 * insert and the job's start (the isolate ended) leaves a row that nothing will move, and
 * that counted against the user's runs at once until cancelled. Rows queued for over
 * UNSTARTED_AFTER_MS are asked of their jobs, at most SWEEP_BATCH a sweep (the cron's, each
 * minute); a job that holds its request has started, and reports its own progress. Answers
 * the ids failed.
 */
export async function failUnstartedBacktests(env: Env, now: number): Promise<string[]> {
  const db = database(env);
  const stale = await longQueued(env, now).all();
  const failed: string[] = [];
  for (const { id } of stale) {
    const job = await jobOf(env, id, null).status();
    if (job.id !== "") continue;
    const updated = await db
      .update(schema.backtests)
      .set({ status: "failed", error: "the backtest never started (the request that queued it ended first): run it again", finishedAt: now })
      .where(and(eq(schema.backtests.id, id), eq(schema.backtests.status, "queued")))
      .returning({ id: schema.backtests.id })
      .all();
    if (updated.length > 0) failed.push(id);
  }
  return failed;
}

/**
 * The count of a user's queued and running backtests, on the partial index of unfinished
 * rows: the statuses are written out as the index's condition is (bound as parameters,
 * SQLite cannot match them to it and reads every run the user has had).
 */
export const activeRuns = (env: Env, userId: string) =>
  database(env)
    .select({ active: count(), code: sql<number>`coalesce(sum(${schema.backtests.kind} = 'code'), 0)` })
    .from(schema.backtests)
    .where(and(eq(schema.backtests.userId, userId), sql`${schema.backtests.status} IN ('queued', 'running')`));

/**
 * Refuses (429) `runs` more backtests when the user's queued and running ones would then
 * number more than MAX_ACTIVE_BACKTESTS: each is an object playing up to a million bars, and
 * the request rate limit alone let a user pile up runs without end. Checked before the work
 * of preparing a run (an upload read); startBacktests holds the cap itself, in the statement
 * that stores the rows.
 */
export async function checkRoomForRuns(env: Env, userId: string, runs: number, kind: "template" | "code" = "template"): Promise<void> {
  const row = await activeRuns(env, userId).get();
  const active = row?.active ?? 0;
  const code = row?.code ?? 0;
  if (kind === "code" && code + runs > MAX_ACTIVE_CODE_BACKTESTS)
    throw tooManyRequests(`${code} of your code strategies' backtests are queued or running, and at most ${MAX_ACTIVE_CODE_BACKTESTS} may be at once (each runs your code in a sandbox of its own); wait for one to finish or cancel it (POST /api/backtests/{id}/cancel)`, 10);
  if (active + runs <= MAX_ACTIVE_BACKTESTS) return;
  const asked = runs === 1 ? "another" : `${runs} more`;
  throw tooManyRequests(`${active} of your backtests are queued or running, and at most ${MAX_ACTIVE_BACKTESTS} may be at once: ${asked} would pass that; wait for some to finish or cancel them (POST /api/backtests/{id}/cancel)`, 10);
}

/** Marks a queued or running backtest cancelled in its row; the job stops at its next report or at the cancel call, whichever comes first. */
export async function markCancelled(env: Env, id: string): Promise<void> {
  await database(env)
    .update(schema.backtests)
    .set({ status: "cancelled", finishedAt: Date.now() })
    .where(and(eq(schema.backtests.id, id), inArray(schema.backtests.status, ["queued", "running"])))
    .run();
}

/** The caller's backtest, or 404 (someone else's answers like a missing one). */
export async function ownBacktest(env: Env, userId: string, id: string): Promise<BacktestRow> {
  const row = await database(env)
    .select()
    .from(schema.backtests)
    .where(and(eq(schema.backtests.id, id), eq(schema.backtests.userId, userId)))
    .get();
  if (!row) throw notFound("backtest not found");
  return row;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function backtestView(row: BacktestRow) {
  return {
    id: row.id,
    status: row.status as BacktestStatus,
    kind: row.kind,
    template: row.template,
    strategy_id: row.strategyId,
    strategy_version: row.strategyVersion,
    symbol: row.symbol,
    timeframe: row.timeframe,
    params: JSON.parse(row.params) as Record<string, unknown>,
    bars_total: row.barsTotal,
    bars_done: row.barsDone,
    error: row.error,
    metrics: row.metrics ? (JSON.parse(row.metrics) as Record<string, number | string | null>) : null,
    optimization_id: row.optimizationId,
    created_at: iso(row.createdAt)!,
    finished_at: iso(row.finishedAt),
  };
}

const csvField = (value: unknown) => {
  const raw = value === null || value === undefined ? "" : String(value);
  // A text cell a spreadsheet would read as a formula (=, +, -, @, a tab or a return first)
  // is kept as text with a leading quote; numbers, negative ones too, stay numbers.
  const text = /^[=+\-@\t\r]/.test(raw) && !/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One CSV line with its newline; fields quoted only when they must be. */
export const csvLine = (row: readonly unknown[]): string => row.map(csvField).join(",") + "\n";

/** Rows as CSV text with a header. */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return csvLine(header) + rows.map(csvLine).join("");
}
