import type { DomainEvent } from "../events";
import type { InstrumentSpec } from "../market/instrument";
import type { Quote, Trade } from "../market/types";
import { Venue, type Report, type VenueConfig, type VenueOrderRequest } from "../venue/venue";
import { isOpen, openLots, type AccountOrder } from "./orders";
import type { AccountBook, AccountChanges, AccountState, ActivityQuery, ActivityRow, OrderQuery, VenueAnswer, VenueClient } from "./ports";
import { admit, inWindow, type PriceWindow } from "./price-window";
import type { MarketPrice } from "./views";

// The account's ports in memory: a book that keeps what is committed (and nothing that is
// not, so dropping an engine and building a new one over the book is a crash and restart),
// and venues in the same process that keep each account's reports until it acknowledges
// them, as the symbol objects do. Tests, backtests and Node scripts run the engine on these.

const same = <T>(value: T): T => value;

export interface MemoryBookOptions {
  /**
   * Whether the book keeps copies (the default): what it holds is exactly what was
   * committed, so dropping the engine and building a new one over it is a crash. Without
   * copies it keeps the engine's own objects, several times faster, for runs that never
   * simulate a crash (backtests, benchmarks).
   */
  isolated?: boolean;
  /**
   * Whether committed domain events are kept in `events` (the default). A backtest has no
   * queue to send them to and never reads them: a long one would only hold them all.
   */
  keepEvents?: boolean;
}

export class MemoryBook implements AccountBook {
  readonly #copy: <T>(value: T) => T;
  #state: AccountState | undefined;
  readonly #orders = new Map<string, AccountOrder>();
  readonly #byClientId = new Map<string, string>();
  readonly #open = new Set<string>();
  /**
   * Each open order's unfilled lots as committed, and their sum per symbol and side, kept as
   * orders are committed: `openLotsOf` answers without a scan of the open orders, which made
   * every order cost the number resting (found in QA: a code backtest resting thousands of
   * limits slowed down by the square of them).
   */
  readonly #openLots = new Map<string, number>();
  /** Per symbol (not per "side symbol" key: a key made per commit was hashed again each time). */
  readonly #openLotsBy = new Map<string, { buy: number; sell: number }>();
  /** createdAt of every order, in creation order (the clock never goes back). */
  readonly #created: number[] = [];
  readonly #activities = new Map<string, ActivityRow>();
  /** Each order's place in creation order (never reused, so taken orders keep theirs). */
  readonly #seq = new Map<string, number>();
  #ordersMade = 0;
  /** Every event committed, in order: the outbox, never emptied. */
  readonly events: DomainEvent[] = [];
  commits = 0;
  /** Runs before each commit with what it would store: a test throws from it to crash at that point. */
  beforeCommit: ((changes: AccountChanges) => void) | undefined;

  readonly #keepEvents: boolean;

  constructor(options: MemoryBookOptions = {}) {
    // structuredClone must be called unbound (workerd checks its receiver).
    this.#copy = options.isolated === false ? same : (value) => structuredClone(value);
    this.#keepEvents = options.keepEvents ?? true;
  }

  state(): AccountState | undefined {
    return this.#state && this.#copy(this.#state);
  }

  order(id: string): AccountOrder | undefined {
    const o = this.#orders.get(id);
    return o && this.#copy(o);
  }

  orderByClientId(clientOrderId: string): AccountOrder | undefined {
    const id = this.#byClientId.get(clientOrderId);
    return id === undefined ? undefined : this.order(id);
  }

  /** How many orders are open (what `openOrders().length` counts, without copying them). */
  get openCount(): number {
    return this.#open.size;
  }

  openOrders(): AccountOrder[] {
    return this.#openWhere(() => true);
  }

  openLotsOf(symbol: string, side: "buy" | "sell", except: readonly string[]): number {
    let lots = this.#openLotsBy.get(symbol)?.[side] ?? 0;
    for (let i = 0; i < except.length; i++) {
      const id = except[i]!;
      // Once each: an id may be listed twice (a changed order that is also the one replaced).
      if (except.indexOf(id) !== i) continue;
      const o = this.#orders.get(id);
      if (o && o.spec.symbol === symbol && o.side === side) lots -= this.#openLots.get(id) ?? 0;
    }
    return lots;
  }

  /** Records `o`'s open lots as committed (0 once it has ended, or gone). */
  #countOpen(o: AccountOrder, open: boolean): void {
    const lots = open ? openLots(o) : 0;
    const before = this.#openLots.get(o.id) ?? 0;
    if (lots === before) return;
    let sums = this.#openLotsBy.get(o.spec.symbol);
    if (!sums) this.#openLotsBy.set(o.spec.symbol, (sums = { buy: 0, sell: 0 }));
    sums[o.side] += lots - before;
    if (lots === 0) this.#openLots.delete(o.id);
    else this.#openLots.set(o.id, lots);
  }

  unsettledOrders(): AccountOrder[] {
    return this.#openWhere((o) => !o.atVenue || o.cancelRequested);
  }

  /** Open orders that pass `test`, copied (only those), oldest first. */
  #openWhere(test: (o: AccountOrder) => boolean): AccountOrder[] {
    const found: AccountOrder[] = [];
    for (const id of this.#open) {
      const o = this.#orders.get(id)!;
      if (test(o)) found.push(this.#copy(o));
    }
    return found.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  ordersSince(t: number): number {
    // Binary search for the first order created after t.
    let lo = 0;
    let hi = this.#created.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#created[mid]! > t) hi = mid;
      else lo = mid + 1;
    }
    return this.#created.length - lo;
  }

  latestOrderOf(symbol: string): AccountOrder | undefined {
    let latest: AccountOrder | undefined;
    for (const o of this.#orders.values()) if (o.spec.symbol === symbol && (!latest || o.createdAt >= latest.createdAt)) latest = o;
    return latest && this.#copy(latest);
  }

  orders(q: OrderQuery): AccountOrder[] {
    const matching = [...this.#orders.values()].filter(
      (o) =>
        (q.open === null || isOpen(o.status) === q.open) &&
        (q.after === null || o.createdAt > q.after) &&
        (q.until === null || o.createdAt < q.until) &&
        (q.side === null || o.side === q.side) &&
        (q.symbols === null || q.symbols.includes(o.spec.symbol)),
    );
    matching.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    if (q.direction === "desc") matching.reverse();
    return matching.slice(0, q.limit).map((x) => this.#copy(x));
  }

  activities(q: ActivityQuery): ActivityRow[] {
    const rows = [...this.#activities.values()]
      .filter(
        (a) =>
          (q.types === null || q.types.includes(a.type)) &&
          (q.after === null || a.t > q.after) &&
          (q.until === null || a.t < q.until) &&
          (q.pageToken === null || (q.direction === "asc" ? a.id > q.pageToken : a.id < q.pageToken)),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (q.direction === "desc") rows.reverse();
    return rows.slice(0, q.pageSize).map((x) => this.#copy(x));
  }

  commit(changes: AccountChanges): void {
    this.beforeCommit?.(changes);
    if (changes.state) this.#state = this.#copy(changes.state);
    for (const id of changes.withdrawn) this.#withdraw(id);
    for (const o of changes.orders) {
      if (!this.#orders.has(o.id)) {
        this.#created.push(o.createdAt);
        this.#seq.set(o.id, this.#ordersMade++);
      }
      this.#orders.set(o.id, this.#copy(o));
      this.#byClientId.set(o.clientOrderId, o.id);
      const open = isOpen(o.status);
      if (open) this.#open.add(o.id);
      else this.#open.delete(o.id);
      this.#countOpen(o, open);
    }
    for (const a of changes.activities) if (!this.#activities.has(a.id)) this.#activities.set(a.id, this.#copy(a));
    if (this.#keepEvents) for (const e of changes.events) this.events.push(this.#copy(e));
    this.commits += 1;
  }

  /**
   * Hands over and forgets what a long backtest no longer needs in memory: the settled
   * orders (all of them with `all`), each with its place in creation order, oldest first,
   * and the FILL activities, in order. Only for a book whose orders a strategy places (a
   * backtest, whose ids come from a counter): a taken order can no longer be found by id,
   * as the API's cancel and replace would need, but a strategy's cancel of a settled order
   * does nothing either way (shared/strategy/send.ts).
   */
  take(all = false): { orders: { seq: number; order: AccountOrder }[]; fills: ActivityRow[] } {
    const orders: { seq: number; order: AccountOrder }[] = [];
    for (const [id, order] of this.#orders) {
      if (!all && this.#open.has(id)) continue;
      orders.push({ seq: this.#seq.get(id)!, order: this.#copy(order) });
      this.#orders.delete(id);
      this.#seq.delete(id);
      this.#byClientId.delete(order.clientOrderId);
      this.#open.delete(id);
      this.#countOpen(order, false);
    }
    const fills: ActivityRow[] = [];
    for (const [id, row] of this.#activities) {
      if (row.type !== "FILL") continue;
      fills.push(this.#copy(row));
      this.#activities.delete(id);
    }
    orders.sort((a, b) => a.seq - b.seq);
    fills.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { orders, fills };
  }

  /** An order withdrawn: gone, with its events (nothing in memory is ever sent). */
  #withdraw(id: string): void {
    const o = this.#orders.get(id);
    if (!o) return;
    this.#orders.delete(id);
    this.#seq.delete(id);
    this.#byClientId.delete(o.clientOrderId);
    this.#open.delete(id);
    this.#countOpen(o, false);
    const at = this.#created.lastIndexOf(o.createdAt);
    if (at >= 0) this.#created.splice(at, 1);
    for (let i = this.events.length - 1; i >= 0; i--) if ((this.events[i]!.data.order as { id?: string } | undefined)?.id === id) this.events.splice(i, 1);
  }
}

/** A venue call's fate, for fault injection: lost before the venue sees it, or its answer lost after. */
export type VenueFault = "unreachable" | "answer_lost" | null;

interface Host {
  venue: Venue | null;
  /** Reports not yet acknowledged, in sequence order. */
  outbox: Report[];
  /** Order ids the venue has seen (also ones refused because a cancel overtook them, and declined ones). */
  seen: Set<string>;
  /** Order ids declined because the price they were checked against had moved: never taken, answered as declined again. */
  declined: Set<string>;
  /** Every fill the venue made: its own record, to reconcile accounts against. */
  fills: Extract<Report, { kind: "fill" }>[];
  quote: Quote | null;
  trade: Pick<Trade, "t" | "priceTicks"> | null;
  unknownSeq: number;
}

export interface InProcessVenueDeps {
  now: () => number;
  config: VenueConfig;
  /** Decides each call's fate; absent, every call succeeds. */
  fault?: (call: "submit" | "cancel", symbol: string) => VenueFault;
  /** How long after its last quote or trade a symbol's price is stale; absent, never. */
  staleAfterMs?: number;
  /** Keep every fill for `fills()` (tests reconcile accounts against them); a backtest, which never asks, does not. Default true. */
  keepFills?: boolean;
  /**
   * Whether calls answer as promises, settled a turn later, as another object's do: what
   * else the account does while a call is out can then interleave (tests of concurrent
   * commands). Default false: they answer at once, and the runner awaits nothing (a backtest).
   */
  answerLater?: boolean;
}

/**
 * Venues in this process behind the VenueClient port, with the symbol object's protocol:
 * an order id is taken once, a cancel of an order never seen is remembered and refuses the
 * order later, and each account's reports are kept until it acknowledges them.
 */
const NONE_UNDELIVERED: readonly { symbol: string; account: string }[] = Object.freeze([]);

export class InProcessVenues implements VenueClient {
  readonly #hosts = new Map<string, Host>();

  constructor(private readonly deps: InProcessVenueDeps) {}

  add(spec: InstrumentSpec): Venue {
    const venue = new Venue(spec, this.deps.config);
    this.#hosts.set(spec.symbol, { venue, outbox: [], seen: new Set(), declined: new Set(), fills: [], quote: null, trade: null, unknownSeq: 0 });
    return venue;
  }

  venue(symbol: string): Venue | undefined {
    return this.#hosts.get(symbol)?.venue ?? undefined;
  }

  quote(symbol: string, quote: Quote): void {
    const host = this.#host(symbol);
    host.quote = quote;
    host.venue?.onQuote(quote, this.deps.now());
    this.#collect(host);
  }

  trade(symbol: string, trade: Pick<Trade, "t" | "priceTicks">): void {
    const host = this.#host(symbol);
    host.trade = trade;
    host.venue?.onTrade(trade, this.deps.now());
    this.#collect(host);
  }

  /** Ends day orders whose time has come. */
  expire(symbol: string): void {
    const host = this.#host(symbol);
    host.venue?.expire(this.deps.now());
    this.#collect(host);
  }

  submit(symbol: string, order: VenueOrderRequest, ackedSeq: number, _traceparent?: string | null, window?: PriceWindow | null): VenueAnswer | Promise<VenueAnswer> {
    return this.deps.answerLater ? this.#later(() => this.#submit(symbol, order, ackedSeq, window)) : this.#submit(symbol, order, ackedSeq, window);
  }

  cancel(symbol: string, account: string, orderId: string, ackedSeq: number, _traceparent?: string | null, window?: PriceWindow | null): VenueAnswer | Promise<VenueAnswer> {
    return this.deps.answerLater ? this.#later(() => this.#cancel(symbol, account, orderId, ackedSeq, window)) : this.#cancel(symbol, account, orderId, ackedSeq, window);
  }

  marketPrice(symbol: string): MarketPrice | null | Promise<MarketPrice | null> {
    return this.deps.answerLater ? this.#later(() => this.price(symbol)) : this.price(symbol);
  }

  /** A call's answer (or its throw) as a promise, for `answerLater`. */
  #later<T>(call: () => T): Promise<T> {
    try {
      return Promise.resolve(call());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #submit(symbol: string, order: VenueOrderRequest, ackedSeq: number, window?: PriceWindow | null): VenueAnswer {
    const fault = this.deps.fault?.("submit", symbol) ?? null;
    if (fault === "unreachable") throw new Error(`venue ${symbol} unreachable`);
    const host = this.#host(symbol);
    this.#acknowledge(host, order.account, ackedSeq);
    const price = this.price(symbol);
    if (!host.seen.has(order.id)) {
      host.seen.add(order.id);
      // The symbol object's decline: the id is kept (a resend is declined again), nothing else.
      const taken = window ? admit(order, window, price) : order;
      if (!taken) host.declined.add(order.id);
      else if (host.venue) host.venue.submit(taken, this.deps.now());
      else this.#refuse(host, order.account, order.id, "rejected", `unknown symbol ${symbol}`);
      this.#collect(host);
    }
    if (fault === "answer_lost") throw new Error(`venue ${symbol}: answer lost`);
    const reports = this.pending(symbol, order.account);
    return host.declined.has(order.id) ? { reports, price, declined: true } : { reports, price };
  }

  #cancel(symbol: string, account: string, orderId: string, ackedSeq: number, window?: PriceWindow | null): VenueAnswer {
    const fault = this.deps.fault?.("cancel", symbol) ?? null;
    if (fault === "unreachable") throw new Error(`venue ${symbol} unreachable`);
    const host = this.#host(symbol);
    this.#acknowledge(host, account, ackedSeq);
    const price = this.price(symbol);
    const declined = window ? !inWindow(window, price) : false;
    if (!declined && !host.venue?.cancel(orderId, this.deps.now()) && !host.seen.has(orderId)) {
      host.seen.add(orderId);
      this.#refuse(host, account, orderId, "canceled", "canceled before it reached the venue");
    }
    this.#collect(host);
    if (fault === "answer_lost") throw new Error(`venue ${symbol}: answer lost`);
    const reports = this.pending(symbol, account);
    return declined ? { reports, price, declined: true } : { reports, price };
  }

  /** The symbol's price as its object answers it: last trade, else the mid; stale after staleAfterMs. */
  price(symbol: string): MarketPrice | null {
    const host = this.#hosts.get(symbol);
    const quote = host?.quote;
    const trade = host?.trade;
    if (!quote && !trade) return null;
    const t = Math.max(trade?.t ?? 0, quote?.t ?? 0);
    const limit = this.deps.staleAfterMs ?? Infinity;
    return {
      symbol,
      reference: trade?.priceTicks ?? Math.round((quote!.bidTicks + quote!.askTicks) / 2),
      bid: quote?.bidTicks ?? null,
      ask: quote?.askTicks ?? null,
      previousClose: null,
      t,
      stale: this.deps.now() - t > limit,
      freshUntil: t + limit,
    };
  }

  /** An account's reports not yet acknowledged: what the symbol object's alarm would push. */
  pending(symbol: string, account: string): Report[] {
    return this.#host(symbol).outbox.filter((r) => r.account === account);
  }

  /** Whether `pending` would answer any report, without copying them (a backtest asks on every bar). */
  hasPending(symbol: string, account: string): boolean {
    for (const r of this.#host(symbol).outbox) if (r.account === account) return true;
    return false;
  }

  /** Whether any of the account's waiting reports comes after `seq` (its cursor), without copying them. */
  hasPendingAfter(symbol: string, account: string, seq: number): boolean {
    for (const r of this.#host(symbol).outbox) if (r.account === account && r.seq > seq) return true;
    return false;
  }

  /** Accounts with reports waiting, per symbol. */
  undelivered(): readonly { symbol: string; account: string }[] {
    let out: { symbol: string; account: string }[] | null = null;
    for (const [symbol, host] of this.#hosts) {
      // Most asks (a backtest's, after every print) find every outbox empty: nothing is made.
      if (host.outbox.length === 0) continue;
      out ??= [];
      for (const account of new Set(host.outbox.map((r) => r.account))) out.push({ symbol, account });
    }
    return out ?? NONE_UNDELIVERED;
  }

  /** Every fill each venue made, in sequence order. */
  fills(): Extract<Report, { kind: "fill" }>[] {
    return [...this.#hosts.values()].flatMap((h) => h.fills);
  }

  acknowledge(symbol: string, account: string, upTo: number): void {
    this.#acknowledge(this.#host(symbol), account, upTo);
  }

  #host(symbol: string): Host {
    let host = this.#hosts.get(symbol);
    if (!host) this.#hosts.set(symbol, (host = { venue: null, outbox: [], seen: new Set(), declined: new Set(), fills: [], quote: null, trade: null, unknownSeq: 0 }));
    return host;
  }

  #acknowledge(host: Host, account: string, upTo: number): void {
    if (host.outbox.length === 0) return;
    host.outbox = host.outbox.filter((r) => r.account !== account || r.seq > upTo);
  }

  #collect(host: Host): void {
    if (!host.venue) return;
    const { reports } = host.venue.drain();
    if (this.deps.keepFills !== false) for (const r of reports) if (r.kind === "fill") host.fills.push(r);
    host.outbox.push(...reports);
  }

  // A report the host makes up itself still takes a sequence number from the venue.
  #refuse(host: Host, account: string, orderId: string, reason: "canceled" | "rejected", message: string): void {
    const seq = host.venue ? ++host.venue.state.seq : ++host.unknownSeq;
    host.outbox.push({ kind: "done", seq, account, orderId, reason, cumQty: 0, message, t: this.deps.now() });
  }
}
