import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import { ApiError, conflict, notFound, unprocessable } from "../../shared/errors";
import { csvRejection, MAX_LINE_CHARS, OhlcvCsvReader } from "../../shared/market/csv";
import type { Bar } from "../../shared/market/types";
import { lotsToNumber, ticksToNumber, type InstrumentSpec } from "../../shared/market/instrument";
import type { Timeframe } from "../../shared/market/timeframe";
import { BacktestLogsView, BacktestRequest, BacktestResultView, BacktestView, MAX_BARS, MAX_OPTIMIZATION_RUNS, OptimizationView, OptimizeRequest, PACKED_BAR_WIDTH, unknownKeys, UPLOAD_CHUNK_BARS, type BacktestJobRequest } from "../../shared/schemas/backtests";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY, wholeParam } from "../../shared/schemas/common";
import { combinations, rankRuns } from "../../shared/strategy/optimize";
import type { StrategyBar } from "../../shared/strategy/runtime";
import type { FillActivity } from "../../shared/trading/ports";
import { database, schema } from "../../platform/db";
import { jobOf } from "../lib/objects";
import type { AppEnv } from "../context";
import { backtestView, checkRoomForRuns, markCancelled, checkedBars, checkedParams, checkedTemplate, checkedTimeframe, historyRange, ownBacktest, resolveSpec, resolveStrategy, runTerms, startBacktest, startBacktests, csvLine, toCsv } from "../lib/backtests";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// Backtests as jobs (docs/backtests.md): each runs in its own BacktestJob object; the D1
// row is the list's and the progress's record; results live in the object.
export const backtests = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** The CSV upload takes a file body, streamed into the job (this route counts its bytes). */
export const BACKTEST_CSV_PATH = "/api/backtests/csv";
/** A million rows at about 55 bytes each, within the 100 MB body deployed Workers accept on every plan. */
export const BACKTEST_CSV_MAX_BYTES = 96 * 1024 * 1024;
/** The two routes whose JSON body may carry bars (a run's or an optimization's): the gateway gives them a larger body limit. */
export const BACKTEST_RUN_PATH = "/api/backtests";
export const BACKTEST_OPTIMIZE_PATH = "/api/backtests/optimize";

const security = SESSION_OR_KEY;
const read = requirePermission("strategy:read");
const write = requirePermission("strategy:write");
const tags = ["backtests"];
// UUIDs are stored in lower case; clients may send either (found in QA: a capitalised id was 404).
const IdParam = z.object({ id: z.uuid({ error: "must be a backtest id (UUID)" }).transform((id) => id.toLowerCase()) });
const PAGE = 10_000;
/** What every route on one backtest (or optimization) by id shares. */
const byId = { tags, security, request: { params: IdParam } };

type RunInput = Pick<BacktestRequest, "start" | "end" | "bars" | "tick_size" | "lot_size" | "cash" | "fee_bps" | "min_fee" | "half_spread_ticks" | "slippage_ticks"> & { symbol: string; timeframe: string };

/** A backtest's timeframe when neither the request nor a saved strategy names one. */
const DEFAULT_TIMEFRAME = "1Hour";

/** An upload of the run's bars into its job, once the instrument is known; answers the bars stored. */
type Upload = (spec: InstrumentSpec, timeframe: Timeframe) => Promise<number>;

/** Where the bars come from and on what terms. */
async function prepareRun(env: Env, body: RunInput, upload?: Upload) {
  const timeframe = checkedTimeframe(body.timeframe);
  const { spec, listed } = await resolveSpec(env, body.symbol, body.tick_size, body.lot_size);
  const terms = runTerms(env, body);
  let bars: StrategyBar[] | null = null;
  let uploadedBars: number | null = null;
  let history: { start: number; end: number } | null = null;
  if (upload) uploadedBars = await upload(spec, timeframe);
  else if (body.bars) bars = checkedBars(body.bars, spec, timeframe, Date.now());
  else if (!listed) throw unprocessable(`${body.symbol} has no stored history; post its bars`, [{ path: "bars", message: "required for an unlisted symbol" }]);
  else {
    history = historyRange(body, timeframe, spec.timeZone, Date.now());
    // A range without bars is refused now rather than failing once queued (found in QA).
    const first = await env.MARKET.getByName(spec.symbol).bars(timeframe.label, { start: history.start, end: history.end, limit: 1, sort: "asc" });
    if (first.items.length === 0)
      throw unprocessable(`no ${timeframe.label} bars of ${spec.symbol} from ${new Date(history.start).toISOString()} to ${new Date(history.end).toISOString()}; choose a range the symbol's history covers, or another timeframe`, [{ path: "start", message: "no bars in the range" }]);
  }
  if (bars && bars.length > MAX_BARS) throw unprocessable(`at most ${MAX_BARS} bars per backtest`, [{ path: "bars", message: "too many bars" }]);
  return { spec, timeframe: timeframe.label, bars, uploadedBars, history, ...terms };
}

async function runOne(env: Env, userId: string, body: BacktestRequest, traceparent: string | null, upload?: (id: string) => Upload) {
  const strategy = await resolveStrategy(env, userId, body);
  // A saved strategy runs on its own symbol and timeframe unless the request names others
  // (found in QA: it ran on the request's default, 1Hour, whatever it was saved with).
  const symbol = body.symbol ?? strategy.symbol;
  if (symbol === null) throw unprocessable("symbol is required with a template", [{ path: "symbol", message: "required: the symbol whose bars to run on" }]);
  const timeframe = body.timeframe ?? strategy.timeframe ?? DEFAULT_TIMEFRAME;
  await checkRoomForRuns(env, userId, 1, strategy.kind);
  const id = crypto.randomUUID();
  const run = await prepareRun(env, { ...body, symbol, timeframe }, upload?.(id));
  const { kind, template, code, params, name } = strategy;
  // An upload had no row while it streamed in: dropped if the runs that started meanwhile took the room.
  await startBacktest(env, { id, userId, kind, template, code, params, name, ...run, optimization: null }, strategy, traceparent).catch(async (error: unknown) => {
    if (upload && error instanceof ApiError && error.status === 429) await jobOf(env, id, traceparent).discardUpload().catch(() => undefined);
    throw error;
  });
  return backtestView(await ownBacktest(env, userId, id));
}

const created = { 201: jsonContent(BacktestView, "The backtest, queued") };

backtests.openapi(
  createRoute({
    method: "post",
    path: BACKTEST_RUN_PATH,
    tags,
    summary: "Run a backtest",
    description:
      "The strategy: `template` with `params`, or a saved `strategy_id` (and `version`, default its current one; user code only this way). The bars: `bars` in the body (up to 1,000 in a body of up to 256 KiB), or `start`/`end` of the symbol's stored history at `timeframe`. Venue terms default to the platform's; `fee_bps`, `min_fee`, `slippage_ticks`, `half_spread_ticks` and `cash` override them. Progress: GET /api/backtests/{id} or the `backtest_updates` stream of /stream.",
    security,
    middleware: [write] as const,
    request: { body: jsonBody(BacktestRequest) },
    responses: { ...created, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429) },
  }),
  async (c) => c.json(await runOne(c.env, principalOf(c).userId, c.req.valid("json"), c.get("traceparent")), 201),
);

const CsvQuery = z.strictObject(
  {
    // With strategy_id, the strategy's own by default, as in POST /api/backtests (found in QA: required here).
    symbol: z.string().trim().min(1).max(24).optional().openapi({ description: "The symbol the bars are of: required with a template; with strategy_id, the strategy's own by default" }),
    timeframe: z.string().trim().optional().openapi({ description: "1Hour by default; with strategy_id, the strategy's own" }),
    template: z.string().trim().min(1).max(64).optional(),
    strategy_id: z.string().trim().min(1).max(64).optional(),
    version: wholeParam("version", 1, Number.MAX_SAFE_INTEGER).optional(),
    params: z.string().max(4000).optional().openapi({ description: "The parameters as JSON", example: '{"fast":5,"slow":20}' }),
    tick_size: z.string().max(24).optional(),
    lot_size: z.string().max(24).optional(),
    cash: z.string().max(40).optional(),
    // Digits only (found in QA: coerced, an empty fee_bps ran with no fees, 0x10 at 16 and 1e1 at 10).
    fee_bps: z
      .string()
      .trim()
      .regex(/^\d{1,4}(\.\d+)?$/, { error: "must be a number of basis points written in digits, like 7 or 2.5" })
      .transform(Number)
      .pipe(z.number().max(1000, { error: "must be at most 1000 basis points" }))
      .optional()
      .openapi({ type: "string", description: "Maker and taker fee in basis points (0 to 1000), in digits", example: "7" }),
    min_fee: z.string().max(40).optional(),
    half_spread_ticks: wholeParam("half_spread_ticks", 0, 1_000_000).default(0),
    slippage_ticks: wholeParam("slippage_ticks", 0, 1_000_000).optional(),
  },
  // Refused by name, as the JSON request's fields are: a typo such as fees_bps ran with the default fees.
  { error: unknownKeys("query parameter") },
);

backtests.openapi(
  createRoute({
    method: "post",
    path: BACKTEST_CSV_PATH,
    tags,
    summary: "Run a backtest on uploaded OHLCV bars (text/csv)",
    description: `The file as for history imports: header \`timestamp,open,high,low,close,volume\`, times aligned to \`timeframe\`, prices on the tick grid (of the listed symbol, or \`tick_size\`/\`lot_size\` for an unlisted one). Up to ${MAX_BARS} rows and ${BACKTEST_CSV_MAX_BYTES / 1024 / 1024} MiB, parsed as the body streams in (a line longer than ${MAX_LINE_CHARS} characters is refused); any bad line rejects the file with its line number and nothing runs. The other settings are the query's, as in POST /api/backtests.`,
    security,
    middleware: [write] as const,
    request: { query: CsvQuery, body: { required: true, content: { "text/csv": { schema: z.string() } } } },
    responses: { ...created, ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429) },
  }),
  async (c) => {
    const { params: paramsText, ...q } = c.req.valid("query");
    let params: Record<string, unknown> | undefined;
    try {
      params = paramsText === undefined ? undefined : (JSON.parse(paramsText) as Record<string, unknown>);
    } catch {
      throw unprocessable("params must be a JSON object", [{ path: "params", message: "not JSON" }]);
    }
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) throw unprocessable("params must be a JSON object", [{ path: "params", message: "not an object" }]);
    if (Number(c.req.header("content-length") ?? 0) > BACKTEST_CSV_MAX_BYTES) throw tooLarge();
    const body = c.req.raw.body;
    const traceparent = c.get("traceparent");
    const upload = (id: string) => (spec: InstrumentSpec, timeframe: Timeframe) => streamCsv(body, jobOf(c.env, id, traceparent), spec, timeframe);
    return c.json(await runOne(c.env, principalOf(c).userId, { ...q, params }, traceparent, upload), 201);
  },
);

const tooLarge = () => new ApiError(413, `request body is too large: at most ${BACKTEST_CSV_MAX_BYTES} bytes`);

/**
 * Parses an uploaded CSV as it streams in and stores its bars in the job a chunk at a time,
 * so a million rows never sit in the gateway's memory. A bad line stops the storing (the
 * rest is still read for the errors it holds, up to the reader's cap); the job's partial
 * upload is then discarded and nothing runs.
 */
async function streamCsv(body: ReadableStream<Uint8Array> | null, job: ReturnType<typeof jobOf>, spec: InstrumentSpec, timeframe: Timeframe): Promise<number> {
  const reader = new OhlcvCsvReader(spec, { timeframe, now: Date.now(), maxRows: MAX_BARS });
  const price = (ticks: number) => ticksToNumber(ticks, spec);
  // The chunk being filled; the job's copy is made by the call, so it is refilled after it returns.
  const chunk = new Float64Array(UPLOAD_CHUNK_BARS * PACKED_BAR_WIDTH);
  let filled = 0;
  let stored = 0;
  const take = async (bars: Bar[], final: boolean) => {
    if (reader.errors.length > 0) return;
    for (const b of bars) {
      const at = filled * PACKED_BAR_WIDTH;
      chunk[at] = b.t;
      chunk[at + 1] = price(b.o);
      chunk[at + 2] = price(b.h);
      chunk[at + 3] = price(b.l);
      chunk[at + 4] = price(b.c);
      chunk[at + 5] = lotsToNumber(b.v, spec);
      if (++filled === UPLOAD_CHUNK_BARS) {
        stored = await job.uploadBars(stored, chunk);
        filled = 0;
      }
    }
    if (final && filled > 0) {
      stored = await job.uploadBars(stored, chunk.slice(0, filled * PACKED_BAR_WIDTH));
      filled = 0;
    }
  };
  try {
    if (body) {
      // A reader and one TextDecoder rather than the body piped through a byte counter and
      // a TextDecoderStream: the body comes in pieces of a few KB (about 10,000 for a
      // million rows), and every stage of a pipe costs each piece promises of its own.
      const pieces = body.getReader();
      const decoder = new TextDecoder();
      let bytes = 0;
      try {
        for (;;) {
          const { done, value } = await pieces.read();
          if (done) break;
          bytes += value.byteLength;
          if (bytes > BACKTEST_CSV_MAX_BYTES) throw tooLarge();
          await take(reader.push(decoder.decode(value, { stream: true })), false);
          if (reader.stopped) break;
        }
        if (!reader.stopped) await take(reader.push(decoder.decode()), false);
        // The rest of a body the reader stopped on (at its cap of errors) is read and dropped,
        // up to the size limit: answered with its body half read, the request left wrangler
        // dev's connection to the runtime broken, and the client's next request got a 503.
        else while (bytes <= BACKTEST_CSV_MAX_BYTES) {
          const { done, value } = await pieces.read();
          if (done) break;
          bytes += value.byteLength;
        }
      } finally {
        // What is still unread (a body over the limit) is not wanted.
        await pieces.cancel().catch(() => undefined);
      }
    }
    await take(reader.end(), true);
  } catch (error) {
    await job.discardUpload().catch(() => undefined);
    throw error;
  }
  const errors = reader.errors;
  if (errors.length > 0 || stored === 0) {
    await job.discardUpload();
    if (errors.length === 0) throw unprocessable("CSV rejected: it has no rows; nothing was run", [{ path: "line 2", message: "no bars after the header: add one row per bar below it" }]);
    throw unprocessable(csvRejection(errors, "nothing was run"), errors.map((e) => ({ path: `line ${e.line}`, message: e.message })));
  }
  return stored;
}

// ---- optimization (before /{id}, whose paths it would otherwise shadow) ------------------

backtests.openapi(
  createRoute({
    method: "post",
    path: BACKTEST_OPTIMIZE_PATH,
    tags,
    summary: "Optimize a template's parameters: one backtest per parameter set",
    description: `\`ranges\` maps parameters to \`{values: [...]}\` or \`{from, to, step}\`; \`mode\` grid (every combination) or random (\`samples\` sets drawn with \`seed\`). Every set is checked against the template's schema before anything runs; at most ${MAX_OPTIMIZATION_RUNS} sets. Runs are ranked by \`metric\`.`,
    security,
    middleware: [write] as const,
    request: { body: jsonBody(OptimizeRequest) },
    responses: { 201: jsonContent(OptimizationView, "The optimization, its runs queued"), ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
  }),
  async (c) => {
    const { userId } = principalOf(c);
    const body = c.req.valid("json");
    // The base parameters need not fit alone (a range may supply what they lack); each set must.
    checkedTemplate(body.template);
    const sets = combinations(body.params, body.ranges, { mode: body.mode, cap: MAX_OPTIMIZATION_RUNS, ...(body.samples != null && { samples: body.samples }), ...(body.seed != null && { seed: body.seed }) });
    if (!sets.ok) throw unprocessable(sets.message, [{ path: "ranges", message: sets.message }]);
    const params = sets.sets.map((set, i) => checkedParams(body.template, set, `combination ${i + 1} (${JSON.stringify(set)})`));
    await checkRoomForRuns(c.env, userId, params.length);
    const run = await prepareRun(c.env, body);
    const id = crypto.randomUUID();
    const optimization = { id, metric: body.metric };
    const jobs: BacktestJobRequest[] = params.map((p) => ({ id: crypto.randomUUID(), userId, kind: "template", template: body.template, code: null, params: p, ...run, optimization }));
    // Each run is its own object, so they run in parallel.
    // One statement stores every run's row, or none when they would pass the cap; then each job starts.
    await startBacktests(c.env, jobs, { strategyId: null, strategyVersion: null }, c.get("traceparent"));
    return c.json(await optimizationView(c.env, userId, id, c.get("traceparent")), 201);
  },
);

async function optimizationView(env: Env, userId: string, id: string, traceparent: string | null) {
  const rows = await database(env)
    .select()
    .from(schema.backtests)
    .where(and(eq(schema.backtests.userId, userId), eq(schema.backtests.optimizationId, id)))
    .orderBy(schema.backtests.createdAt, schema.backtests.id)
    .all();
  if (rows.length === 0) throw notFound("optimization not found");
  // The optimization's terms travel with each of its runs (a run whose job never started has none).
  const first = rows[0]!;
  let metric: string | undefined;
  for (const row of rows) {
    metric = (await jobOf(env, row.id, traceparent).optimization())?.metric;
    if (metric) break;
  }
  if (!metric) throw notFound("optimization not found");
  const runs = rows.map((row) => {
    const view = backtestView(row);
    return { id: view.id, params: view.params, status: view.status, value: view.metrics?.[metric] ?? null, bars_done: view.bars_done, bars_total: view.bars_total, error: view.error };
  });
  return { id, template: first.template, metric, runs: rankRuns(runs, metric).map((r, i) => ({ rank: i + 1, ...r })) };
}

backtests.openapi(
  createRoute({
    method: "get",
    path: "/api/backtests/optimize/{id}",
    ...byId,
    summary: "An optimization's runs, best first by its metric (unfinished and undefined last)",
    middleware: [read] as const,
    responses: { 200: jsonContent(OptimizationView, "The ranked runs"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => c.json(await optimizationView(c.env, principalOf(c).userId, c.req.valid("param").id, c.get("traceparent")), 200),
);

// ---- one backtest ---------------------------------------------------------------------

backtests.openapi(
  createRoute({
    method: "get",
    path: "/api/backtests",
    tags,
    summary: "The caller's backtests, newest first",
    description: "A page of at most `limit`; when it is full, a `Link` header (rel=\"next\") names the next, older page: the same request with `before` set to the page's last id.",
    security,
    middleware: [read] as const,
    request: {
      // Unknown parameters refused by name, as the upload's are (found in QA: status=done listed every run).
      query: z.strictObject(
        {
          limit: wholeParam("limit", 1, 500).default(50),
          before: z.uuid({ error: "must be a backtest id (UUID)" }).optional().openapi({ description: "Only backtests older than this one of yours (the last id of the page before)" }),
        },
        { error: unknownKeys("query parameter") },
      ),
    },
    responses: { 200: jsonContent(z.array(BacktestView), "Backtests"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const { limit, before } = c.req.valid("query");
    const userId = principalOf(c).userId;
    const db = database(c.env);
    const t = schema.backtests;
    let older: SQL | undefined;
    if (before !== undefined) {
      // Keyset paging on (created_at, id), the list's order: rows added meanwhile neither repeat nor shift a page.
      const from = await db.select({ createdAt: t.createdAt }).from(t).where(and(eq(t.id, before.toLowerCase()), eq(t.userId, userId))).get();
      if (!from) throw unprocessable("Invalid format for parameter before: not one of your backtests", [{ path: "before", message: "not one of your backtests" }]);
      older = or(lt(t.createdAt, from.createdAt), and(eq(t.createdAt, from.createdAt), lt(t.id, before.toLowerCase())));
    }
    const rows = await db
      .select()
      .from(t)
      .where(and(eq(t.userId, userId), older))
      .orderBy(desc(t.createdAt), desc(t.id))
      .limit(limit)
      .all();
    if (rows.length === limit) c.header("Link", `</api/backtests?${new URLSearchParams({ limit: String(limit), before: rows.at(-1)!.id })}>; rel="next"`);
    return c.json(rows.map(backtestView), 200);
  },
);

backtests.openapi(
  createRoute({
    method: "get",
    path: "/api/backtests/{id}",
    ...byId,
    summary: "A backtest: status, progress, metrics",
    middleware: [read] as const,
    responses: { 200: jsonContent(BacktestView, "The backtest"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => c.json(backtestView(await ownBacktest(c.env, principalOf(c).userId, c.req.valid("param").id)), 200),
);

backtests.openapi(
  createRoute({
    method: "post",
    path: "/api/backtests/{id}/cancel",
    ...byId,
    summary: "Stop a queued or running backtest (a finished one is left as it is)",
    middleware: [write] as const,
    responses: { 200: jsonContent(BacktestView, "The backtest after the cancel"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { userId } = principalOf(c);
    const { id } = c.req.valid("param");
    await ownBacktest(c.env, userId, id);
    // The row first: the job reads it at every progress report, so the cancel holds even if
    // the call below is lost (it is not retried).
    await markCancelled(c.env, id);
    // Then the job, awaited: it stops within a chunk and writes the bars it played into the
    // row, so the answer says where the run stopped (found in QA: answered from the row's
    // last report, up to a second old, its bars_done then grew after "cancelled").
    await jobOf(c.env, id, c.get("traceparent"))
      .cancel()
      .catch(() => undefined);
    return c.json(backtestView(await ownBacktest(c.env, userId, id)), 200);
  },
);

/** A finished backtest's object, or 409 while it is not done. */
async function finishedJob(env: Env, userId: string, id: string, traceparent: string | null) {
  const row = await ownBacktest(env, userId, id);
  const job = jobOf(env, id, traceparent);
  const result = await job.result();
  if (!result) {
    // A failed or cancelled run never gets results: say so, rather than "wait".
    throw conflict(
      row.status === "queued" || row.status === "running"
        ? `backtest is ${row.status}: no results yet; try again once it is done (GET /api/backtests/{id} shows progress)`
        : `backtest ${row.status === "failed" ? "failed" : row.status === "cancelled" ? "was cancelled" : `is ${row.status}`}: it has no results; start a new backtest`,
    );
  }
  return { job, result };
}

const iso = (t: number) => new Date(t).toISOString();
/** A log line's answer: its time was bounded to one a Date holds when the host took it (hostLine). */
const logLine = (l: { t: number; text: string }) => ({ t: iso(l.t), text: l.text });

backtests.openapi(
  createRoute({
    method: "get",
    path: "/api/backtests/{id}/result",
    ...byId,
    summary: "A finished backtest's report: metrics, equity and drawdown, fills and orders",
    description: `Equity and drawdown at every bar close, thinned to at most 20,000 points (every k-th close, the last, and the deepest drawdown). Up to ${PAGE} fills and orders; the fills CSV has them all.`,
    middleware: [read] as const,
    responses: { 200: jsonContent(BacktestResultView, "The report"), ...errorResponses(401, 403, 404, 409, 422, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { job, result } = await finishedJob(c.env, principalOf(c).userId, id, c.get("traceparent"));
    const [fills, orders] = await Promise.all([job.fills(0, PAGE), job.orders(0, PAGE)]);
    return c.json(
      {
        id,
        metrics: result.metrics,
        equity: result.equity.map((p) => ({ t: iso(p.t), equity: p.equity })),
        drawdown: result.drawdown.map((p) => ({ t: iso(p.t), drawdown: p.drawdown })),
        series_points_total: result.seriesPointsTotal,
        downsampled: result.downsampled,
        fills: fills.items,
        fills_total: fills.total,
        orders: orders.items,
        orders_total: orders.total,
        unsent: result.unsent,
        logs: result.logs.map(logLine),
        logs_dropped: result.logsDropped ?? 0,
      },
      200,
    );
  },
);

backtests.openapi(
  createRoute({
    method: "get",
    path: "/api/backtests/{id}/logs",
    ...byId,
    summary: "What a finished or failed backtest's strategy logged",
    description: "A failed run has no results but keeps its log up to the failure (the failed callback's own lines last), so its owner can read what led there. 409 while the run is queued or running, and for a cancelled run.",
    middleware: [read] as const,
    responses: { 200: jsonContent(BacktestLogsView, "The log"), ...errorResponses(401, 403, 404, 409, 422, 429) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const row = await ownBacktest(c.env, principalOf(c).userId, id);
    const logs = row.status === "done" || row.status === "failed" ? await jobOf(c.env, id, c.get("traceparent")).logs() : null;
    if (!logs) {
      throw conflict(
        row.status === "queued" || row.status === "running" ? `backtest is ${row.status}: its log is kept when it ends; try again once it is done` : `backtest ${row.status === "cancelled" ? "was cancelled" : `is ${row.status}`}: it kept no log`,
      );
    }
    return c.json({ id, status: row.status as "done" | "failed", error: row.error ?? null, logs: logs.logs.map(logLine), logs_dropped: logs.logsDropped }, 200);
  },
);

const FILL_COLUMNS = ["transaction_time", "symbol", "side", "qty", "price", "fee", "liquidity", "type", "order_id", "execution_id", "leaves_qty", "cum_qty", "realized_pl"] as const satisfies readonly (keyof FillActivity)[];
const download = (path: string, summary: string) =>
  createRoute({
    method: "get",
    path,
    ...byId,
    summary,
    middleware: [read] as const,
    responses: { 200: { description: "CSV file", content: { "text/csv": { schema: z.string() } } }, ...errorResponses(401, 403, 404, 409, 422, 429) },
  });
const csvResponse = (body: string | ReadableStream<Uint8Array>, name: string) =>
  new Response(body, { status: 200, headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${name}"` } });

// A run can have hundreds of thousands of fills (57 MB of CSV for 386,000): they go out a
// page at a time as the client reads, so the file is never whole in the isolate's memory.
// A page that fails to load ends the body early (the client sees an aborted transfer).
const FILLS_CSV_PAGE = 2_000;
backtests.openapi(download("/api/backtests/{id}/fills.csv", "Every fill of a finished backtest, as CSV"), async (c) => {
  const { id } = c.req.valid("param");
  const { job } = await finishedJob(c.env, principalOf(c).userId, id, c.get("traceparent"));
  const encoder = new TextEncoder();
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(csvLine(FILL_COLUMNS)));
    },
    async pull(controller) {
      const page = await job.fills(offset, FILLS_CSV_PAGE);
      offset += FILLS_CSV_PAGE;
      if (page.items.length > 0) controller.enqueue(encoder.encode(page.items.map((fill) => csvLine(FILL_COLUMNS.map((k) => fill[k]))).join("")));
      if (page.items.length === 0 || offset >= page.total) controller.close();
    },
  });
  return csvResponse(body, `backtest-${id}-fills.csv`);
});

backtests.openapi(download("/api/backtests/{id}/equity.csv", "The equity and drawdown series of a finished backtest, as CSV"), async (c) => {
  const { id } = c.req.valid("param");
  const { result } = await finishedJob(c.env, principalOf(c).userId, id, c.get("traceparent"));
  const rows = result.equity.map((p, i) => [iso(p.t), p.equity, result.drawdown[i]?.drawdown ?? ""]);
  const response = csvResponse(toCsv(["t", "equity", "drawdown"], rows), `backtest-${id}-equity.csv`);
  // A long run's series is thinned (MAX_SERIES_POINTS); the file says how far (found in QA:
  // only the JSON's downsampled did, and a drawdown read from the file came out smaller).
  response.headers.set("x-redfire-series", `${result.equity.length} of ${result.seriesPointsTotal} points`);
  return response;
});
