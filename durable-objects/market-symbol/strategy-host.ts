import { openStrategySandbox, StrategyCodeError, type StrategySandboxHandle } from "../../platform/sandbox";
import { logger } from "../../platform/log";
import { endSpan, startSpan, type Span } from "../../platform/trace";
import type { FeedEvent } from "../../shared/market/feed";
import { ticksToDecimal, type InstrumentSpec } from "../../shared/market/instrument";
import { failedCallbackLogs, strategyInvoker, type StrategyCommand, type StrategyView } from "../../shared/strategy/invoke";
import { strategyOrderPrefix, strategyRunPrefix } from "../../shared/strategy/live";
import { callbacksOf, stateJson, StrategyRuntime, type CheckedState, type Invoker, type LogLine, type StrategyMemory, type StrategyPort } from "../../shared/strategy/runtime";
import { eventTime, liveStartRefusal, liveStats, liveStep, newCounters, orderEnded, recordFailure, recordFill, recordSuccess, type LiveStats, type LiveStrategyConfig, type LiveStrategyStatus } from "../../shared/strategy/live-host";
import { TEMPLATES } from "../../shared/strategy/templates";
import { LiveStrategyStore, type LiveRow } from "./strategy-store";

const log = logger("market-symbol");

interface Loaded {
  row: LiveRow;
  runtime: StrategyRuntime;
  sandbox: StrategySandboxHandle | null;
  /** The view fetched for the current event; dropped once a command is sent. */
  view: StrategyView | null;
  /**
   * The current callback's span, begun by its first command: a callback that sends orders
   * starts a trace of its own, which its account calls continue (docs/tracing.md).
   */
  trace: { span: Span; commands: number } | null;
  /**
   * The state the last callback left and its JSON, made by its check: what the event's save
   * stores. Dropped when a callback fails (a template's may have changed the state in place).
   */
  checked: CheckedState | null;
}

export interface HostDeps {
  spec(): InstrumentSpec | undefined;
  /** The symbol's last trade in ticks. */
  lastTicks(): number | null;
  feedKind(): string;
  /**
   * A strategy's status changed (started, stopped, errored): the shell records it where the
   * API reads it, in order. Answers false when the strategy's record is gone (deleted).
   */
  statusChanged(config: LiveStrategyConfig, status: LiveStrategyStatus): Promise<boolean>;
}

/**
 * The live strategies of one symbol, beside its feed: each hears the symbol's quotes,
 * trades and completed bars as they print and trades through its owner's account object
 * (shared/strategy/live.ts), with every risk check an API order meets. All a strategy
 * remembers (its state, order numbers, tags, held orders, the last update it collected)
 * is stored after every event, so it resumes exactly after the object restarts. Events
 * are handled one at a time, in order, across all strategies.
 */
export class StrategyHost {
  readonly #store: LiveStrategyStore;
  readonly #loaded = new Map<string, Loaded>();
  #queue: Promise<void> = Promise.resolve();
  /** The strategy_updates frames being pushed, in order (#announce). */
  #announced: Promise<void> = Promise.resolve();
  #eventT = 0;

  constructor(
    sql: SqlStorage,
    private readonly env: Env,
    private readonly symbol: string,
    private readonly deps: HostDeps,
  ) {
    this.#store = new LiveStrategyStore(sql);
  }

  get running(): boolean {
    return this.#store.runningCount() > 0;
  }

  /**
   * Starts a strategy: onStart, then its first orders. Idempotent: a strategy already running
   * answers its run, whichever run the call asks for (found in QA: two starts at once each
   * read it stopped, and the second replaced the first's run).
   */
  start(config: LiveStrategyConfig): Promise<LiveStrategyStatus> {
    return this.#serial(async () => {
      const existing = this.#store.get(config.id);
      if (existing && existing.status === "running") return this.#status(existing);
      const refusal = liveStartRefusal(this.#store.runningOf(config.owner, config.id), this.symbol);
      if (refusal) return { id: config.id, run: config.run, version: config.version, symbol: this.symbol, status: "stopped", message: refusal, stats: liveStats(newCounters(Date.now())) };
      this.#unload(config.id);
      this.#store.create(config);
      const loaded = await this.#load(this.#store.get(config.id)!);
      try {
        // A template's onStart checks its parameters against the instrument: failing, it ends
        // the start (found in QA: a grid whose lines were under a tick apart ran on, and each
        // bar failed on the state onStart never made). User code's onStart counts as any
        // callback does (one failure; it runs on from the state it had).
        if (loaded) await this.#handle(loaded, (rt) => rt.start(), { failFast: config.kind === "template" });
      } catch (error) {
        if (!(error instanceof AccountUnavailable)) throw error;
        // Not started: the owner may start it again (its order ids are a new run's then).
        this.#store.setStatus(config.id, "stopped", "the account did not answer; start the strategy again");
      }
      const row = this.#store.get(config.id)!;
      // Errored in onStart: #handle has recorded and announced it.
      if (row.status === "errored") return this.#status(row);
      if (!(await this.deps.statusChanged(row.config, this.#status(row))) && row.status === "running") {
        // Deleted, or moved to another symbol or timeframe, while it started (its owner's
        // delete or edit ran between the gateway reading the record and this): it must not
        // run on where no record says it does, which no stop would reach.
        return this.#stopRow(row, "the strategy was deleted or moved while it started");
      }
      if (row.status === "running") this.#announce(row);
      return this.#status(row);
    });
  }

  /**
   * Stops a strategy: onStop and its orders, then it hears nothing more. Its open orders stay
   * (cancel them in onStop). `stopped` says whether this call stopped it (false when it was
   * not running), so one stop is announced once however many requests ask for it.
   */
  stop(id: string, reason: string | null = null): Promise<{ status: LiveStrategyStatus; stopped: boolean } | null> {
    return this.#serial(async () => {
      const row = this.#store.get(id);
      if (!row) return null;
      const wasRunning = row.status === "running";
      const status = await this.#stopRow(row, reason);
      await this.deps.statusChanged(this.#store.get(id)!.config, status);
      return { status, stopped: wasRunning };
    });
  }

  /** Runs a running strategy's onStop and its orders, and leaves it stopped with `message` (inside #serial). */
  async #stopRow(row: LiveRow, message: string | null): Promise<LiveStrategyStatus> {
    const id = row.config.id;
    if (row.status === "running") {
      const loaded = await this.#load(row);
      try {
        if (loaded) await this.#handle(loaded, (rt) => rt.stop());
      } catch (error) {
        if (!(error instanceof AccountUnavailable)) throw error;
        // A stop always stops; what onStop would have sent is lost, and said so.
        message = "stopped without onStop: the account did not answer";
      }
      this.#store.setStatus(id, "stopped", message);
      // A watcher of the socket learns it stopped (found in QA: the last frame said running).
      this.#announce(this.#store.get(id)!);
    }
    this.#unload(id);
    return this.#status(this.#store.get(id)!);
  }

  status(id: string): LiveStrategyStatus | null {
    const row = this.#store.get(id);
    return row ? this.#status(row) : null;
  }

  logs(id: string, afterSeq: number, limit: number): { seq: number; t: number; text: string }[] {
    return this.#store.logs(id, afterSeq, limit);
  }

  /**
   * Queues the feed's events for the running strategies; the shell calls this inside the
   * transaction that stores the prints, so an event is stored exactly when its print is.
   */
  enqueue(events: readonly FeedEvent[]): void {
    if (events.length > 0 && this.running) this.#store.appendEvents(events);
  }

  /**
   * Plays the queued events to every running strategy, one event at a time, each strategy
   * from the last event it heard: its cursor is stored with its memory after every event,
   * so an event is heard once even when the object restarts in the middle.
   */
  process(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return this.#serial(async () => {
      for (const id of this.#store.runningIds()) {
        // A loaded strategy is what is stored (it saves after every event): no re-read.
        const loaded = this.#loaded.get(id) ?? (await this.#load(this.#store.get(id)!));
        if (!loaded) continue;
        try {
          for (;;) {
            const batch = this.#store.eventsAfter(loaded.row.heardSeq, 100);
            for (const { seq, event } of batch) {
              if (loaded.row.status !== "running") break;
              loaded.row.heardSeq = seq;
              await this.#event(loaded, event);
            }
            if (batch.length < 100 || loaded.row.status !== "running") break;
          }
        } catch (error) {
          if (!(error instanceof AccountUnavailable)) throw error;
          // This strategy waits for its account; the others go on. The next run of the
          // symbol's alarm plays its events again from its stored cursor.
          log("warn", "a live strategy's account did not answer; will retry", { symbol: this.symbol, strategy: id, error: error.message });
        }
      }
      this.#store.pruneEvents();
    });
  }

  async #event(loaded: Loaded, event: FeedEvent): Promise<void> {
    const spec = this.deps.spec();
    if (!spec) return;
    this.#eventT = eventTime(event);
    const { runtime, row } = loaded;
    const busy = runtime.held.length > 0 || Object.keys(runtime.memory.tags).length > 0;
    const step = liveStep(event, { timeframe: row.config.timeframe, wantsQuotes: runtime.wantsQuotes, wantsTrades: runtime.wantsTrades, busy }, this.deps.feedKind(), spec);
    switch (step.kind) {
      case "skip":
        this.#store.saveCursor(row.config.id, row.heardSeq);
        return;
      case "quote":
        await this.#handle(loaded, (rt) => rt.quote(step.quote));
        return;
      case "trade":
        await this.#handle(loaded, (rt) => rt.trade(step.trade));
        return;
      case "bar":
        await this.#handle(loaded, async (rt) => rt.barHolding(step.bar), { flush: false });
        return;
      default: {
        const never: never = step;
        throw new Error(`unknown step ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * One event for one strategy: collect the updates of its orders, run the callback, send
   * what it placed (and what it held from the last bar), store everything it remembers.
   * A throw from the strategy counts as a failed callback; after MAX_CONSECUTIVE_FAILURES
   * in a row the strategy stops as errored.
   */
  async #handle(loaded: Loaded, step: (rt: StrategyRuntime) => Promise<void>, options: { flush?: boolean; failFast?: boolean } = {}): Promise<void> {
    const { row, runtime } = loaded;
    const stats = row.stats;
    // Only callbacks the strategy defines count, toward the success rate and the failure streak.
    const before = runtime.invocations;
    const refusedBefore = runtime.refusedOrders;
    // Commands held from completed callbacks (a bar's orders wait for the next print).
    const held = new Set(runtime.held);
    loaded.trace = null;
    loaded.checked = null;
    try {
      await this.#collect(loaded);
      await step(runtime);
      if (options.flush !== false) await runtime.flush();
      recordSuccess(stats, runtime.invocations - before);
    } catch (error) {
      if (error instanceof AccountUnavailable) {
        // Not the strategy's failure: forget what this attempt did in memory and let the
        // event be played again from what is stored (its orders keep their ids, which the
        // account answers idempotently).
        this.#unload(row.config.id);
        this.#endTrace(loaded, { error: error.message });
        throw error;
      }
      loaded.checked = null;
      const errored = recordFailure(stats, runtime.invocations - before) || options.failFast === true;
      // A StrategyCodeError's message already says where in the user's source it failed.
      const message = error instanceof Error ? error.message : String(error);
      // The failed callback's own lines: from the sandbox's fault, or kept in this isolate (a template).
      runtime.keepLogs(error instanceof StrategyCodeError ? error.logs : failedCallbackLogs(error));
      runtime.logs.push({ t: Date.now(), text: `error: ${message}` });
      // What the failed callback placed is dropped (it never completed); what earlier
      // callbacks held is not, unless this event had already taken it to send.
      runtime.discard((command) => held.has(command));
      // An isolate that hit a limit or crashed is not reused: the next event opens a fresh one.
      if (error instanceof StrategyCodeError && error.reason !== "threw" && error.reason !== "loop_budget") this.#unload(row.config.id);
      if (errored) {
        row.status = "errored";
        row.message = message;
        log("warn", "strategy errored", { symbol: this.symbol, strategy: row.config.id, error: message });
      }
    }
    stats.refused = (stats.refused ?? 0) + runtime.refusedOrders - refusedBefore;
    this.#endTrace(loaded);
    try {
      this.#save(loaded);
    } catch (error) {
      // What the strategy remembers could not be stored (checkState keeps its state
      // storable, so this is a defect, not the strategy's): it stops rather than hold up
      // the symbol's feed and every other strategy behind it.
      row.status = "errored";
      row.message = `its memory could not be stored: ${error instanceof Error ? error.message : String(error)}`;
      this.#store.setStatus(row.config.id, "errored", row.message);
      log("error", "a live strategy's memory could not be stored", { symbol: this.symbol, strategy: row.config.id, error: row.message });
    }
    if (row.status === "errored") {
      this.#unload(row.config.id);
      await this.deps.statusChanged(row.config, this.#status(row));
    }
  }

  /** Collects the updates of the strategy's orders (the runtime delivers them at its next flush) and the account's view. */
  async #collect(loaded: Loaded): Promise<void> {
    const spec = this.deps.spec();
    if (!spec) throw new Error(`the symbol ${this.symbol} has no instrument`);
    const { row } = loaded;
    const reply = await accountCall(() => this.#account(row).strategyView({ spec, lastTicks: this.deps.lastTicks(), prefix: strategyOrderPrefix(row.config.id), afterSeq: row.updateSeq }));
    loaded.runtime.committed(reply.updates);
    for (const u of reply.updates) {
      const d = u.data;
      const fill = (d.event === "fill" || d.event === "partial_fill") && d.price !== undefined && d.qty !== undefined;
      if (fill) {
        row.stats.fills += 1;
        recordFill(row.stats, { orderId: d.order.id, side: d.order.side, price: d.price!, qty: d.qty!, commission: d.order.commission, final: d.event === "fill" });
      } else if (d.event !== "new" && d.event !== "partial_fill") {
        // The order's end without an execution (canceled, expired, rejected, replaced, or a
        // notional order's "fill" that closes it after its last partial one): no fill to count.
        orderEnded(row.stats, d.order.id);
      }
    }
    row.updateSeq = reply.seq;
    loaded.view = reply.view;
    const lastTicks = this.deps.lastTicks();
    if (lastTicks !== null) row.stats.mark = ticksToDecimal(lastTicks, spec);
  }

  #endTrace(loaded: Loaded, fields: Record<string, unknown> = {}): void {
    const trace = loaded.trace;
    if (!trace) return;
    loaded.trace = null;
    endSpan(trace.span, log, { symbol: this.symbol, strategy: loaded.row.config.id, account: loaded.row.config.owner, commands: trace.commands, ...fields });
  }

  #account(row: LiveRow) {
    return this.env.ACCOUNT.getByName(row.config.owner);
  }

  #port(loaded: () => Loaded): StrategyPort {
    return {
      view: async () => {
        const l = loaded();
        if (!l.view) await this.#collect(l);
        const view = l.view!;
        const tags = l.runtime.memory.tags;
        return { ...view, openOrders: view.openOrders.map((o) => ({ ...o, tag: tags[o.id] ?? null })) };
      },
      send: async (command: StrategyCommand) => {
        const l = loaded();
        l.view = null;
        l.trace ??= { span: startSpan("symbol.strategy", null), commands: 0 };
        l.trace.commands += 1;
        const traceparent = l.trace.span.traceparent;
        const reply = await accountCall(() => this.#account(l.row).strategySend(this.symbol, strategyOrderPrefix(l.row.config.id), command, traceparent));
        // Orders the account took; those refused (here or by the runtime's checks) are counted apart.
        if (command.kind === "place" && !reply.refusal) l.row.stats.orders += 1;
        // The order's own updates (accepted, filled at once) come back on the next collect.
        await this.#collect(l);
        // The runtime writes the refusal into the strategy's log (live and in backtests alike).
        return reply.refusal;
      },
    };
  }

  /** The strategy's runtime, built from what it stored; a module that cannot load stops it as errored. */
  async #load(row: LiveRow): Promise<Loaded | undefined> {
    const cached = this.#loaded.get(row.config.id);
    if (cached) return cached;
    const spec = this.deps.spec();
    if (!spec) return undefined;
    const { config } = row;
    let invoke: Invoker;
    let callbacks: ReadonlySet<string>;
    let sandbox: StrategySandboxHandle | null = null;
    if (config.kind === "template") {
      const template = TEMPLATES.get(config.template ?? "");
      if (!template) {
        row.status = "errored";
        row.message = `unknown template ${config.template}`;
        this.#store.save(row);
        return undefined;
      }
      const strategy = template.create();
      invoke = strategyInvoker(strategy);
      callbacks = callbacksOf(strategy);
    } else {
      const opened = openStrategySandbox(this.env, `live:${config.id}:${config.run}`, config.code ?? "");
      try {
        // Only the callbacks the code defines run: an event it does not handle costs no call.
        callbacks = new Set(await opened.callbacks());
      } catch (error) {
        opened.dispose();
        row.status = "errored";
        row.message = error instanceof Error ? error.message : String(error);
        this.#store.save(row);
        await this.deps.statusChanged(row.config, this.#status(row));
        return undefined;
      }
      sandbox = opened;
      invoke = (request) => opened.invoke(request);
    }
    const memory: StrategyMemory = row.memory;
    const holder: { loaded?: Loaded } = {};
    const runtime = new StrategyRuntime({
      invoke,
      port: this.#port(() => holder.loaded!),
      spec,
      params: config.params,
      callbacks: callbacks as ReadonlySet<never>,
      idPrefix: strategyRunPrefix(config.id, config.run),
      now: () => this.#clock(),
      memory,
      // Stored after every callback: a state that cannot be stored fails the callback that
      // made it. The check's JSON is what the event's save stores.
      checkState: (state) => {
        const checked = stateJson(state);
        if ("problem" in checked) return checked.problem;
        holder.loaded!.checked = { state, json: checked.json };
        return null;
      },
    });
    runtime.hold(row.held);
    const loaded: Loaded = { row, runtime, sandbox, view: null, trace: null, checked: null };
    holder.loaded = loaded;
    this.#loaded.set(config.id, loaded);
    return loaded;
  }

  /**
   * ctx.now: the time of the event being handled (event time, as in a backtest). Before the
   * object has seen any event (an onStart right after it woke), the time the command came
   * in: it used to be 0, the epoch (found in QA).
   */
  #clock(): number {
    return this.#eventT > 0 ? this.#eventT : Date.now();
  }

  #save(loaded: Loaded): void {
    const { row, runtime } = loaded;
    row.memory = runtime.memory;
    row.held = [...runtime.held];
    const lines: LogLine[] = runtime.takeLogs();
    this.#store.save(row, loaded.checked);
    if (lines.length > 0) {
      const seqs = this.#store.appendLogs(row.config.id, lines);
      // Its status and message ride along: an owner watching the socket learns it errored, and why, without polling.
      this.#announce(row, lines.map((l, i) => ({ seq: seqs[i]!, t: new Date(l.t).toISOString(), text: l.text })));
    }
  }

  /**
   * Pushes a strategy_updates frame to the owner's sockets: new log lines, or (with none) a
   * change of status. One after another, so a stop's frame never overtakes the frame of the
   * lines its onStop logged.
   */
  #announce(row: LiveRow, logs: { seq: number; t: string; text: string }[] = []): void {
    const frame = { id: row.config.id, status: row.status, message: row.message, logs, stats: liveStats(row.stats) };
    const account = this.#account(row);
    this.#announced = this.#announced.then(() => account.notify("strategy_updates", frame)).catch(() => undefined);
  }

  #unload(id: string): void {
    this.#loaded.get(id)?.sandbox?.dispose();
    this.#loaded.delete(id);
  }

  #status(row: LiveRow): LiveStrategyStatus {
    return { id: row.config.id, run: row.config.run, version: row.config.version, symbol: this.symbol, status: row.status, message: row.message, stats: liveStats(row.stats) satisfies LiveStats };
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** The owner's account object did not answer (an infrastructure failure, not the strategy's). */
class AccountUnavailable extends Error {
  override name = "AccountUnavailable";
}

async function accountCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new AccountUnavailable(error instanceof Error ? error.message : String(error));
  }
}
