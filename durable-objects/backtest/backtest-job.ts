import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { database, schema } from "../../platform/db";
import { logger } from "../../platform/log";
import { domainEvent } from "../../shared/events";
import { runCodeBacktest, StrategyCodeError } from "../../platform/sandbox";
import { MAX_BARS, MAX_SERIES_POINTS, metricsView, PACKED_BAR_WIDTH, type BacktestJobRequest, type BacktestProgress } from "../../shared/schemas/backtests";
import { Backtest, backtestReport, STEP_COMMAND_BUDGET, type BacktestReport, type BarFeed, type RunLogs } from "../../shared/strategy/backtest";
import { failedCallbackLogs } from "../../shared/strategy/invoke";
import { hostLine, LOG_LINES, type StrategyBar } from "../../shared/strategy/runtime";
import type { OrderView } from "../../shared/trading/orders";
import type { FillActivity } from "../../shared/trading/ports";
import { TEMPLATES } from "../../shared/strategy/templates";
import { BARS_PER_ROW, JobStore, type JobState } from "./store";

// One backtest per object, named by the backtest's id. `start` records the request and
// arms the alarm; the alarm re-arms itself, then plays chunks of CHUNK_BARS bars for up to
// SLICE_MS with a turn of the event loop after each, in which `status` and `cancel` get
// in. Progress goes to the object's storage every chunk and to the D1 row and the owner's
// socket (backtest_updates) at most once a second, and at every change of status.
//
// The run itself lives in memory (shared/strategy/backtest.ts). An object that is evicted
// or restarted mid-run loses it; the next alarm (still armed) starts again from bar 0 on the
// stored bars and, the backtest being deterministic, reaches the same result. Progress then
// goes back to 0 once. A code strategy runs its whole loop in the sandbox from one alarm
// (one call per chunk and a turn of the event loop after each, platform/sandbox.ts, in
// which cancel and status get in).

const log = logger("backtest-job");
/** About 0.05–0.2 s of bars in workerd: short enough for cancel and status to wait on. */
const CHUNK_BARS = 2_000;
/** Starts of one code run before it is failed rather than started again (see #runCode). */
export const MAX_CODE_STARTS = 3;

/**
 * How long one alarm plays chunks before the next alarm takes over: far inside the
 * runtime's CPU limit per invocation. Re-arming the alarm after every chunk cost about
 * 4.2 ms of scheduling a chunk under local workerd (2.1 s of a million-bar run); the turn
 * of the event loop after a chunk (its writes commit there) about 2.6 ms.
 */
const SLICE_MS = 1_000;
const REPORT_EVERY_MS = 1_000;
const HISTORY_PAGE = 10_000;
/** An upload not started within this long was abandoned. */
const ABANDONED_UPLOAD_MS = 3_600_000;
const TERMINAL = new Set(["done", "failed", "cancelled"]);

export class BacktestJob extends DurableObject<Env> {
  readonly #store: JobStore;
  #run: Backtest<Record<string, unknown>> | undefined;
  #reportedAt = 0;
  /** The writes of a stop in progress (a cancel's, or the row's cancel seen by the run). */
  #stopped: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new JobStore(ctx.storage);
  }

  /**
   * Stores a chunk of an uploaded file's bars before the job starts (the gateway streams a
   * CSV of up to MAX_BARS rows through here, a chunk per call, packed as PACKED_BAR_WIDTH
   * numbers a bar); answers the bars stored.
   */
  async uploadBars(offset: number, packed: Float64Array): Promise<number> {
    if (this.#store.request()) throw new Error("the backtest has started; its bars are fixed");
    if (!(packed instanceof Float64Array) || packed.length % PACKED_BAR_WIDTH !== 0) throw new TypeError(`an upload chunk is a Float64Array of ${PACKED_BAR_WIDTH} numbers a bar`);
    const count = packed.length / PACKED_BAR_WIDTH;
    if (offset + count > MAX_BARS) throw new RangeError(`at most ${MAX_BARS} bars per backtest`);
    const stored = this.#store.upload(offset, packed);
    // An upload the gateway never finished (it died mid-file) is deleted by this alarm; start() re-arms it at once.
    if (offset === 0) await this.ctx.storage.setAlarm(Date.now() + ABANDONED_UPLOAD_MS);
    return stored;
  }

  /** An upload that was refused (a bad line) leaves nothing behind. */
  async discardUpload(): Promise<void> {
    if (this.#store.request()) return;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  /** Records the job and starts it; a second start of the same job only answers its status. */
  async start(request: BacktestJobRequest): Promise<BacktestProgress> {
    if (this.#store.request()) return this.status();
    const { bars, uploadedBars } = request;
    if (uploadedBars !== null && this.#store.uploaded() !== uploadedBars) throw new Error(`the upload is incomplete: ${this.#store.uploaded()} of ${uploadedBars} bars stored`);
    const total = bars?.length ?? uploadedBars ?? 0;
    this.#store.create(request, { status: "queued", barsDone: 0, barsTotal: total, error: null, metrics: null, loaded: bars !== null || uploadedBars !== null, reported: false, finishedAt: null });
    await this.ctx.storage.setAlarm(Date.now());
    return this.status();
  }

  status(): BacktestProgress {
    const request = this.#store.request();
    const state = this.#store.state();
    if (!request || !state) return { id: "", status: "failed", bars_done: 0, bars_total: 0, error: "no such backtest", metrics: null };
    return { id: request.id, status: state.status, bars_done: state.barsDone, bars_total: state.barsTotal, error: state.error, metrics: state.metrics };
  }

  async cancel(): Promise<BacktestProgress> {
    const state = this.#store.state();
    if (state && !TERMINAL.has(state.status)) {
      this.#run = undefined;
      this.#store.setState({ ...state, status: "cancelled", finishedAt: Date.now() });
      await this.#stopping(async () => {
        await this.ctx.storage.deleteAlarm();
        await this.#report(true);
      });
    } else {
      // A cancel that finds the run already stopping answers once the row has its count, as
      // the first does (found in QA: three cancels at once, two answered a second-old count).
      await this.#stopped;
    }
    return this.status();
  }

  #stopping(work: () => Promise<void>): Promise<void> {
    const done = this.#stopped.then(work);
    this.#stopped = done.catch(() => undefined);
    return done;
  }

  /** The optimization this run belongs to (its id and metric), or null. */
  optimization() {
    return this.#store.request()?.optimization ?? null;
  }

  // ---- results (RPC) ------------------------------------------------------------------

  result() {
    const summary = this.#store.summary();
    const state = this.#store.state();
    if (!summary || state?.status !== "done") return null;
    return {
      metrics: state.metrics!,
      equity: this.#store.series<string>("equity").map(([t, equity]) => ({ t, equity })),
      drawdown: this.#store.series<number>("drawdown").map(([t, drawdown]) => ({ t, drawdown })),
      ...summary,
    };
  }

  /** A finished or failed run's log (a failed one's until it failed); null while it runs, or if it was cancelled. */
  logs(): RunLogs | null {
    const status = this.#store.state()?.status;
    if (status !== "done" && status !== "failed") return null;
    return this.#store.logs() ?? { logs: [], logsDropped: 0 };
  }

  fills(offset: number, limit: number): { items: FillActivity[]; total: number } {
    return this.#store.page<FillActivity>("fills", offset, limit);
  }

  orders(offset: number, limit: number): { items: OrderView[]; total: number } {
    return this.#store.page<OrderView>("orders", offset, limit);
  }

  // ---- the run --------------------------------------------------------------------------

  // At-least-once: every step reads the stored state first, so a repeated alarm only plays on.
  override async alarm(): Promise<void> {
    const request = this.#store.request();
    const state = this.#store.state();
    // Only an abandoned upload arms an alarm before the job starts.
    if (!request) return this.discardUpload();
    if (!state) return;
    if (TERMINAL.has(state.status)) {
      if (!state.reported) await this.#report(true);
      return;
    }
    try {
      if (!state.loaded) await this.#loadHistory(request);
      // A cancel may have come in while the history was read.
      if (TERMINAL.has(this.#store.state()!.status)) return;
      if (request.kind === "code") await this.#runCode(request);
      else await this.#playSlice(request);
    } catch (error) {
      // Where the run failed, not its last progress report (up to a chunk before, or none).
      const played = error instanceof StrategyCodeError && error.barsDone !== null ? error.barsDone : this.#run?.barsDone;
      const logs = error instanceof StrategyCodeError ? sandboxLogs(error) : (this.#run?.logsSoFar(failedCallbackLogs(error)) ?? null);
      this.#run = undefined;
      const now = this.#store.state()!;
      if (TERMINAL.has(now.status)) return;
      this.#store.fail({ ...now, status: "failed", error: messageOf(error), finishedAt: Date.now(), ...(played !== undefined && played > now.barsDone && { barsDone: played }) }, logs);
      await this.#report(true);
    }
  }

  /**
   * Plays chunks for up to SLICE_MS. The next alarm is armed first, so an object that dies
   * mid-slice plays on from it (from bar 0: the run is in memory); a run that ends in the
   * slice leaves it to find the job finished.
   */
  async #playSlice(request: BacktestJobRequest): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now());
    const until = Date.now() + SLICE_MS;
    while (await this.#playChunk(request)) {
      if (Date.now() >= until) return;
      await scheduler.wait(0);
    }
  }

  /** Plays one chunk; answers whether the run goes on. */
  async #playChunk(request: BacktestJobRequest): Promise<boolean> {
    if (!this.#run) {
      this.#store.clearRun();
      this.#run = this.#templateRun(request, this.#bars());
    }
    const run = this.#run;
    const sent = run.commandsSent;
    await run.step(CHUNK_BARS, () => run.commandsSent - sent > STEP_COMMAND_BUDGET);
    const state = this.#store.state()!;
    if (TERMINAL.has(state.status) || this.#run !== run) return false;
    // Settled orders and fills go to storage as the run makes them (the last take, the rest).
    this.#store.keep(run.take());
    if (run.done) {
      // A cancel the gateway marked in the row since the last report (they are a second
      // apart) still wins over a run that ends first: the user asked before it was done.
      if (await this.#rowCancelled()) return false;
      await this.#finish(backtestReport(run.result(), MAX_SERIES_POINTS));
      return false;
    }
    this.#store.setState({ ...state, status: "running", barsDone: run.barsDone, barsTotal: run.total });
    await this.#report(state.status !== "running");
    return !TERMINAL.has(this.#store.state()!.status) && this.#run === run;
  }

  /** The stored bars, read a row at a time as the run plays them. */
  #bars(): BarFeed {
    return this.#store.barFeed(this.#store.state()!.barsTotal);
  }

  async #runCode(request: BacktestJobRequest): Promise<void> {
    const bars = this.#bars();
    const state = this.#store.state()!;
    // A run that took its worker down (out of memory, or a loop only the CPU limit ends,
    // which local workerd does not enforce) would be started again by the armed alarm after
    // every restart, and take it down again (found in QA): each start is stored before the
    // code runs, and the one past MAX_CODE_STARTS fails the job instead.
    const starts = (state.codeStarts ?? 0) + 1;
    if (starts > MAX_CODE_STARTS) throw new Error(`the strategy's code stopped its worker ${MAX_CODE_STARTS} times without finishing (out of memory, or a loop the loop budget cannot see); it is not run again`);
    this.#store.setState({ ...state, status: "running", barsDone: 0, barsTotal: bars.length, codeStarts: starts });
    await this.ctx.storage.sync();
    this.#store.clearRun();
    await this.#report(true);
    const { code, limits, halfSpreadTicks, cash, venue, spec, params } = request;
    const outcome = await runCodeBacktest(this.env, { code: code ?? "", bars, spec, params, cash, venue, limits, halfSpreadTicks, maxSeriesPoints: MAX_SERIES_POINTS }, {
      chunkBars: CHUNK_BARS,
      onSettled: (part) => this.#store.keep(part),
      onProgress: async (done, total) => {
        const now = this.#store.state()!;
        if (now.status !== "running") return false;
        this.#store.setState({ ...now, barsDone: done, barsTotal: total });
        // The report (at most once a second, as for a template run) updates the row only
        // while it is queued or running, so it finds a cancel the gateway marked there. A
        // read of the row after every chunk cost about 4 ms a chunk (2 s of a million bars).
        await this.#report(false);
        return this.#store.state()!.status === "running";
      },
    });
    if ("cancelled" in outcome || this.#store.state()!.status !== "running") return;
    if (await this.#rowCancelled()) return;
    await this.#finish(outcome);
  }

  #templateRun(request: BacktestJobRequest, bars: BarFeed): Backtest<Record<string, unknown>> {
    const template = request.template ? TEMPLATES.get(request.template) : undefined;
    if (!template) throw new Error(`unknown template ${request.template ?? "(none)"}`);
    const { spec, params, cash, venue, limits, halfSpreadTicks } = request;
    return new Backtest({ strategy: template.create(), bars, spec, params, cash, venue, limits, halfSpreadTicks });
  }

  async #finish(result: BacktestReport): Promise<void> {
    this.#run = undefined;
    const state = this.#store.state()!;
    const final: JobState = { ...state, status: "done", barsDone: state.barsTotal, metrics: metricsView(result.metrics), finishedAt: Date.now(), reported: false };
    this.#store.finish(result, final);
    await this.#report(true);
  }

  /**
   * Reads the symbol's stored bars over the range into the job's storage, once, writing
   * whole rows as the pages come (never all the bars in memory). A restart meanwhile reads
   * them again from the first page, over what was stored; only the count marks them loaded.
   */
  async #loadHistory(request: BacktestJobRequest): Promise<void> {
    const range = request.history;
    if (!range) throw new Error("the backtest has neither bars nor a history range");
    const market = this.env.MARKET.getByName(request.spec.symbol);
    let stored = 0;
    let pending: StrategyBar[] = [];
    let cursor: [number, number] | undefined;
    for (;;) {
      const page = await market.bars(request.timeframe, { start: range.start, end: range.end, limit: HISTORY_PAGE, sort: "asc", ...(cursor && { cursor }) });
      for (const b of page.items) pending.push({ t: Date.parse(b.t), open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v });
      if (stored + pending.length > MAX_BARS) throw new Error(`the range holds more than ${MAX_BARS} bars; narrow it or use a coarser timeframe`);
      const whole = pending.length - (pending.length % BARS_PER_ROW);
      if (whole > 0 || !page.next) {
        const rows = page.next ? pending.slice(0, whole) : pending;
        this.#store.putBars(rows, stored);
        stored += rows.length;
        pending = pending.slice(rows.length);
      }
      if (!page.next) break;
      cursor = [page.next[0]!, page.next[1]!];
    }
    if (stored === 0) throw new Error(`no ${request.timeframe} bars of ${request.spec.symbol} in the range`);
    // Read again: the state may have changed (a cancel) while the pages were awaited.
    const state = this.#store.state()!;
    if (TERMINAL.has(state.status)) return;
    this.#store.setState({ ...state, loaded: true, barsTotal: stored });
  }

  /** Whether the gateway marked the row cancelled; if so the job is now cancelled too. One small D1 read. */
  async #rowCancelled(finished?: JobState): Promise<boolean> {
    const row = await database(this.env).select({ status: schema.backtests.status }).from(schema.backtests).where(eq(schema.backtests.id, this.#store.request()!.id)).get();
    if (row?.status !== "cancelled") return false;
    const state = this.#store.state()!;
    // A cancel marked between the last look at the row and the final write (found in QA: a
    // cancelled row whose results answered 200): the cancel still wins, and the job agrees.
    if (!TERMINAL.has(state.status) || (finished && state.status === "done")) await this.#cancelledByRow(state);
    return true;
  }

  /** The row says cancelled (the gateway's mark): the run stops here, as on a cancel call. */
  async #cancelledByRow(state: JobState): Promise<void> {
    this.#run = undefined;
    this.#store.setState({ ...state, status: "cancelled", metrics: null, finishedAt: Date.now(), reported: true });
    await this.#stopping(async () => {
      await this.ctx.storage.deleteAlarm();
      await this.#recordCancelledProgress(state.barsDone);
    });
    await this.env.ACCOUNT.getByName(this.#store.request()!.userId).notify("backtest_updates", this.status()).catch(() => undefined);
  }

  /**
   * The bars a cancelled run played, into a row the gateway already marked cancelled: its
   * last progress report may be a second old, and the owner's socket gets the job's count.
   * Best effort (the row keeps the older count if this fails).
   */
  async #recordCancelledProgress(barsDone: number): Promise<void> {
    await database(this.env)
      .update(schema.backtests)
      .set({ barsDone })
      .where(and(eq(schema.backtests.id, this.#store.request()!.id), eq(schema.backtests.status, "cancelled")))
      .run()
      .catch((error: unknown) => log("warn", "could not record a cancelled backtest's progress", { backtest: this.#store.request()!.id, error: String(error) }));
  }

  /** The D1 row and the owner's socket; throttled unless `force`. Best effort: a failed final report is retried by the next alarm. */
  async #report(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.#reportedAt < REPORT_EVERY_MS) return;
    this.#reportedAt = now;
    const request = this.#store.request();
    const state = this.#store.state();
    if (!request || !state) return;
    const progress = this.status();
    const terminal = TERMINAL.has(state.status);
    try {
      // Only a row still queued or running is updated: the gateway marks a cancel in the row
      // first, so a cancel reaches the run even if the call to this object is lost.
      const written = await database(this.env)
        .update(schema.backtests)
        .set({ status: state.status, barsDone: state.barsDone, barsTotal: state.barsTotal, error: state.error, metrics: state.metrics ? JSON.stringify(state.metrics) : null, finishedAt: state.finishedAt })
        .where(and(eq(schema.backtests.id, request.id), inArray(schema.backtests.status, ["queued", "running"])))
        .run();
      const now = this.#store.state()!;
      if (terminal) this.#store.setState({ ...now, reported: true });
      // Only the write that ended the row announces the end: a repeated final report matches no row.
      if (terminal && written.meta.changes > 0) await publishFinished(this.env, request, progress);
      else if (written.meta.changes === 0 && now.status === "cancelled") await this.#recordCancelledProgress(now.barsDone);
      else if (written.meta.changes === 0 && !TERMINAL.has(now.status)) return await this.#cancelledByRow(now);
      else if (written.meta.changes === 0 && now.status === "done" && (await this.#rowCancelled(now))) return;
    } catch (error) {
      log("warn", "could not record backtest progress", { backtest: request.id, error: String(error) });
      if (terminal) await this.ctx.storage.setAlarm(Date.now() + REPORT_EVERY_MS);
    }
    try {
      await this.env.ACCOUNT.getByName(request.userId).notify("backtest_updates", progress);
    } catch (error) {
      log("warn", "could not notify the owner's sockets", { backtest: request.id, error: String(error) });
    }
  }
}

/** A finished or failed run tells its owner (docs/notifications.md); an optimization's many runs and a cancelled one do not. */
async function publishFinished(env: Env, request: BacktestJobRequest, progress: BacktestProgress): Promise<void> {
  if (request.optimization || (progress.status !== "done" && progress.status !== "failed")) return;
  const data = { user_id: request.userId, backtestId: request.id, symbol: request.spec.symbol, timeframe: request.timeframe, template: request.template, name: request.name ?? null, status: progress.status, error: progress.error, total_return: progress.metrics?.total_return ?? null };
  const event = domainEvent("backtest.completed", `user:${request.userId}`, data, null);
  try {
    await env.EVENTS.send(event, { contentType: "json" });
  } catch (error) {
    log("warn", "event publish failed", { eventId: event.id, type: event.type, backtest: request.id, error: String(error) });
  }
}

/** A code run's log as its sandbox reported it with the failure, held to the host's limits (the code may have patched its isolate's built-ins). */
function sandboxLogs(error: StrategyCodeError): RunLogs {
  const lines = (Array.isArray(error.logs) ? error.logs : []).filter((l) => typeof l === "object" && l !== null);
  const dropped = Number.isSafeInteger(error.logsDropped) && error.logsDropped > 0 ? error.logsDropped : 0;
  return { logs: lines.slice(0, LOG_LINES).map(hostLine), logsDropped: dropped + Math.max(0, lines.length - LOG_LINES) };
}

/** A failure as its owner reads it: user code's as the live strategy says it ("Error: boom (line 3, column 9)"), without the host's class name. */
const messageOf = (error: unknown): string => (error instanceof Error ? `${error.name === "Error" || error instanceof StrategyCodeError ? "" : `${error.name}: `}${error.message}` : String(error)).slice(0, 1000);
