import type { InstrumentSpec } from "../../shared/market/instrument";
import { sessionState, type TradingSession } from "../../shared/trading/session";
import type { Print } from "../../shared/market/feed";
import { Venue, type Report, type VenueConfig, type VenueOrderRequest, type VenueState } from "../../shared/venue/venue";
import { logger } from "../../platform/log";
import { carriedSpan, endSpan, startSpan } from "../../platform/trace";
import { scopeKind } from "../../shared/config/keys";
import { symbolScope, type SymbolConfig } from "../../shared/config/live";
import { SymbolConfigSubscriber } from "../config/subscriber";
import { VenueStore } from "./venue-store";
import type { MarketPrice } from "../../shared/trading/views";
import { admit, inWindow, type PriceWindow } from "../../shared/trading/price-window";
import type { VenueAnswer } from "../../shared/trading/ports";

const log = logger("market-symbol");

// Reports handed back in an RPC answer are pushed again only if not acknowledged by then.
// The push is a safety net: the account applied them from the answer, and its next call
// carries the cursor that deletes them; an answer that was lost is resent by the account's
// own retry alarm within a second. So the wait is long enough for an account trading every
// few seconds to acknowledge first: at 2 s, a third of a busy account's orders cost an
// extra call into it (and its transaction and span lines) that changed nothing.
export const REDELIVER_AFTER_MS = 5_000;

/** The account side of delivery: applies reports and answers the last sequence it applied. */
type Accounts = Env["ACCOUNT"];

/**
 * The venue of one symbol inside its object: the pure Venue, its orders and state in
 * SQLite, and the outbox of reports, delivered to each account exactly once in sequence
 * order (an account answers the last sequence it applied, and the outbox keeps the rest).
 * Every method takes wall time; the venue keeps its own clock from it.
 *
 * Its fees and liquidity model are the vars' VENUE unless the run-time configuration sets
 * them (docs/config.md): the symbol registers with the ConfigStore when it wakes, keeps
 * the copy it last received, and a pushed change rebuilds the venue from storage at once,
 * as a restart would, so the next order or print trades by it.
 */
export class VenueHost {
  readonly #store: VenueStore;
  #venue: Venue | undefined;
  #delivering = false;
  /** What the venue was last loaded with, to rebuild it on a change. */
  #loaded: { spec: InstrumentSpec | undefined; staleQuoteMs: number; session: TradingSession | null } | undefined;
  /** The configured settings, once the symbol holds a copy of the configuration; the vars' otherwise. */
  #configured: VenueConfig | undefined;
  readonly #live: SymbolConfigSubscriber | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly accounts: Accounts,
    private readonly symbol: string,
    env?: Env,
    /** The symbol's price at wall time `now` as the checks read it (without the previous close): every answer and push carries it. */
    private readonly price: (now: number) => MarketPrice | null = () => null,
  ) {
    this.#store = new VenueStore(storage.sql, storage.kv);
    // An object reached by id, not by a symbol's name, has no scope to read.
    if (env && scopeKind(symbolScope(symbol)) === "symbol")
      this.#live = new SymbolConfigSubscriber(storage, env, symbol, (config) => {
        this.#configured = config.venue;
        if (this.#loaded) this.load(this.#loaded.spec, config.venue, this.#loaded.staleQuoteMs, this.#loaded.session);
      });
  }

  /**
   * (Re)builds the venue for an instrument, its book from the stored live orders in arrival
   * order; none without one. `config` is the vars' VENUE; the configured settings, when the
   * symbol holds some, come before it.
   */
  load(spec: InstrumentSpec | undefined, config: VenueConfig, staleQuoteMs: number, session: TradingSession | null = null): void {
    this.#loaded = { spec, staleQuoteMs, session };
    this.#sessionSpan = null;
    this.#venue = spec ? new Venue(spec, this.#configured ?? config, this.#store.state(), this.#store.liveOrders(), { staleQuoteMs }) : undefined;
  }

  /** A change pushed by the ConfigStore; applied before the call answers, so the write that made it answers after. */
  configChanged(config: SymbolConfig): void {
    this.#live?.receive(config);
  }

  /** The settings the venue trades by now. */
  get config(): VenueConfig | undefined {
    return this.#venue?.config ?? this.#configured;
  }

  /**
   * Takes an order (once: a resent id is ignored) and answers every report for its account
   * not yet acknowledged, with the price now. `ackedSeq` is the last report the account has
   * applied. With a `window` (the account checked the order against a price it held), the
   * order is taken only if the price now is inside, a market order protected from the
   * price now; otherwise it is declined: only its id is stored, so a resend is declined
   * again and it never fills.
   */
  async submit(order: VenueOrderRequest, ackedSeq: number, now: number, window: PriceWindow | null = null): Promise<VenueAnswer> {
    // A symbol that never held a copy of the configuration trades by it from its first order.
    await this.#live?.ready;
    const alarm = await this.storage.getAlarm();
    // From here on nothing awaits: the acknowledgement, the comparison with the price, the
    // venue's change and the alarm are one synchronous run, one transaction. (A storage
    // read keeps the input gate closed, so nothing else ran since the alarm was read.)
    const price = this.price(now);
    const outcome = this.storage.transactionSync((): "taken" | "declined" | "seen" => {
      this.#store.acknowledge(order.account, ackedSeq);
      if (this.#store.seen(order.id)) return this.#store.declined(order.id) ? "declined" : "seen";
      const taken = window ? admit(order, window, price) : order;
      if (!taken) {
        this.#store.decline(order.id, order.account, now);
        return "declined";
      }
      if (!this.#venue) this.#rejectUnknown(order.id, order.account, now);
      else {
        this.#venue.submit(taken, now);
        this.#persist(now, REDELIVER_AFTER_MS);
      }
      return "taken";
    });
    if (outcome === "taken") this.#armDelivery(alarm);
    return { reports: this.#store.pending(order.account), price, ...(outcome === "declined" ? { declined: true } : {}) };
  }

  /**
   * Cancels an order; one the venue never received is refused for good if it arrives later.
   * With a `window`, as for submit: declined (nothing canceled) if the price now is outside.
   */
  async cancel(account: string, orderId: string, ackedSeq: number, now: number, window: PriceWindow | null = null): Promise<VenueAnswer> {
    const alarm = await this.storage.getAlarm();
    const price = this.price(now);
    const declined = window !== null && !inWindow(window, price);
    this.storage.transactionSync(() => {
      this.#store.acknowledge(account, ackedSeq);
      if (declined) return;
      if (this.#venue?.cancel(orderId, now)) this.#persist(now, REDELIVER_AFTER_MS);
      else if (!this.#store.seen(orderId)) this.#rejectUnknown(orderId, account, now, "canceled");
    });
    this.#armDelivery(alarm);
    return { reports: this.#store.pending(account), price, ...(declined ? { declined: true } : {}) };
  }

  /**
   * The feed's quotes and trades, in arrival order, then the day orders whose time has
   * come. Call inside the transaction that stores the prints.
   */
  onPrints(prints: Print[], now: number): void {
    const venue = this.#venue;
    if (!venue) return;
    // Outside the instrument's session resting orders do not trade (the account already
    // refuses new ones): the venue hears only the prints inside it, as an exchange matches
    // only while it is open. A feed that prints around the clock would fill them at night.
    for (const { quote, trade } of prints) {
      if (!this.#inSession(trade?.t ?? quote?.t ?? now)) continue;
      if (quote) venue.onQuote(quote, now);
      if (trade) venue.onTrade(trade, now);
    }
    venue.expire(now);
    this.#persist(now, 0);
  }

  /** The session's state over an interval of time, so a batch of prints asks it once (each asking reads the zone's clock through Intl). */
  #sessionSpan: { from: number; until: number; open: boolean } | null = null;

  #inSession(t: number): boolean {
    const span = this.#sessionSpan;
    if (span && t >= span.from && t < span.until) return span.open;
    const { open, until } = sessionState(this.#loaded?.session ?? null, t);
    this.#sessionSpan = { from: t, until, open };
    return open;
  }

  /** Pushes due reports to their accounts; each answers the last sequence it applied. */
  async deliver(now: number): Promise<void> {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      await Promise.allSettled(
        this.#store.dueAccounts(now).map(async (account) => {
          const reports = this.#store.pending(account);
          if (reports.length === 0) return;
          // A push is no request's: it starts a trace, which the account and the events it causes continue (docs/tracing.md).
          const span = startSpan("symbol.deliverReports", null);
          try {
            const answer = await this.accounts.getByName(account).venueReports(this.symbol, reports, span.traceparent, this.price(Date.now()));
            this.#store.acknowledge(account, answer.applied);
            // One line for the push: the account's span rides in it (docs/tracing.md).
            endSpan(span, log, { symbol: this.symbol, account, reports: reports.length, applied: answer.applied, spans: [carriedSpan(answer.span)] });
          } catch (error) {
            endSpan(span, log, { symbol: this.symbol, account, reports: reports.length, error: String(error) }, "warn");
            log("warn", "report delivery failed; will retry", { symbol: this.symbol, account, error: String(error) });
          }
        }),
      );
    } finally {
      this.#delivering = false;
    }
  }

  /**
   * When the alarm must run again for undelivered reports, or undefined when there are none:
   * when the first comes due, and no sooner than a second from now (a push that failed is
   * retried every second).
   */
  redeliveryDue(now: number): number | undefined {
    const due = this.#store.earliestDue();
    return due === null ? undefined : Math.max(due, now + 1_000);
  }

  prune(now: number): void {
    this.#store.prune(now);
  }

  /** The venue's own fill log for an account (kept as long as finished orders). */
  fills(account: string, afterSeq: number, limit: number) {
    return this.#store.fills(account, afterSeq, limit);
  }

  quoteStale(now: number): boolean {
    return this.#venue?.quoteStale(now) ?? false;
  }

  status() {
    const venue = this.#venue;
    return {
      orders: venue ? [...venue.orders].length : 0,
      bids: venue?.depth("buy", 10) ?? [],
      asks: venue?.depth("sell", 10) ?? [],
      outbox: this.#store.outboxSize(),
      seq: venue?.state.seq ?? 0,
    };
  }

  // A report the venue makes up itself (no instrument, or a cancel that overtook its
  // order) still needs a sequence number, so it takes one from the venue state. Call
  // inside a transaction.
  #rejectUnknown(orderId: string, account: string, now: number, reason: "canceled" | "rejected" = "rejected"): void {
    const state: VenueState = this.#venue?.state ?? this.#store.state() ?? { seq: 0, arrival: 0, clock: 0, quote: null, quoteAt: null, trade: null, takenAsk: [], takenBid: [] };
    state.seq += 1;
    const message = reason === "canceled" ? "canceled before it reached the venue" : `unknown symbol ${this.symbol}`;
    const report: Report = { kind: "done", seq: state.seq, account, orderId, reason, cumQty: 0, message, t: now };
    this.#store.tombstone(orderId, account, now);
    this.#store.enqueue([report], now + REDELIVER_AFTER_MS);
    this.#store.saveState(state);
  }

  /**
   * Stores what the venue changed: orders, reports (due for push after `delay`), and its
   * state, always: the quote it matches against, when that quote came, the liquidity
   * already taken from it and the venue's clock must survive a restart, or a restarted
   * venue would refuse market orders, sell the same displayed size twice, or go back in
   * time. Call inside a transaction.
   */
  #persist(now: number, delay: number): void {
    const venue = this.#venue;
    if (!venue) return;
    const { reports, touched } = venue.drain();
    for (const id of touched) {
      const live = venue.order(id);
      if (live) this.#store.putOrder(live, true, now);
      else this.#store.finish(id, now);
    }
    this.#store.enqueue(reports, now + delay);
    this.#store.saveState(venue.state);
  }

  /** Brings the alarm (now at `current`) forward to push the outbox's reports if no call acknowledges them first; call in the same synchronous run as the change. */
  #armDelivery(current: number | null): void {
    if (this.#store.outboxEmpty()) return;
    const due = Date.now() + REDELIVER_AFTER_MS;
    if (current === null || current > due) void this.storage.setAlarm(due);
  }
}
