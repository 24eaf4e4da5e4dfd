import type { InstrumentSpec } from "../market/instrument";
import type { Quote, Trade } from "../market/types";
import { CENT, notional, parseMoney, roundHalfUp, ZERO, type Money } from "../trading/money";
import { OrderBook, type BookFill, type Side } from "./book";
import { extendsMark, trailingStop, type Trail } from "./trailing";

// The simulated venue of one symbol: users' orders meet the feed's liquidity (and, if the
// venue says so, each other). Pure and deterministic: the same orders and the same feed
// give the same fills. The symbol's Durable Object stores what it returns and delivers
// the reports to the accounts; a backtest drives the same class directly.
//
// One clock: every command's `now` is read as max(its now, the latest the venue has seen),
// so a quote stamped in the past (a feed replaying history) cannot fill an order before
// the order existed. The clock is part of the state the owner persists.

export type OrderType = "market" | "limit" | "stop" | "stop_limit" | "trailing_stop";

/** Types whose stop triggers a market order. */
export const isStopMarket = (type: OrderType): boolean => type === "stop" || type === "trailing_stop";
/** Types that wait for a stop. */
export const hasStop = (type: OrderType): boolean => type === "stop" || type === "stop_limit" || type === "trailing_stop";
export type TimeInForce = "day" | "gtc" | "ioc" | "fok";

export interface VenueConfig {
  /** Fee rates in basis points of notional (two decimals at most). */
  makerBps: number;
  takerBps: number;
  /** The least an order pays once it fills at all, a decimal string in USD. */
  minFee: string;
  /** Beyond the displayed size a taker walks this many further levels, each of the displayed size… */
  depthLevels: number;
  /** …and each this many ticks worse than the one before. */
  slippageTicks: number;
  /** Whether users' orders also trade with each other, besides the feed. */
  crossUsers: boolean;
}

export const DEFAULT_VENUE: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 5, slippageTicks: 1, crossUsers: false };

/** What an account sends: the order as validated and reserved by the account. */
export interface VenueOrderRequest {
  id: string;
  account: string;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  /** Lots; null for a notional order. */
  qty: number | null;
  /** Money to spend (buy) or raise (sell); only for market orders without qty. */
  notional: string | null;
  /** For a notional sell: the lots reserved, which it may not exceed. */
  maxLots: number | null;
  limit: number | null;
  /** A trailing stop's: where its trail stands now (the venue moves it). */
  stop: number | null;
  /** A market (or triggered stop) order never trades through this price: the reservation's worst case. */
  cap: number | null;
  /** Unix ms at which a day order expires. */
  expiresAt: number | null;
  /** A trailing stop's distance (absent from requests stored before trailing stops: none). */
  trail?: Trail | null;
  /** A trailing stop's high-water mark: the account's reference price when it placed the order; the venue's own last trade replaces it. */
  hwm?: number | null;
}

export interface VenueOrder extends VenueOrderRequest {
  /** Time priority: when it was submitted, or for a stop that rests once triggered, when it triggered. */
  arrival: number;
  filled: number;
  filledNotional: string;
  makerNotional: string;
  takerNotional: string;
  fees: string;
  triggered: boolean;
}

/** "filled" ends a notional order whose rest buys less than one lot. */
export type DoneReason = "filled" | "canceled" | "expired" | "rejected";

/**
 * A fill's execution id: a UUID, as Alpaca's are (alpaca-py parses trade updates'
 * `execution_id` as one), made from the symbol and the fill's sequence number so a venue
 * rebuilt from storage gives the same id again: the symbol's hash in the first 64 bits
 * (version 8, a name-based id of our own), the sequence in the last 48.
 */
export function executionId(symbol: string, seq: number): string {
  let prefix = executionPrefixes.get(symbol);
  if (prefix === undefined) {
    const [a, b, c] = [0x811c9dc5, 0x01000193, 0x9e3779b9].map((seed) => fnv1a(symbol, seed).toString(16).padStart(8, "0")) as [string, string, string];
    prefix = `${a}-${b.slice(0, 4)}-8${b.slice(4, 7)}-${(8 | (parseInt(c[0]!, 16) & 3)).toString(16)}${c.slice(1, 4)}-`;
    if (executionPrefixes.size >= 4096) executionPrefixes.clear();
    executionPrefixes.set(symbol, prefix);
  }
  return prefix + seq.toString(16).padStart(12, "0");
}

const executionPrefixes = new Map<string, string>();

/** FNV-1a, 32 bits, from `seed`. */
function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export type Report =
  /** A trailing stop's mark moved (and with it, maybe, its stop): what the account shows as hwm and stop_price. */
  | { kind: "trail"; seq: number; account: string; orderId: string; hwm: number; stop: number; t: number }
  | { kind: "fill"; seq: number; account: string; orderId: string; executionId: string; price: number; qty: number; fee: string; liquidity: "maker" | "taker"; cumQty: number; leaves: number; t: number }
  | { kind: "done"; seq: number; account: string; orderId: string; reason: DoneReason; cumQty: number; message: string; t: number };

export interface VenueState {
  seq: number;
  arrival: number;
  /** The latest `now` any command brought: the venue's time never goes back. */
  clock: number;
  quote: Quote | null;
  /** The venue's time when `quote` arrived, for its staleness (the quote's own t can be history). */
  quoteAt: number | null;
  trade: Pick<Trade, "t" | "priceTicks"> | null;
  /** Lots already taken at each of the current quote's levels, per side. */
  takenAsk: number[];
  takenBid: number[];
}

export interface VenueOptions {
  /**
   * A quote older than this (venue time since it arrived) is stale: marketable orders are
   * rejected rather than filled against it. Infinity (the default) never goes stale.
   */
  staleQuoteMs?: number;
}

/** The message of a marketable order refused because the feed has gone quiet. */
export const STALE_QUOTE_MESSAGE = "the quote is stale: the feed has sent nothing recent, so marketable orders are refused";

const opposite = (side: Side): Side => (side === "buy" ? "sell" : "buy");
const better = (side: Side, a: number, b: number) => (side === "buy" ? a <= b : a >= b);

/** Cumulative fee of an order from what it made and what it took. */
type FeeRule = (maker: Money, taker: Money) => Money;

/** A config's fee rule with its rates and minimum parsed once, not on every fill. */
function feeRule(config: VenueConfig): FeeRule {
  const makerRate = BigInt(Math.round(config.makerBps * 100));
  const takerRate = BigInt(Math.round(config.takerBps * 100));
  const minimum = parseMoney(config.minFee) ?? ZERO;
  // No rate and no minimum: nothing is ever charged, so a fill needs no arithmetic.
  if (makerRate === ZERO && takerRate === ZERO && minimum <= ZERO) return () => ZERO;
  return (maker, taker) => {
    if (maker + taker === ZERO) return ZERO;
    const fee = roundHalfUp((maker * makerRate + taker * takerRate) / 1_000_000n, CENT);
    return fee > minimum ? fee : minimum;
  };
}

// Risk checks price the worst fee of every order: the rule for a fee schedule is made once
// (keyed by its values, so a config object changed in place is never served a stale rule).
const FEE_RULES = 64;
const feeRules = new Map<string, FeeRule>();

// The schedule asked last and its rule: an order's checks ask several times for one schedule,
// and its key was a string made each time.
let lastMakerBps = Number.NaN;
let lastTakerBps = Number.NaN;
let lastMinFee = "";
let lastRule: FeeRule | undefined;

/** Cumulative fee of an order: rates on what it made and took, rounded to the cent, at least the minimum. */
export function orderFee(config: VenueConfig, maker: Money, taker: Money): Money {
  if (lastRule !== undefined && config.makerBps === lastMakerBps && config.takerBps === lastTakerBps && config.minFee === lastMinFee) return lastRule(maker, taker);
  const key = `${config.makerBps}|${config.takerBps}|${config.minFee}`;
  let rule = feeRules.get(key);
  if (!rule) {
    if (feeRules.size >= FEE_RULES) feeRules.clear();
    rule = feeRule(config);
    feeRules.set(key, rule);
  }
  lastMakerBps = config.makerBps;
  lastTakerBps = config.takerBps;
  lastMinFee = config.minFee;
  lastRule = rule;
  return rule(maker, taker);
}

/** The live order for a request, built field by field so every order has the same shape. */
function liveOrder(r: VenueOrderRequest, arrival: number): VenueOrder {
  return {
    id: r.id,
    account: r.account,
    side: r.side,
    type: r.type,
    tif: r.tif,
    qty: r.qty,
    notional: r.notional,
    maxLots: r.maxLots,
    limit: r.limit,
    stop: r.stop,
    cap: r.cap,
    expiresAt: r.expiresAt,
    trail: r.trail ?? null,
    hwm: r.hwm ?? null,
    arrival,
    filled: 0,
    filledNotional: "0",
    makerNotional: "0",
    takerNotional: "0",
    fees: "0",
    triggered: false,
  };
}

const NOTHING_CHANGED: { readonly reports: readonly Report[]; readonly touched: readonly string[] } = Object.freeze({ reports: Object.freeze([]), touched: Object.freeze([]) });

export class Venue {
  readonly #book = new OrderBook();
  /** Untriggered stops: buy stops rest as asks, so a trade at P "takes" every buy stop ≤ P; sell stops as bids. */
  readonly #stops = new OrderBook();
  readonly #orders = new Map<string, VenueOrder>();
  /** Untriggered trailing stops, in arrival order (a rebuilt venue restores them in it): each trade may move their marks. */
  readonly #trailing = new Set<string>();
  #state: VenueState;
  #reports: Report[] = [];
  #touched = new Set<string>();
  #nextExpiry = Infinity;
  readonly #fee: FeeRule;
  #lastPrice: number | null = null;
  readonly #staleQuoteMs: number;

  constructor(
    readonly spec: InstrumentSpec,
    readonly config: VenueConfig,
    state?: VenueState,
    orders: VenueOrder[] = [],
    options: VenueOptions = {},
  ) {
    this.#fee = feeRule(config);
    this.#staleQuoteMs = options.staleQuoteMs ?? Infinity;
    // A state stored before the venue had one clock: its quote counts as received at its own time.
    this.#state = state
      ? { ...state, clock: state.clock ?? 0, quoteAt: state.quoteAt ?? state.quote?.t ?? null, takenAsk: [...state.takenAsk], takenBid: [...state.takenBid] }
      : { seq: 0, arrival: 0, clock: 0, quote: null, quoteAt: null, trade: null, takenAsk: [], takenBid: [] };
    for (const order of [...orders].sort((a, b) => a.arrival - b.arrival)) this.#restore(order);
  }

  get state(): VenueState {
    return this.#state;
  }

  /** Live orders (resting or waiting for their stop). */
  get orders(): IterableIterator<VenueOrder> {
    return this.#orders.values();
  }

  /** How many orders are live (counted without iterating them). */
  get liveCount(): number {
    return this.#orders.size;
  }

  order(id: string): VenueOrder | undefined {
    return this.#orders.get(id);
  }

  depth(side: Side, n: number) {
    return this.#book.depth(side, n);
  }

  /** Whether the quote the venue matches against is older than its staleness limit at `now`. */
  quoteStale(now: number): boolean {
    const at = this.#state.quoteAt;
    return this.#state.quote !== null && at !== null && Math.max(now, this.#state.clock) - at > this.#staleQuoteMs;
  }

  /** The venue's time for a command at `now`: never earlier than any command before. */
  #clock(now: number): number {
    if (now > this.#state.clock) this.#state.clock = now;
    return this.#state.clock;
  }

  /**
   * Reports and changed orders since the last call: the caller stores both in one
   * transaction (orders that are no longer live are deleted).
   */
  drain(): { reports: readonly Report[]; touched: readonly string[] } {
    // A quiet print changes nothing: its drain allocates nothing either.
    if (this.#reports.length === 0 && this.#touched.size === 0) return NOTHING_CHANGED;
    const out = { reports: this.#reports, touched: [...this.#touched] };
    this.#reports = [];
    this.#touched = new Set();
    return out;
  }

  // ---- commands -------------------------------------------------------------------

  submit(request: VenueOrderRequest, at: number): void {
    if (this.#orders.has(request.id)) return;
    const now = this.#clock(at);
    // Day orders whose day has ended must not trade with the newcomer, whether or not a
    // quote has come since to expire them.
    this.expire(now);
    const order = liveOrder(request, ++this.#state.arrival);
    this.#orders.set(order.id, order);
    this.#touched.add(order.id);
    if (order.expiresAt !== null && order.expiresAt <= now) {
      this.#done(order, "expired", "the order's day ended", now);
      return;
    }
    if (order.expiresAt !== null) this.#nextExpiry = Math.min(this.#nextExpiry, order.expiresAt);
    if (order.type === "trailing_stop") this.#startTrail(order, now);
    if (hasStop(order.type)) {
      const last = this.#state.trade?.priceTicks;
      // A stop already through the last trade is triggered at once.
      if (last !== undefined && (order.side === "buy" ? last >= order.stop! : last <= order.stop!)) this.#trigger(order, now);
      else this.#stops.rest(order.id, opposite(order.side), order.stop!, 1);
      return;
    }
    this.#execute(order, now);
  }

  cancel(id: string, at: number, reason: DoneReason = "canceled", message = "canceled by the account"): boolean {
    const order = this.#orders.get(id);
    if (!order) return false;
    const now = this.#clock(at);
    this.#book.cancel(id);
    this.#stops.cancel(id);
    this.#trailing.delete(id);
    this.#done(order, reason, message, now);
    return true;
  }

  // ---- the feed -------------------------------------------------------------------

  /** A new quote: fresh displayed liquidity, which crosses resting orders first. */
  onQuote(quote: Quote, at: number): void {
    const now = this.#clock(at);
    this.#state.quote = quote;
    this.#state.quoteAt = now;
    // New arrays only when something was taken (a quote's print allocates nothing otherwise).
    if (this.#state.takenAsk.length > 0) this.#state.takenAsk = [];
    if (this.#state.takenBid.length > 0) this.#state.takenBid = [];
    this.expire(now);
    // The quote's ask is a seller of askLots at askTicks meeting resting buys, and vice versa.
    this.#makerFills(this.#book.take("feed", "sell", quote.askTicks, quote.askLots).fills, "takenAsk", now);
    this.#makerFills(this.#book.take("feed", "buy", quote.bidTicks, quote.bidLots).fills, "takenBid", now);
  }

  /**
   * A trade prints: trailing stops' marks follow it first (a new high moves a sell's stop up,
   * so a rising price never triggers it), then stops trigger on its price, in stop-price then
   * arrival order.
   */
  onTrade(trade: Pick<Trade, "t" | "priceTicks">, at: number): void {
    const now = this.#clock(at);
    this.expire(now);
    this.#state.trade = { t: trade.t, priceTicks: trade.priceTicks };
    if (this.#stops.size === 0) return;
    for (const id of this.#trailing) this.#follow(this.#orders.get(id)!, trade.priceTicks, now);
    const triggered = [
      ...this.#byArrival(this.#stops.take("trade", "buy", trade.priceTicks, Number.MAX_SAFE_INTEGER).fills, 1),
      ...this.#byArrival(this.#stops.take("trade", "sell", trade.priceTicks, Number.MAX_SAFE_INTEGER).fills, -1),
    ];
    for (const fill of triggered) {
      const order = this.#orders.get(fill.makerId);
      if (order) this.#trigger(order, now);
    }
  }

  /**
   * Triggered stops in stop-price order (`direction` 1: lowest first), then arrival: a
   * trailing stop that moved to a level queues behind the stops already there, where a
   * venue rebuilt from storage (which rests them by arrival) would put it first.
   */
  #byArrival(fills: readonly BookFill[], direction: 1 | -1): readonly BookFill[] {
    if (fills.length < 2) return fills;
    const arrival = (f: BookFill) => this.#orders.get(f.makerId)?.arrival ?? 0;
    return [...fills].sort((a, b) => direction * (a.price - b.price) || arrival(a) - arrival(b));
  }

  /** A trailing stop arrives: its mark is the last trade (or the account's price, before any), its stop set from it. */
  #startTrail(order: VenueOrder, now: number): void {
    const hwm = this.#state.trade?.priceTicks ?? order.hwm ?? order.stop!;
    const stop = trailingStop(order.side, hwm, order.trail!);
    const moved = hwm !== order.hwm || stop !== order.stop;
    order.hwm = hwm;
    order.stop = stop;
    this.#trailing.add(order.id);
    if (moved) this.#trailReport(order, now);
  }

  /** A trade at `price` extends a trailing stop's mark: the stop follows, re-resting where it now stands. */
  #follow(order: VenueOrder, price: number, now: number): void {
    if (!extendsMark(order.side, price, order.hwm!)) return;
    order.hwm = price;
    const stop = trailingStop(order.side, price, order.trail!);
    if (stop !== order.stop) {
      this.#stops.cancel(order.id);
      order.stop = stop;
      this.#stops.rest(order.id, opposite(order.side), stop, 1);
    }
    this.#touched.add(order.id);
    this.#trailReport(order, now);
  }

  #trailReport(order: VenueOrder, now: number): void {
    this.#reports.push({ kind: "trail", seq: ++this.#state.seq, account: order.account, orderId: order.id, hwm: order.hwm!, stop: order.stop!, t: now });
  }

  /** Ends day orders whose time has come. */
  expire(at: number): void {
    const now = this.#clock(at);
    if (now < this.#nextExpiry) return;
    let next = Infinity;
    const due: VenueOrder[] = [];
    for (const order of this.#orders.values()) {
      if (order.expiresAt === null) continue;
      if (order.expiresAt <= now) due.push(order);
      else next = Math.min(next, order.expiresAt);
    }
    this.#nextExpiry = next;
    // In arrival order, which a venue rebuilt from storage (where the map's insertion
    // order is lost) reproduces.
    for (const order of due.sort((a, b) => a.arrival - b.arrival)) this.cancel(order.id, now, "expired", "the order's day ended");
  }

  // ---- matching -------------------------------------------------------------------

  #trigger(order: VenueOrder, now: number): void {
    order.triggered = true;
    this.#trailing.delete(order.id);
    // If it rests, it queues behind everything already in the book: the arrival the
    // rebuilt book is ordered by must say so.
    order.arrival = ++this.#state.arrival;
    this.#touched.add(order.id);
    this.#execute(order, now);
  }

  #priceLimit(order: VenueOrder): number | null {
    const active = order.type === "limit" || order.type === "stop_limit" ? order.limit : order.cap;
    return active ?? null;
  }

  /** An active order meets the book (if users cross) and the feed's levels, best price first; then rests or ends. */
  #execute(order: VenueOrder, now: number): void {
    const limit = this.#priceLimit(order);
    const rests = (order.type === "limit" || order.type === "stop_limit") && (order.tif === "day" || order.tif === "gtc");
    if (this.#crossesQuote(order, limit) && this.quoteStale(now)) {
      this.#done(order, "rejected", STALE_QUOTE_MESSAGE, now);
      return;
    }
    if (order.tif === "fok" && order.qty !== null && this.#fillable(order, limit) < order.qty) {
      this.#done(order, "canceled", "fill-or-kill order could not be filled in full", now);
      return;
    }
    if ((order.type === "market" || isStopMarket(order.type)) && !this.#state.quote && !(this.config.crossUsers && this.#book.size > 0)) {
      this.#done(order, "canceled", "no market to trade against", now);
      return;
    }
    /** Why a taker stopped short: every level of the quote taken, or the next price past its limit (a market order's band). */
    let short: "depth" | "limit" | "notional" = "limit";
    for (;;) {
      const wanted = this.#wanted(order, null);
      if (wanted <= 0) break;
      const feed = this.#feedLevel(order.side);
      const userBest = this.config.crossUsers && order.qty !== null ? (order.side === "buy" ? this.#book.bestAsk() : this.#book.bestBid()) : undefined;
      const useBook = userBest !== undefined && (!feed || better(order.side, userBest, feed.price));
      const price = useBook ? userBest : feed?.price;
      if (price === undefined) short = "depth";
      if (price === undefined || (limit !== null && !better(order.side, price, limit))) break;
      if (useBook) {
        const { fills } = this.#book.take(order.id, order.side, price, wanted);
        for (const fill of fills) {
          const maker = this.#orders.get(fill.makerId)!;
          const value = notional(fill.price, fill.qty, this.spec);
          this.#fill(maker, fill.price, fill.qty, value, "maker", now);
          this.#fill(order, fill.price, fill.qty, value, "taker", now);
          if (fill.makerRemaining === 0) this.#finishIfFilled(maker);
        }
      } else {
        const affordable = this.#wanted(order, price);
        if (affordable <= 0) short = "notional";
        const lots = Math.min(affordable, feed!.available);
        if (lots <= 0) break;
        this.#taken(order.side)[feed!.level] = (this.#taken(order.side)[feed!.level] ?? 0) + lots;
        this.#fill(order, price, lots, notional(price, lots, this.spec), "taker", now);
      }
    }
    if (this.#finishIfFilled(order)) return;
    if (order.qty === null && order.filled > 0 && this.#wanted(order, this.#lastPrice) < 1) {
      this.#done(order, "filled", "the notional is spent to within one lot", now);
      return;
    }
    if (rests) {
      this.#book.rest(order.id, order.side, order.limit!, order.qty! - order.filled);
      return;
    }
    const why =
      order.type !== "market" && !isStopMarket(order.type)
        ? `${order.tif} order's unfilled rest`
        : short === "notional"
          ? "the notional pays for less than one lot at the best price"
          : short === "depth"
          ? `the rest found no more liquidity: every level of the quote (${Math.max(1, this.config.depthLevels)}) was taken`
          : "the rest found no liquidity within the price band";
    this.#done(order, "canceled", why, now);
  }

  /** Whether an order would take from the feed's quote now: market orders always, limits that cross it. */
  #crossesQuote(order: VenueOrder, limit: number | null): boolean {
    const quote = this.#state.quote;
    if (!quote) return false;
    if (order.type === "market" || isStopMarket(order.type) || limit === null) return true;
    return order.side === "buy" ? limit >= quote.askTicks : limit <= quote.bidTicks;
  }

  /** Lots the order still wants, or (notional orders) can afford at `price`. */
  #wanted(order: VenueOrder, price: number | null): number {
    if (order.qty !== null) return order.qty - order.filled;
    const left = BigInt(order.notional!) - BigInt(order.filledNotional);
    const cap = order.maxLots !== null ? order.maxLots - order.filled : Number.MAX_SAFE_INTEGER;
    if (price === null) return left > ZERO && cap > 0 ? 1 : 0;
    const oneLot = notional(price, 1, this.spec);
    return Math.min(cap, Number(left / oneLot));
  }

  #taken(side: Side): number[] {
    return side === "buy" ? this.#state.takenAsk : this.#state.takenBid;
  }

  /** The best feed level a taker on `side` can still take from. */
  #feedLevel(side: Side): { level: number; price: number; available: number } | undefined {
    const quote = this.#state.quote;
    if (!quote) return undefined;
    const taken = this.#taken(side);
    const size = side === "buy" ? quote.askLots : quote.bidLots;
    for (let level = 0; level < Math.max(1, this.config.depthLevels); level++) {
      const available = size - (taken[level] ?? 0);
      if (available <= 0) continue;
      const step = level * this.config.slippageTicks;
      const price = side === "buy" ? quote.askTicks + step : quote.bidTicks - step;
      if (price <= 0) return undefined;
      return { level, price, available };
    }
    return undefined;
  }

  #fillable(order: VenueOrder, limit: number | null): number {
    const wanted = order.qty! - order.filled;
    let total = this.config.crossUsers ? this.#book.fillable(order.side, limit, wanted) : 0;
    const quote = this.#state.quote;
    if (!quote) return total;
    const taken = this.#taken(order.side);
    const size = order.side === "buy" ? quote.askLots : quote.bidLots;
    for (let level = 0; level < Math.max(1, this.config.depthLevels) && total < wanted; level++) {
      const step = level * this.config.slippageTicks;
      const price = order.side === "buy" ? quote.askTicks + step : quote.bidTicks - step;
      if (price <= 0 || (limit !== null && !better(order.side, price, limit))) break;
      total += Math.max(0, size - (taken[level] ?? 0));
    }
    return total;
  }

  #makerFills(fills: readonly BookFill[], takenKey: "takenAsk" | "takenBid", now: number): void {
    if (fills.length === 0) return;
    let taken = 0;
    for (const fill of fills) {
      const order = this.#orders.get(fill.makerId)!;
      this.#fill(order, fill.price, fill.qty, notional(fill.price, fill.qty, this.spec), "maker", now);
      taken += fill.qty;
      if (fill.makerRemaining === 0) this.#finishIfFilled(order);
    }
    if (taken > 0) this.#state[takenKey][0] = (this.#state[takenKey][0] ?? 0) + taken;
  }

  /** One leg of a fill; `value` is its notional, worked out once for both legs. */
  #fill(order: VenueOrder, price: number, qty: number, value: Money, liquidity: "maker" | "taker", now: number): void {
    this.#lastPrice = price;
    // Money is stored as decimal strings, and parsing and printing them is most of what a
    // fill costs: only what changes is printed (filled notional is always maker + taker).
    let maker = BigInt(order.makerNotional);
    let taker = BigInt(order.takerNotional);
    if (liquidity === "maker") order.makerNotional = (maker += value).toString();
    else order.takerNotional = (taker += value).toString();
    order.filledNotional = (maker + taker).toString();
    const before = order.fees === "0" ? ZERO : BigInt(order.fees);
    // An order's fees never go down: one partly filled before a fee cut (docs/config.md)
    // keeps what it paid, and pays the new rates only once they exceed it.
    const charged = this.#fee(maker, taker);
    const fees = charged > before ? charged : before;
    if (fees !== before) order.fees = fees.toString();
    order.filled += qty;
    this.#touched.add(order.id);
    const seq = ++this.#state.seq;
    this.#reports.push({
      kind: "fill",
      seq,
      account: order.account,
      orderId: order.id,
      executionId: executionId(this.spec.symbol, seq),
      price,
      qty,
      fee: fees === before ? "0" : (fees - before).toString(),
      liquidity,
      cumQty: order.filled,
      leaves: order.qty === null ? 0 : order.qty - order.filled,
      t: now,
    });
  }

  /** A fully filled order leaves the venue; true if it did. */
  #finishIfFilled(order: VenueOrder): boolean {
    if (order.qty === null || order.filled < order.qty) return false;
    this.#book.cancel(order.id);
    this.#orders.delete(order.id);
    this.#trailing.delete(order.id);
    this.#touched.add(order.id);
    return true;
  }

  #done(order: VenueOrder, reason: DoneReason, message: string, now: number): void {
    this.#orders.delete(order.id);
    this.#trailing.delete(order.id);
    this.#touched.add(order.id);
    this.#reports.push({ kind: "done", seq: ++this.#state.seq, account: order.account, orderId: order.id, reason, cumQty: order.filled, message, t: now });
  }

  #restore(order: VenueOrder): void {
    this.#orders.set(order.id, order);
    if (order.expiresAt !== null) this.#nextExpiry = Math.min(this.#nextExpiry, order.expiresAt);
    if (hasStop(order.type) && !order.triggered) {
      this.#stops.rest(order.id, opposite(order.side), order.stop!, 1);
      if (order.type === "trailing_stop") this.#trailing.add(order.id);
    }
    else if (order.limit !== null) this.#book.rest(order.id, order.side, order.limit, order.qty! - order.filled);
  }
}
