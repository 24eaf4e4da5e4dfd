import { ticksOnGridOf, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import { AccountEngine } from "../trading/account-engine";
import { AccountRunner } from "../trading/account-runner";
import type { AssetInfo } from "../trading/asset";
import type { TradingConfig } from "../trading/config";
import type { Ledger } from "../trading/ledger";
import { InProcessVenues, MemoryBook } from "../trading/memory";
import { MONEY_ONE, notional, parseMoney, priceOf, quantityOf, type Money } from "../trading/money";
import { isOpen, orderView, type AccountOrder, type OrderView } from "../trading/orders";
import type { FillActivity } from "../trading/ports";
import { fillView, type FillRecord } from "../trading/views";
import { DEFAULT_LIMITS, type RiskLimits } from "../trading/risk";
import { DEFAULT_VENUE, type VenueConfig } from "../venue/venue";
import { computeMetrics, type EquityCurve, type Metrics, type MetricFill } from "./metrics";
import { strategyInvoker, type StrategyView } from "./invoke";
import { callbacksOf, hostLine, LOG_LINES, roundPrice, stateProblem, StrategyRuntime, type LogLine, type PositionView, type Strategy, type StrategyBar, type StrategyPort, type StrategyState } from "./runtime";
import { sendStrategyCommand } from "./send";
import { after, isPending, type MaybePromise } from "../maybe";
import { reportSeries, type ReportSeries } from "./series";
import { accountSummary, maxBuyQty, maxSellQty, openBuyLots, openOrdersView, positionView, unrealizedPl } from "./views";

// A backtest is the live path with the feed replaced by bars: the same AccountEngine,
// AccountRunner and Venue, one symbol, one account. Each bar is played as four prints —
// the open, the nearer of high and low (the high on a tie), the other, the close — each
// with a quote `halfSpreadTicks` either side, and the venue's reports are delivered to the
// account after every print, as the symbol object's alarm does (those it applied from a
// call's answer only acknowledged, as that object leaves them for the account's next
// call). onBar fires once the close is delivered; the orders it places are sent at the
// next bar's open, after its quote and before its trade print, so a market order fills at
// that open and the account prices it against the last trade (this bar's close), as it
// would live. A signal on the last bar is never sent. Time is the print's (the bar's
// start); ids come from a counter.

/**
 * The bars a backtest plays, read once each in order: an array, or a source that reads
 * them as they are needed (a job's stored rows, a sandbox fed one chunk at a time), so a
 * run of a million bars never holds them all. `at(0)` is read when the backtest is made.
 */
export interface BarFeed {
  readonly length: number;
  at(index: number): StrategyBar | undefined;
}

export interface BacktestOptions<P> {
  strategy: Strategy<P>;
  bars: BarFeed;
  spec: InstrumentSpec;
  params?: Partial<P>;
  /** Starting cash, a decimal string in USD. */
  cash?: string;
  venue?: Partial<VenueConfig>;
  limits?: Partial<RiskLimits>;
  halfSpreadTicks?: number;
  /** Displayed size of each quote side, in lots: large by default, so a bar's print is never used up. */
  quoteLots?: number;
  /**
   * Plays all four prints of every bar even when the rest of a bar cannot change anything
   * (see `quiet` below), and delivers every report the venue holds even when the account
   * applied it from an answer: the reference the fast path is tested against. Same result, slower.
   */
  plain?: boolean;
}

/** A run's log: its first LOG_LINES lines, and how many more there were. */
export interface RunLogs {
  logs: LogLine[];
  logsDropped: number;
}

/** Orders and fills a run has handed over before its end (`Backtest.take`). */
export interface BacktestPart {
  /** Each with its place in creation order: a run hands over settled orders, so one placed earlier may come later. */
  orders: { seq: number; order: OrderView }[];
  fills: FillActivity[];
}

export interface BacktestResult {
  /** Every order in creation order, but those handed over by `take` before the end. */
  orders: OrderView[];
  /** Every fill in order, but those handed over by `take` before the end. */
  fills: FillActivity[];
  /** One point per bar, at its close: two columns rather than an object per bar. */
  equity: EquityCurve;
  metrics: Metrics;
  /** Orders the strategy placed on the last bar or in onStop, which never reached the account. */
  unsent: number;
  state: StrategyState;
  /** The first LOG_LINES lines the strategy logged; the rest are counted in `logsDropped`. */
  logs: LogLine[];
  logsDropped: number;
}

/**
 * What a run keeps of its orders and fills until they are read: the account's own records
 * (numbers), not their Alpaca views (strings), which are made when read. Kept to the end of
 * a million-bar run, the views were most of what the collector copied (about a sixth of
 * the run's time).
 */
interface KeptOrder {
  seq: number;
  order: AccountOrder;
  /** The view its last trade update carried, when the strategy listens to its orders: made already. */
  view: OrderView | undefined;
}
interface KeptPart {
  orders: KeptOrder[];
  fills: FillRecord[];
}

const keptView = (o: KeptOrder): OrderView => o.view ?? orderView(o.order);
const partView = (part: KeptPart): BacktestPart => ({ orders: part.orders.map((o) => ({ seq: o.seq, order: keptView(o) })), fills: part.fills.map(fillView) });

/** A result whose orders and fills are made into views when first read. */
function withViews(rest: Omit<BacktestResult, "orders" | "fills">, orders: KeptOrder[], fills: FillRecord[]): BacktestResult {
  let orderViews: OrderView[] | undefined;
  let fillViews: FillActivity[] | undefined;
  return {
    ...rest,
    get orders() {
      return (orderViews ??= orders.map(keptView));
    },
    get fills() {
      return (fillViews ??= fills.map(fillView));
    },
  };
}

/** A finished backtest as a job keeps it: the result, its curve thinned for the report. */
export type BacktestReport = Omit<BacktestResult, "equity"> & { series: ReportSeries };

export function backtestReport(result: BacktestResult, maxPoints: number): BacktestReport {
  const { equity, ...rest } = result;
  return { ...rest, series: reportSeries(equity, maxPoints) };
}

const OWNER = "backtest";
/** A backtest's order ids: `strategy-1`, `strategy-2`, … */
const ID_PREFIX = "strategy-";
const DEFAULT_QUOTE_LOTS = 1e15;

/**
 * A backtest that runs in steps, so a job can report progress and stop between them:
 * `await bt.step(n)` plays up to n more bars; `bt.result()` once `bt.done`. The whole run
 * lives in memory; a job that loses it (an evicted object) starts again, and, being
 * deterministic, gets the same result.
 */
export class Backtest<P> {
  readonly total: number;
  #next = 0;
  #started = false;
  #finished = false;
  readonly #play: (i: number) => void | Promise<void>;
  readonly #start: () => Promise<void>;
  readonly #finish: () => Promise<{ result: Omit<BacktestResult, "orders" | "fills">; rest: KeptPart }>;
  readonly #take: () => KeptPart;
  readonly #sent: () => number;
  readonly #logs: () => RunLogs;
  #result: Omit<BacktestResult, "orders" | "fills"> | undefined;
  /** What the run had not handed over when it ended: the result's orders and fills until taken. */
  #rest: KeptPart = { orders: [], fills: [] };

  constructor(options: BacktestOptions<P>) {
    this.total = options.bars.length;
    const parts = prepare(options);
    this.#play = parts.play;
    this.#start = parts.start;
    this.#finish = parts.finish;
    this.#take = parts.take;
    this.#sent = parts.sent;
    this.#logs = parts.logs;
  }

  /**
   * What the strategy has logged so far (the first LOG_LINES lines), with the lines a
   * callback that threw logged before it (`failed`, from failedCallbackLogs): a run that
   * fails keeps them, so its owner can read what led to the failure.
   */
  logsSoFar(failed: readonly LogLine[] = []): RunLogs {
    const { logs, logsDropped } = this.#logs();
    const room = Math.max(0, LOG_LINES - logs.length);
    return { logs: [...logs, ...failed.slice(0, room).map(hostLine)], logsDropped: logsDropped + Math.max(0, failed.length - room) };
  }

  /**
   * Orders, cancels and replaces the strategy has sent so far: a step bounded by bars alone
   * could take minutes of one thread on a strategy that places hundreds of orders a bar
   * (found in QA), so the sandbox and the job also stop a step after a number of these.
   */
  get commandsSent(): number {
    return this.#sent();
  }

  /**
   * Hands over the orders settled and the fills made since the last take, which the run then
   * forgets: a job stores them as it goes, so a run of a million bars holds only what can
   * still change. Once the run is done, the one take left hands over the rest (every order
   * still open included). The result has only what was not taken; the metrics count everything.
   */
  take(): BacktestPart {
    return partView(this.#taken());
  }

  #taken(): KeptPart {
    if (!this.#finished) return this.#take();
    const rest = this.#rest;
    this.#rest = { orders: [], fills: [] };
    return rest;
  }

  /** `runBacktest`: the whole run, taking what it settles as it goes, and its views made when the result is read. */
  static async run<P>(options: BacktestOptions<P>): Promise<BacktestResult> {
    const bt = new Backtest(options);
    const orders: KeptOrder[] = [];
    const fills: FillRecord[] = [];
    while (!bt.done) {
      await bt.step(TAKE_EVERY);
      // Once done, the take hands over the rest (open orders included).
      const part = bt.#taken();
      for (const o of part.orders) orders.push(o);
      for (const f of part.fills) fills.push(f);
    }
    // Settled orders are handed over as they settle, so an order placed earlier may come later.
    orders.sort((a, b) => a.seq - b.seq);
    return withViews(bt.#result!, orders, fills);
  }

  /** Bars played so far. */
  get barsDone(): number {
    return this.#next;
  }

  get done(): boolean {
    return this.#finished;
  }

  /**
   * Plays up to `maxBars` more bars (starting the strategy first), or fewer when `enough`
   * answers true after a bar (a sandbox's work budget); answers the bars played.
   */
  async step(maxBars: number, enough?: () => boolean): Promise<number> {
    if (!this.#started) {
      this.#started = true;
      await this.#start();
    }
    const end = Math.min(this.total, this.#next + maxBars);
    const from = this.#next;
    for (; this.#next < end; this.#next++) {
      // A quiet bar is played without a promise (see `play`).
      const playing = this.#play(this.#next);
      if (playing) await playing;
      if (enough?.()) {
        this.#next++;
        break;
      }
    }
    if (this.#next >= this.total && !this.#finished) {
      this.#finished = true;
      const { result, rest } = await this.#finish();
      this.#result = result;
      this.#rest = rest;
    }
    return this.#next - from;
  }

  result(): BacktestResult {
    if (!this.#result) throw new Error("the backtest has not finished");
    return withViews(this.#result, this.#rest.orders, this.#rest.fills);
  }
}

/**
 * Bars a whole run plays between takes. What a run keeps grows with the orders it made
 * until they are taken (the book's maps, every settled order and fill), and a larger heap
 * costs every garbage collection more: taking them every few thousand bars made a
 * million-bar run 10–15 % faster than taking them all at the end (interleaved runs).
 */
const TAKE_EVERY = 5_000;

/**
 * Strategy commands one step of a hosted run (the sandbox's call, the job's chunk) sends
 * before it hands back, checked between bars: a chunk of 2,000 bars of a strategy placing
 * hundreds of orders a bar held the one thread local workerd runs everything on for minutes
 * (found in QA). Above what a strategy sends in a chunk of bars in the ordinary way (the MA
 * cross: about 80 in 2,000 bars); the host plays the rest in its next call.
 */
export const STEP_COMMAND_BUDGET = 250;

/** A whole run; the result's orders and fills are made into views when first read. */
export function runBacktest<P>(options: BacktestOptions<P>): Promise<BacktestResult> {
  return Backtest.run(options);
}

/**
 * The state a run ends with, as JSON gives it back. A live strategy's state is checked after
 * every callback (one that cannot be stored fails it); a backtest checks the last, so a
 * state that would fail live fails the run rather than pass unseen.
 */
function finalState(state: StrategyState): StrategyState {
  const problem = stateProblem(state);
  if (problem) throw new RangeError(`${problem}: live, a callback that leaves such a state fails`);
  return JSON.parse(JSON.stringify(state)) as StrategyState;
}

/**
 * A backtest's equity curve: each bar's time and close (in ticks) and the segment it falls
 * in, a run of bars over which the position's lots, the cash and the reserved cash stay the
 * same. A point's equity, the segment's cash plus its lots' value at the bar's close, is
 * made when it is read.
 */
export class BarEquity implements EquityCurve {
  constructor(
    readonly t: Float64Array,
    readonly closes: Float64Array,
    readonly segmentOf: Uint32Array,
    /** Each segment's lots, its cash plus reserved cash, (with `wholeTick`) its lots' value of one tick, and its first point. */
    readonly segments: { lots: number[]; base: Money[]; perTick: Money[]; first: number[] },
    /** Whether one lot's tick is a whole number of money units: then a held point is its cash plus close × `perTick`. */
    readonly wholeTick: boolean,
    readonly spec: InstrumentSpec,
  ) {}

  at(i: number): Money {
    const s = this.segmentOf[i]!;
    const { lots, base, perTick } = this.segments;
    const held = lots[s]!;
    if (held === 0) return base[s]!;
    const close = this.closes[i]!;
    return this.wholeTick ? base[s]! + BigInt(close) * perTick[s]! : base[s]! + notional(close, held, this.spec);
  }

  /**
   * Within a held segment (with `wholeTick`), point i's equity less point i − 1's: the
   * close's move times the segment's value of one tick, exact, without either equity.
   */
  change(i: number): Money | undefined {
    const s = this.segmentOf[i]!;
    if (!this.wholeTick || s !== this.segmentOf[i - 1] || this.segments.lots[s] === 0) return undefined;
    return bigTicks(this.closes[i]! - this.closes[i - 1]!) * this.segments.perTick[s]!;
  }

  /** A flat segment's points all have its cash: the segment's last point. */
  sameUntil(i: number): number {
    const s = this.segmentOf[i]!;
    if (this.segments.lots[s] !== 0) return i;
    return s + 1 < this.segments.first.length ? this.segments.first[s + 1]! - 1 : this.t.length - 1;
  }
}

/** BigInt(n) for a bar's move in ticks: the small ones (nearly all) made once. */
const SMALL_TICKS = 4096;
const smallTicks: bigint[] = Array.from({ length: 2 * SMALL_TICKS + 1 }, (_, k) => BigInt(k - SMALL_TICKS));
const bigTicks = (n: number): bigint => (n >= -SMALL_TICKS && n <= SMALL_TICKS ? smallTicks[n + SMALL_TICKS]! : BigInt(n));

function prepare<P>(options: BacktestOptions<P>) {
  const { bars, spec } = options;
  const half = options.halfSpreadTicks ?? 0;
  const quoteLots = options.quoteLots ?? DEFAULT_QUOTE_LOTS;
  let clock = bars.at(0)?.t ?? 0;
  let ids = 0;
  const now = () => clock;
  const newId = () => `00000000-0000-4000-8000-${(++ids).toString(16).padStart(12, "0")}`;
  const skipId = () => {
    ids += 1;
  };
  const config: TradingConfig = {
    startingCash: parseMoney(options.cash ?? "100000")!,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    venue: { ...DEFAULT_VENUE, ...options.venue },
  };
  const venues = new InProcessVenues({ now, config: config.venue, keepFills: false });
  venues.add(spec);
  // No crash is simulated, so the book keeps the engine's own objects rather than copies,
  // and there is no queue for the domain events.
  const book = new MemoryBook({ isolated: false, keepEvents: false });
  // The runner is built before the runtime it reports to.
  const listener: { runtime?: StrategyRuntime } = {};
  const strategy = options.strategy as Strategy;
  const callbacks = callbacksOf(strategy);
  // Trade updates reach the strategy only as onOrderUpdate calls: a strategy without that
  // callback has no one to give them to, and the account builds none (an update's order
  // view was a tenth of an order's cost). Its orders' tags are then forgotten when the
  // orders are handed over, as the runtime forgets them on an order's last update.
  const listensToOrders = callbacks.has("onOrderUpdate");
  // An order's last trade update, once it has ended, carries its final view: the view the
  // run hands over for it, rather than one made again (nothing changes an ended order).
  const endedViews = new Map<string, OrderView>();
  const runner = new AccountRunner(book, venues, () => new AccountEngine(book, { owner: OWNER, now, newId, skipId, config, events: false, tradeUpdates: listensToOrders, fillRecords: true }), {
    committed: (changes) => {
      for (const u of changes.tradeUpdates) if (!isOpen(u.data.order.status)) endedViews.set(u.data.order.id, u.data.order);
      listener.runtime?.committed(changes.tradeUpdates);
    },
  }, { commitAfterCalls: true });
  const asset: AssetInfo = { id: `asset-${spec.symbol}`, spec, tradable: true, active: true, session: null };
  /** The last trade the symbol printed, in ticks: what the account prices against. */
  let lastTicks: number | null = null;
  const tags = () => listener.runtime!.memory.tags;
  // onBar reads the position on most bars and it seldom changes: its view (decimal text,
  // costly to print) is made again only when what it is made of changes, and when only the
  // last trade moved (every bar a position is held), only its unrealized P&L is; each read
  // gets its own copy, so a strategy that writes to it changes nothing else.
  let seen: { qty: number; reserved: number; cost: bigint; realized: bigint; last: number | null; view: PositionView } | null = null;
  const position = (): PositionView => {
    const ledger = runner.engine.ledger;
    const p = ledger.positions[spec.symbol];
    const qty = p?.qty ?? 0;
    const reserved = p?.reserved ?? 0;
    const cost = p?.costBasis ?? 0n;
    const realized = p?.realizedPl ?? 0n;
    // A flat position's view does not depend on the last trade.
    const last = qty === 0 ? null : lastTicks;
    if (!seen || seen.qty !== qty || seen.reserved !== reserved || seen.cost !== cost || seen.realized !== realized) {
      seen = { qty, reserved, cost, realized, last, view: positionView(ledger, spec, lastTicks) };
    } else if (seen.last !== last) {
      seen = { ...seen, last, view: { ...seen.view, unrealizedPl: unrealizedPl(ledger, spec, lastTicks) } };
    }
    return { ...seen.view };
  };
  // The in-process port: the strategy reads the engine's ledger and book directly, lazily
  // (most callbacks read little of it), and sends through the runner as an API order would.
  // The view holds no state of its own (each getter reads the ledger or book when asked),
  // so one object serves every callback.
  const view: StrategyView = {
    get position() {
      return position();
    },
    get account() {
      return accountSummary(runner.engine.ledger, spec, lastTicks);
    },
    get openOrders() {
      return openOrdersView(book.openOrders(), spec, (id) => tags()[id]);
    },
    get maxBuyQty() {
      return maxBuyQty(runner.engine.ledger, spec, lastTicks, config.limits, config.venue, book.openCount === 0 ? 0 : openBuyLots(book.openOrders(), spec.symbol));
    },
    get maxSellQty() {
      return maxSellQty(runner.engine.ledger, spec);
    },
  };
  /** Commands the strategy has sent: what a sandbox's step counts as work besides its loops. */
  let sent = 0;
  const port: StrategyPort = {
    view: () => view,
    send: (command) => {
      sent += 1;
      return sendStrategyCommand(runner, book, asset, ID_PREFIX, command);
    },
  };
  const rt = new StrategyRuntime({
    invoke: strategyInvoker(strategy),
    port,
    spec,
    params: { ...(strategy.params ?? {}), ...(options.params ?? {}) } as Record<string, unknown>,
    callbacks,
    idPrefix: ID_PREFIX,
    now,
  });
  listener.runtime = rt;

  /**
   * Hands the venue's waiting reports to the account, as the symbol object's alarm does.
   * Reports the account applied from a call's answer (every order's fill) are only
   * acknowledged, as its next call would: the symbol object pushes them late for that.
   * (A plain run, the reference, delivers them all again.) Answers at once unless the
   * account has reports to apply.
   */
  const deliver = (): MaybePromise<void> => {
    const waiting = venues.undelivered();
    for (let i = 0; i < waiting.length; i++) {
      const { symbol, account } = waiting[i]!;
      const cursor = runner.engine.cursor(symbol);
      if (options.plain || venues.hasPendingAfter(symbol, account, cursor)) return deliverAll();
      venues.acknowledge(symbol, account, cursor);
    }
  };
  const deliverAll = async () => {
    for (const { symbol, account } of venues.undelivered()) {
      const reports = venues.pending(symbol, account);
      const cursor = runner.engine.cursor(symbol);
      const applied = !options.plain && reports.every((r) => r.seq <= cursor) ? cursor : await runner.venueReports(symbol, reports);
      venues.acknowledge(symbol, account, applied);
    }
  };
  // A bar's price in ticks by the runtime's one rule (the nearest tick of its decimal text),
  // which reads a price already on the grid (every stored bar's) without the text.
  const onGrid = ticksOnGridOf(spec.tickSize);
  const tick = (price: number) => {
    const ticks = onGrid(price) ?? roundPrice(price, spec);
    if (!ticks) throw new RangeError(`bar price ${price} is not a positive price on the tick grid ${spec.tickSize}`);
    return ticks;
  };
  // Each print answers at once unless the account or the strategy gives a promise.
  const quote = (ticks: number): MaybePromise<void> => {
    const bid = Math.max(1, ticks - half);
    venues.quote(spec.symbol, { t: clock, bidTicks: bid, askTicks: ticks + half, bidLots: quoteLots, askLots: quoteLots });
    // The strategy hears the quote and the updates it caused; what it places goes out now.
    return after(deliver(), () => (rt.wantsQuotes ? rt.quote({ t: clock, bid: ticksToNumber(bid, spec), ask: ticksToNumber(ticks + half, spec) }) : rt.flush()));
  };
  const trade = (ticks: number): MaybePromise<void> => {
    venues.trade(spec.symbol, { t: clock, priceTicks: ticks });
    lastTicks = ticks;
    return after(deliver(), () => (rt.wantsTrades ? rt.trade({ t: clock, price: ticksToNumber(ticks, spec) }) : rt.flush()));
  };
  /**
   * A quote and a trade at each of `prices` from `from` on, in turn, then `done`. The loop
   * of `inTurn` (shared/maybe.ts) written out: this runs for every bar, and through the
   * shared helper a million-bar backtest measured about 4 % slower (its call sites go
   * polymorphic).
   */
  const printFrom = (prices: readonly number[], from: number, done: () => MaybePromise<void>): MaybePromise<void> => {
    for (let i = from; i < prices.length; i++) {
      const price = prices[i]!;
      const next = i + 1;
      const quoted = quote(price);
      if (isPending(quoted)) return quoted.then(() => after(trade(price), () => printFrom(prices, next, done)));
      const traded = trade(price);
      if (isPending(traded)) return traded.then(() => printFrom(prices, next, done));
    }
    return done();
  };

  const venue = venues.venue(spec.symbol)!;
  const listens = rt.wantsQuotes || rt.wantsTrades;
  /**
   * Whether the rest of a bar's prints can change nothing but the last quote and trade:
   * the strategy hears no prints, holds nothing to send, and neither the venue nor the
   * account has an order a print could fill, trigger, expire or report on. With no order
   * the venue's quote and trade only replace the previous ones (its clock is the bar's
   * time for all four), and the account hears nothing, so playing the close alone leaves
   * exactly the state the four prints leave.
   */
  const quiet = () =>
    !options.plain && !listens && rt.held.length === 0 && venue.liveCount === 0 && !venues.hasPending(spec.symbol, OWNER) && book.openCount === 0;
  // Quiet bars follow each other by the thousand, and each would replace the venue's quote
  // and trade only for the next to replace them again: the last skipped close (and its
  // time) is owed to the venue instead, and paid before the next print that can matter.
  let owedT = 0;
  let owedTicks = 0;
  const skipTo = (ticks: number) => {
    owedT = clock;
    owedTicks = ticks;
    lastTicks = ticks;
  };
  const payOwed = () => {
    if (owedTicks === 0) return;
    venues.quote(spec.symbol, { t: owedT, bidTicks: Math.max(1, owedTicks - half), askTicks: owedTicks + half, bidLots: quoteLots, askLots: quoteLots });
    venues.trade(spec.symbol, { t: owedT, priceTicks: owedTicks });
    owedTicks = 0;
  };

  // The equity curve, one point per bar, kept without a bigint per bar: each bar's close
  // (in ticks) and the segment it falls in, a run of bars over which the position's lots,
  // the cash and the reserved cash stay the same. A point's equity is its segment's cash
  // plus the lots' value at its close, made only when the curve is read (the metrics at the
  // end, the report's kept points). A million live bigints, one per bar, were moved by
  // every garbage collection: about a tenth of a million-bar run (interleaved runs).
  // The columns are made at the feed's length and written by index: pushed, a million
  // points grew and copied them over and over; typed, making them costs almost nothing.
  const times = new Float64Array(bars.length);
  const closes = new Float64Array(bars.length);
  const segmentOf = new Uint32Array(bars.length);
  let points = 0;
  let exposed = 0;
  // A position's value is its lots' value of one tick times the close when one lot's tick
  // is a whole number of money units (steps of at most nine decimals each: every real
  // instrument); otherwise notional() of the close and the lots.
  const wholeTick = (priceOf(1, spec) * quantityOf(1, spec)) % MONEY_ONE === 0n;
  const segmentLots: number[] = [];
  const segmentBase: bigint[] = [];
  // The current segment's cash and reserved cash, which a bar's ledger is compared with.
  let segmentCash: bigint | null = null;
  let segmentReserved: bigint | null = null;
  const segmentPerTick: bigint[] = [];
  const segmentFirst: number[] = [];
  let segment = -1;
  /** The bar's close and onBar, once its prints are played: the equity curve's point, then the callback (its orders held). */
  // The ledger the last bar's close found, and its lots: every change makes a new ledger
  // (its operations answer one), so while it is the same object, so is everything the
  // segment depends on (most bars: nothing traded since the bar before).
  let ledgerSeen: Ledger | null = null;
  let lotsSeen = 0;
  const closeBar = (bar: StrategyBar, close: number): void | Promise<void> => {
    const ledger = runner.engine.ledger;
    if (ledger !== ledgerSeen) {
      ledgerSeen = ledger;
      const lots = (lotsSeen = ledger.positions[spec.symbol]?.qty ?? 0);
      if (segment < 0 || lots !== segmentLots[segment] || ledger.cash !== segmentCash || ledger.reservedCash !== segmentReserved) {
        segment = segmentLots.length;
        segmentLots.push(lots);
        segmentCash = ledger.cash;
        segmentReserved = ledger.reservedCash;
        segmentBase.push(ledger.cash + ledger.reservedCash);
        segmentPerTick.push(lots !== 0 && wholeTick ? notional(1, lots, spec) : 0n);
        segmentFirst.push(points);
      }
    }
    if (lotsSeen !== 0) exposed += 1;
    times[points] = bar.t;
    closes[points] = close;
    segmentOf[points] = segment;
    points += 1;
    return rt.barHolding(bar);
  };
  // Most bars are quiet from their open: they are played without an await (a promise only
  // if the strategy's callback gives one), which is most of what a quiet bar costs.
  const play = (i: number): void | Promise<void> => {
    const bar = bars.at(i)!;
    clock = bar.t;
    // Every price is checked, whether or not the bar is played in full.
    const open = tick(bar.open);
    const high = tick(bar.high);
    const low = tick(bar.low);
    const close = tick(bar.close);
    if (quiet()) {
      skipTo(close);
      return closeBar(bar, close);
    }
    return playPrints(bar, open, high, low, close);
  };
  const playPrints = (bar: StrategyBar, open: number, high: number, low: number, close: number): MaybePromise<void> => {
    payOwed();
    // The previous bar's onBar orders go out after this quote (in its flush), before the trade.
    return printFrom([open], 0, () => {
      if (quiet()) {
        skipTo(close);
        return closeBar(bar, close);
      }
      const first = high - open <= open - low ? high : low;
      const second = first === high ? low : high;
      return printFrom([first, second, close], 0, () => closeBar(bar, close));
    });
  };
  // What the metrics need of every fill, kept as fills are handed over (a few bigints each).
  const metricFills: MetricFill[] = [];
  const handOver = (all: boolean): KeptPart => {
    const taken = book.take(all);
    // The engine keeps fills as records (`fillRecords`).
    const fills = taken.fills.map((a) => a.data as unknown as FillRecord);
    for (const f of fills) metricFills.push({ side: f.side, qty: quantityOf(f.lots, spec), value: notional(f.priceTicks, f.lots, spec), fee: f.fee });
    const orders = taken.orders.map(({ seq, order }): KeptOrder => {
      const view = endedViews.get(order.id);
      if (view) endedViews.delete(order.id);
      if (!listensToOrders && !isOpen(order.status)) rt.forget(order.clientOrderId);
      return { seq, order, view };
    });
    return { orders, fills };
  };
  const finish = async () => {
    // The last bar's orders (and onStop's) would meet only the close's quote: never sent.
    await rt.stopHolding();
    const unsent = rt.discard();
    const rest = handOver(true);
    // Every bar is played before the end; a feed shorter than it said would leave holes.
    const length = points;
    const cut = <T extends Float64Array | Uint32Array>(column: T): T => (length === column.length ? column : (column.subarray(0, length) as T));
    const equity = new BarEquity(cut(times), cut(closes), cut(segmentOf), { lots: segmentLots, base: segmentBase, perTick: segmentPerTick, first: segmentFirst }, wholeTick, spec);
    const result = {
      equity,
      metrics: computeMetrics(equity, metricFills, { exposedBars: exposed }),
      unsent,
      state: finalState(rt.state),
      logs: rt.logs,
      logsDropped: rt.droppedLogLines,
    };
    return { result, rest };
  };
  return { start: () => rt.start(), play, finish, take: () => handOver(false), sent: () => sent, logs: () => ({ logs: rt.logs, logsDropped: rt.droppedLogLines }) };
}
