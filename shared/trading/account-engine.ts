import { domainEvent, type EventType } from "../events";
import { decimalToLots, lotsToDecimal, ticksToDecimal, type InstrumentSpec } from "../market/instrument";
import { isStopMarket, type Report, type VenueOrderRequest } from "../venue/venue";
import { trailingStop } from "../venue/trailing";
import type { AssetInfo } from "./asset";
import type { TradingConfig } from "./config";
import { applyFill, deposit, forked, LedgerError, openLedger, release, reservationRefusal, reservationShortfall, reserve, type Ledger, type Reservation } from "./ledger";
import { formatMoney, notional, parseMoney, ZERO, type Money } from "./money";
import { activityStamp, canMove, isOpen, newOrder, openLots, orderView, parseOrderRequest, replacementFields, givenReplaceFields, sameTrail, type AccountOrder, type OrderIntent, type OrderRequestFields, type OrderStatus, type OrderView, type ReplaceFields } from "./orders";
import { accepted, refused, type Outcome, type Refusal } from "./outcome";
import { ChangeLog } from "./change-log";
import { configurationChange, configurationView, type ConfigurationView } from "./configuration";
import type { AccountBook, AccountChanges, AccountState, Anomaly, PendingReplacement, VenueCommand } from "./ports";
import { buyReservation, checkRisk, marketableOnArrival, notionalSellLots, protectionPrice, sellFeeReservation, stopAnchor, type RiskLimits } from "./risk";
import { priceWindow, trailingWindow, untriggeredStopWindow, type PriceWindow } from "./price-window";
import { sessionOpen } from "./session";
import { tradeUpdate, type TradeEvent } from "./stream";
import { tradingDate } from "./trading-date";
import { RESET_DESCRIPTION } from "./portfolio-history";
import { accountView, closingEquity, fillRecord, fillView, marketValueOf, positionView, type MarketPrice } from "./views";

// Every rule of one paper account, and nothing else: no storage, no clock, no ids, no
// network. Commands change memory and say what changed through drain(); the caller (the
// account's Durable Object, or a backtest over MemoryBook) commits that in one transaction
// and then sends the venue commands it contains. Orders go to each symbol's venue and come
// back as reports that are applied exactly once: every report carries the venue's sequence
// number and the account keeps, per symbol, the last one it applied (docs/exactly-once.md).

export interface EngineDeps {
  /** The account's owner: the user id venues address reports to. */
  owner: string;
  now: () => number;
  newId: () => string;
  /**
   * Draws the next id without making its text, for ids drawn only to be dropped (the
   * events a book that keeps none is not given): absent, newId's text is made and dropped.
   */
  skipId?: () => void;
  config: TradingConfig;
  /**
   * false: the account's domain events are numbered and their ids drawn as always, but not
   * built, for a book that keeps none (a backtest's): most of an event's cost is its order's
   * view and its time as text. Trade updates are built unless `tradeUpdates` is false.
   */
  events?: boolean;
  /**
   * false: no trade updates are built, for a caller that has no one to give them to (a
   * backtest whose strategy does not listen to its orders): most of an update's cost is its
   * order's view. Everything else the account does is the same.
   */
  tradeUpdates?: boolean;
  /**
   * true: a FILL activity's data is its FillRecord (numbers, shared/trading/views.ts), not
   * its Alpaca view, for a book that never stores it as JSON and makes the view when it is
   * read (a backtest's: nine strings a fill, kept to the end of a run, were a tenth of a
   * million-bar run's time in the collector). Everything else the account does is the same.
   */
  fillRecords?: boolean;
}

const MINUTE = 60_000;
/** A close's percentage is read on a grid of a billionth of a percent; 100 % on it. */
const PERCENT_GRID = { lotSize: "0.000000001" };
const HUNDRED_PERCENT = 100_000_000_000;

/** A checked order, what it holds (the ledger has room for it), and (for one checked against a held price) its window. */
interface Prepared {
  order: AccountOrder;
  reservation: Reservation;
  window?: PriceWindow;
}
const DECLINED_MESSAGE = "the market moved before the venue received the order, and its placing was interrupted; place it again";
export { tradingDate };

export class AccountEngine {
  #state: AccountState;
  /** What changed since the last drain; reads of orders look there before the book. */
  readonly #log = new ChangeLog();
  /** Why a replace whose old order was canceled could not place its new order (answered once). */
  readonly #replaceRefusals = new Map<string, Refusal>();
  readonly #specs = new Map<string, { spec: InstrumentSpec; assetId: string }>();

  constructor(
    private readonly book: AccountBook,
    private readonly deps: EngineDeps,
  ) {
    const stored = book.state();
    if (stored) {
      this.#state = stored;
      return;
    }
    const now = deps.now();
    const cash = deps.config.startingCash;
    this.#state = {
      accountId: deps.newId(),
      owner: deps.owner,
      createdAt: now,
      ledger: openLedger(cash),
      limits: {},
      day: { date: tradingDate(now), loss: "0", close: { cash: cash.toString(), lots: {} } },
      cursors: {},
      held: {},
      replacements: {},
      eventSeq: 0,
      anomalies: 0,
      blocked: null,
    };
    this.#log.stateChanged();
    this.#activity("CSD", now, { net_amount: formatMoney(cash), description: "opening deposit" });
  }

  /** What changed since the last drain; commit it, then send its venue commands. */
  drain(): AccountChanges {
    return this.#log.drain(this.#state);
  }

  /** The venue calls owed since the last drain or take, taken without draining the rest (a runner that commits after its calls). */
  takeVenueCommands(): VenueCommand[] {
    return this.#log.takeVenue();
  }

  get ledger(): Ledger {
    return this.#state.ledger;
  }

  get state(): Readonly<AccountState> {
    return this.#state;
  }

  cursor(symbol: string): number {
    return this.#state.cursors[symbol] ?? 0;
  }

  /**
   * The merged limits and the global and own limits they were merged from: made again only
   * when either is replaced (every order reads them; the shell replaces the global ones when
   * the run-time configuration changes, the engine the account's own on setLimits).
   */
  #limits: { global: RiskLimits; own: Partial<RiskLimits>; merged: Readonly<RiskLimits> } | null = null;

  limits(): Readonly<RiskLimits> {
    const global = this.deps.config.limits;
    const own = this.#state.limits;
    if (this.#limits?.global !== global || this.#limits.own !== own) this.#limits = { global, own, merged: Object.freeze({ ...global, ...own }) };
    return this.#limits.merged;
  }

  order(id: string): AccountOrder | undefined {
    return this.#log.order(id) ?? this.book.order(id);
  }

  // ---- orders ---------------------------------------------------------------------------

  /**
   * Places an order checked against `market`. With `held` (a price the account held rather
   * than asked for), its submit carries the window of prices over which the checks agree,
   * and its reservation is made at the window's worst edge (shared/trading/price-window.ts).
   */
  place(fields: OrderRequestFields, asset: AssetInfo, market: MarketPrice | null, traceparent: string | null, held = false): Outcome<OrderView> {
    const placed = this.submit(fields, asset, market, traceparent, held);
    return placed.ok ? accepted(orderView(this.order(placed.value.id)!)) : placed;
  }

  /** `place` without the order's view, which a strategy's order does not read: answers the order's id. */
  submit(fields: OrderRequestFields, asset: AssetInfo, market: MarketPrice | null, traceparent: string | null, held = false): Outcome<{ id: string }> {
    this.#roll();
    const cid = fields.client_order_id;
    if (cid) {
      const existing = this.#byClientId(cid);
      // A retry of the same order gets the original (exactly once); the id reused for a
      // different order is a mistake, refused as Alpaca refuses it, not answered with an
      // order the client did not ask for.
      // An order from before a reset is not the account's any more: answered with it, a
      // retry would be told of a fill the reset wiped (found in QA).
      if (existing && (existing.resets ?? 0) < (this.#state.resets ?? 0))
        return refused("client_order_id", "client_order_id must be unique", [{ path: "client_order_id", message: "already used by an order placed before the account was reset; use a new one" }]);
      if (existing) return sameOrder(existing, fields, asset) ? accepted({ id: existing.id }) : refused("client_order_id", "client_order_id must be unique", [{ path: "client_order_id", message: "already used by another order with different parameters" }]);
      if (this.#claimed(cid)) return refused("client_order_id", "client_order_id must be unique", [{ path: "client_order_id", message: "already used by a replace in progress" }]);
    }
    const parsed = parseOrderRequest(fields, asset.spec);
    if ("problems" in parsed) return refused("invalid_order", parsed.problems.map((p) => p.message).join("; "), parsed.problems);
    const gate = this.#gate(parsed.intent, asset, market);
    if (gate) return gate;
    const prepared = this.#prepare(this.deps.newId(), parsed.intent, asset, market!.reference, null, this.#state.ledger, held);
    if (!prepared.ok) return prepared;
    this.#open(prepared.value.order, prepared.value.reservation, traceparent, prepared.value.window);
    return accepted({ id: prepared.value.order.id });
  }

  /**
   * The first step of a replace: checks the new order against the account as it will be
   * once the old one's reservation is returned, then asks the venue to cancel the old one.
   * The second step happens when the venue confirms the cancel (applyReports): the old
   * order ends "replaced" and the new one is placed. Only one replace of an order may be
   * in flight, and its new client_order_id is claimed at once.
   */
  requestReplace(id: string, sent: ReplaceFields, asset: AssetInfo, market: MarketPrice | null, traceparent: string | null, held = false): Outcome<{ replacementId: string }> {
    this.#roll();
    const fields = givenReplaceFields(sent);
    const old = this.order(id);
    if (!old) return refused("not_found", "order is not found.");
    if (this.#state.replacements[id]) return refused("replace_pending", "cannot replace order: a replace of it is already in progress; read the order again once that one has finished, then replace the order it left open");
    if (!isOpen(old.status) || !old.atVenue || old.cancelRequested) return refused("not_open", `cannot replace order in ${old.cancelRequested ? "pending_cancel" : old.status} status`);
    const cid = fields.client_order_id;
    if (cid && (this.#byClientId(cid) || this.#claimed(cid))) return refused("client_order_id", "client_order_id must be unique", [{ path: "client_order_id", message: "already used" }]);
    if (fields.trail !== undefined && !old.trail) return refused("invalid_order", `trail is only for trailing_stop orders; this order is ${old.type}`, [{ path: "trail", message: "only for trailing_stop orders" }]);
    const remaining = old.qty === null ? null : old.qty - old.filledQty;
    // A qty given is what the order should come to, counting what has filled (FIX's
    // OrderQty; ccxt's editOrder sends the whole amount): it must exceed the filled part,
    // and the new order is for the rest. Left out, the new order takes the unfilled rest.
    const total = fields.qty !== undefined && old.qty !== null ? decimalToLots(String(fields.qty).trim(), old.spec) : undefined;
    if (total !== undefined && total > 0 && total <= old.filledQty)
      return refused("invalid_order", "qty must be > filled_qty", [{ path: "qty", message: `qty is the order's total and must be greater than the ${lotsToDecimal(old.filledQty, old.spec)} already filled` }]);
    const merged = replacementFields(old, total !== undefined && total > 0 ? { ...fields, qty: lotsToDecimal(total - old.filledQty, old.spec) } : fields, remaining);
    const parsed = parseOrderRequest(merged, old.spec);
    if ("problems" in parsed) {
      // A trailing stop's trail is sent as `trail`: its problems are said of that field (found in QA: "trail_percent").
      const problems = parsed.problems.map((p) => (old.trail && (p.path === "trail_price" || p.path === "trail_percent") ? { path: "trail", message: p.message.replace(p.path, "trail") } : p));
      return refused("invalid_order", problems.map((p) => p.message).join("; "), problems);
    }
    const { intent } = parsed;
    // A trailing stop's stop is the venue's (moving) one: its trail is what a replace changes.
    if (intent.qty === remaining && intent.limit === old.limit && (old.trail ? sameTrail(intent.trail, old.trail) : intent.stop === old.stop) && intent.tif === old.tif) return refused("unchanged", "order parameters are not changed");
    const gate = this.#gate(intent, asset, market);
    if (gate) return gate;
    const dryRun = this.#prepare(this.deps.newId(), intent, asset, market!.reference, old.id, release(forked(this.#state.ledger), old.id), held);
    if (!dryRun.ok) return dryRun;
    const { window } = dryRun.value;
    const replacement: PendingReplacement = {
      id: dryRun.value.order.id,
      clientOrderId: dryRun.value.order.clientOrderId,
      fields: merged,
      qtyGiven: fields.qty !== undefined,
      ...(total !== undefined && total > 0 ? { totalLots: total } : {}),
      asset,
      // Placed at the window's worst edge when the cancel is taken inside it.
      reference: window ? (intent.side === "buy" ? window.high : window.low) : market!.reference,
      traceparent,
    };
    this.#state.replacements[id] = replacement;
    this.#log.stateChanged();
    this.#requestCancelOf(old, window);
    return accepted({ replacementId: replacement.id });
  }

  /** How a replace ended, once its venue calls are done. */
  replaceOutcome(oldId: string, replacementId: string): Outcome<OrderView> {
    const placed = this.order(replacementId);
    if (placed) return accepted(orderView(placed));
    if (this.#state.replacements[oldId]) {
      // The venue did not confirm the cancel (unreachable, or the answer was lost). The
      // cancel stands and is resent, so the order will end canceled, not replaced: say so
      // rather than leave the client expecting its old order to live.
      delete this.#state.replacements[oldId];
      this.#log.stateChanged();
      return refused("cancel_pending", "cannot replace order now: its cancel is pending at the venue, so it will end canceled; place the new order once it has");
    }
    const refusal = this.#replaceRefusals.get(oldId);
    this.#replaceRefusals.delete(oldId);
    if (refusal) return { ok: false, refusal: { ...refusal, message: `the order was canceled but its replacement was refused: ${refusal.message}` } };
    return refused("not_open", `cannot replace order: it is ${this.order(oldId)?.status ?? "gone"} now`);
  }

  requestCancel(id: string): Outcome<null> {
    const order = this.order(id);
    if (!order) return refused("not_found", "order is not found.");
    if (!isOpen(order.status)) return refused("not_open", `order is not cancelable (status ${order.status})`);
    // A cancel overrides a replace in flight: the order ends canceled.
    if (this.#state.replacements[id]) {
      delete this.#state.replacements[id];
      this.#log.stateChanged();
    }
    this.#requestCancelOf(order);
    return accepted(null);
  }

  /** Requests a cancel of every open order; answers their ids. */
  cancelAll(): string[] {
    const open = this.book.openOrders().map((o) => this.order(o.id)!);
    for (const o of open) if (isOpen(o.status)) this.requestCancel(o.id);
    return open.map((o) => o.id);
  }

  /** A market sell of all (or `qty`, or `percentage`) of a position. */
  closePosition(symbol: string, asset: AssetInfo, qty: string | null, percentage: string | null, market: MarketPrice | null, traceparent: string | null, held = false): Outcome<OrderView> {
    const p = this.#state.ledger.positions[symbol];
    if (!p || p.qty === 0) return refused("not_found", "position does not exist");
    const spec = asset.spec;
    const free = p.qty - p.reserved;
    // Without a qty or percentage the close is of the whole position: with part of it held
    // by open sells it is refused, as Alpaca refuses it, rather than selling the free part
    // and answering as if the position were closed.
    let lots = p.qty;
    if (qty !== null) {
      const wanted = decimalToLots(qty, spec);
      if (wanted === undefined || wanted <= 0) return refused("invalid_order", `qty must be a positive multiple of the lot size ${spec.lotSize}`, [{ path: "qty", message: "invalid qty" }]);
      lots = wanted;
    } else if (percentage !== null) {
      // Read as a qty is (plain or exponent notation: "5e1" is 50), to a billionth of a percent.
      const billionths = decimalToLots(percentage.trim(), PERCENT_GRID);
      if (billionths === undefined || billionths <= 0 || billionths > HUNDRED_PERCENT)
        return refused("invalid_order", "percentage must be a number above 0 and at most 100, with at most nine decimals", [{ path: "percentage", message: "invalid percentage" }]);
      lots = Number((BigInt(p.qty) * BigInt(billionths)) / BigInt(HUNDRED_PERCENT));
      if (lots === 0) return refused("invalid_order", "that percentage of the position is less than one lot", [{ path: "percentage", message: "too small" }]);
    }
    if (lots > free) {
      // Only when open sells hold part of it is there anything to cancel.
      const why = lots <= p.qty && free < p.qty ? ": the rest is held by open orders; cancel them first (DELETE /v2/positions?cancel_orders=true closes every position after canceling)" : ": more than the position holds";
      return refused("position", `insufficient qty available for order (requested: ${lotsToDecimal(lots, spec)}, available: ${lotsToDecimal(free, spec)})${why}`);
    }
    return this.place({ side: "sell", type: "market", time_in_force: "day", qty: lotsToDecimal(lots, spec) }, asset, market, traceparent, held);
  }

  // ---- the venue's answers --------------------------------------------------------------

  // The events a venue's answer causes carry the traceparent of the call that brought it
  // (the order's or the cancel's request, or the span of a pushed delivery).

  /**
   * The venue has the order: it leaves pending_new. `firstReportT` is the time of the first
   * report the answer carries for it (a fill at arrival): the order was new by then, so its
   * `new` update is stamped no later, never after its own fills.
   */
  acknowledged(orderId: string, traceparent: string | null = null, firstReportT?: number): void {
    const o = this.order(orderId);
    if (!o || o.atVenue) return;
    o.atVenue = true;
    if (o.status === "pending_new") {
      this.#move(o, "new", Math.max(o.submittedAt, Math.min(this.deps.now(), firstReportT ?? Number.POSITIVE_INFINITY)));
      this.#announce("new", o, "order.new", traceparent);
    }
    this.#put(o);
  }

  /**
   * Applies a symbol's reports in sequence order, each once. A report the ledger refuses
   * (only possible if a reservation was computed wrong) stops the symbol's cursor below it
   * and raises an anomaly: it is retried with every redelivery and never skipped.
   */
  applyReports(symbol: string, reports: Report[], traceparent: string | null = null): void {
    this.#roll();
    // One report (an order's answer, most often) is in order as it is.
    const sorted = reports.length < 2 ? reports : [...reports].sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < sorted.length; i++) {
      const report = sorted[i]!;
      if (report.seq <= this.cursor(symbol)) continue;
      if (report.account !== this.deps.owner) {
        this.#anomaly({ kind: "foreign_report", symbol, orderId: report.orderId, seq: report.seq, message: `report for account ${report.account}` });
        continue;
      }
      const order = this.order(report.orderId);
      if (!order) this.#anomaly({ kind: "unknown_order", symbol, orderId: report.orderId, seq: report.seq, message: "report for an unknown order" });
      else if (report.kind === "fill") {
        // A notional order's last execution is followed by its end ("the notional is
        // spent"): seen together, that execution is the order's fill, with its price and
        // quantity, as a qty order's last is, rather than a partial fill and a bare "fill".
        const next = sorted[i + 1];
        const last = order.qty === null && next?.kind === "done" && next.orderId === order.id && next.reason === "filled";
        const problem = this.#applyFill(order, report, traceparent, last);
        if (problem) {
          this.#hold(symbol, report, order, problem);
          return;
        }
      } else if (report.kind === "trail") this.#applyTrail(order, report);
      else this.#applyDone(order, report, traceparent);
      this.#state.cursors[symbol] = report.seq;
      delete this.#state.held[symbol];
      this.#log.stateChanged();
    }
  }

  /**
   * The venue declined a new order because the price it was checked against had moved: it
   * goes as if it had never been placed (deleted with its unsent events, its reservation
   * released), for the runner to place it again against the venue's price. Answers whether
   * there was such an order (not one the venue has, nor one already ended).
   */
  withdraw(orderId: string): boolean {
    const o = this.order(orderId);
    if (!o || o.atVenue || o.status !== "pending_new") return false;
    this.#state.ledger = release(this.#state.ledger, o.id);
    this.#log.stateChanged();
    this.#log.withdraw(o.id);
    return true;
  }

  /**
   * The venue answered a resent order as declined (the process that placed it died before
   * withdrawing it, or lost the answer): the venue will never fill it, and a client may have
   * seen it, so it ends rejected rather than vanishing.
   */
  declined(orderId: string, traceparent: string | null = null): void {
    const o = this.order(orderId);
    if (!o || o.atVenue || !isOpen(o.status)) return;
    const now = this.deps.now();
    this.#state.ledger = release(this.#state.ledger, o.id);
    this.#log.stateChanged();
    o.cancelRequested = false;
    o.reason = DECLINED_MESSAGE;
    this.#move(o, "rejected", now);
    o.failedAt = now;
    this.#put(o);
    this.#announce("rejected", o, "order.rejected", traceparent, { reason: DECLINED_MESSAGE });
  }

  /** The venue declined the cancel that starts a replace (the price had moved): the replace is undone, the order stands as it was. */
  withdrawReplace(oldId: string): void {
    if (!this.#state.replacements[oldId]) return;
    delete this.#state.replacements[oldId];
    this.#log.stateChanged();
    const old = this.order(oldId);
    if (old?.cancelRequested) {
      old.cancelRequested = false;
      this.#put(old);
    }
  }

  /** Venue calls that are owed: orders not yet received, cancels not yet confirmed. */
  owedVenueCommands(): VenueCommand[] {
    return this.book.unsettledOrders().map((o) => (o.atVenue ? { kind: "cancel" as const, symbol: o.spec.symbol, orderId: o.id } : { kind: "submit" as const, symbol: o.spec.symbol, request: this.#venueRequest(o) }));
  }

  // ---- cash -----------------------------------------------------------------------------

  deposit(amount: Money, traceparent: string | null): { cash: string } {
    this.#roll();
    const now = this.deps.now();
    this.#state.ledger = deposit(this.#state.ledger, amount);
    this.#log.stateChanged();
    this.#activity("CSD", now, { net_amount: formatMoney(amount), description: "deposit" });
    const cash = formatMoney(this.#totalCash());
    this.#publish("account.cash_changed", { reason: "deposit", amount: formatMoney(amount), cash }, traceparent);
    return { cash };
  }

  /** Refuses a reset above the limit before anything is canceled. */
  checkReset(cash: Money): Outcome<null> {
    const limit = this.limits().maxResetCash;
    if (cash > parseMoney(limit)!) return refused("reset_limit", `cash ${formatMoney(cash)} is above the most a reset may start with (${limit})`, [{ path: "cash", message: `at most ${limit}` }]);
    return accepted(null);
  }

  /**
   * Starts the account over with `cash`; every order must have ended first. The day's
   * loss stays (a reset is no way around the daily loss limit). The previous close becomes
   * the new cash, so last_equity is the new account's, as Alpaca's paper reset leaves it
   * (kept, a reset to less showed the difference as the day's loss with nothing traded).
   */
  reset(cash: Money, traceparent: string | null): Outcome<{ cash: string }> {
    const bound = this.checkReset(cash);
    if (!bound.ok) return bound;
    if (this.book.openOrders().some((o) => isOpen(this.order(o.id)!.status))) return refused("cancel_pending", "some orders could not be canceled yet; try the reset again in a moment");
    this.#roll();
    const now = this.deps.now();
    const before = this.#totalCash();
    this.#state.ledger = openLedger(cash);
    this.#state.replacements = {};
    this.#state.day = { ...this.#state.day, close: { cash: cash.toString(), lots: {} } };
    this.#state.resets = (this.#state.resets ?? 0) + 1;
    this.#log.stateChanged();
    // The amount the reset moves, as every cash activity's is, so the activities still add up to the cash.
    this.#activity("JNLC", now, { net_amount: formatMoney(cash - before), description: `${RESET_DESCRIPTION} ${formatMoney(cash)} (cash was ${formatMoney(before)}, positions closed at no price)` });
    this.#publish("account.cash_changed", { reason: "reset", cash: formatMoney(cash) }, traceparent);
    return accepted({ cash: formatMoney(cash) });
  }

  /**
   * Blocks trading (its user was disabled: every open order is canceled and new ones are
   * refused) or lifts the block. Answers the ids of the orders it cancels.
   */
  setTradingBlocked(blocked: boolean, reason: string, traceparent: string | null): string[] {
    if (!blocked) {
      if (this.#state.blocked) {
        this.#state.blocked = null;
        this.#log.stateChanged();
        // Still suspended by the trader (suspend_trade): the notification says so.
        this.#publish("account.status_changed", { status: "ACTIVE", trading_blocked: false, ...(this.#state.suspended ? { suspend_trade: true } : {}) }, traceparent);
      }
      return [];
    }
    if (!this.#state.blocked) {
      this.#state.blocked = { reason, since: this.deps.now() };
      this.#log.stateChanged();
      this.#publish("account.status_changed", { status: "INACTIVE", trading_blocked: true, reason }, traceparent);
    }
    return this.cancelAll();
  }

  /** The account's configuration (Alpaca's `/v2/account/configurations`). */
  configuration(): ConfigurationView {
    return configurationView(Boolean(this.#state.suspended));
  }

  /** Sets what the trader may set (`suspend_trade`); refuses a change to a field the account fixes. */
  configure(body: Partial<ConfigurationView>, traceparent: string | null): Outcome<ConfigurationView> {
    const change = configurationChange(body);
    if (!change.ok) return change;
    const { suspendTrade } = change.value;
    if (suspendTrade !== undefined && suspendTrade !== Boolean(this.#state.suspended)) {
      this.#state.suspended = suspendTrade;
      this.#log.stateChanged();
      this.#publish("account.status_changed", { status: this.#state.blocked ? "INACTIVE" : "ACTIVE", trading_blocked: Boolean(this.#state.blocked), trade_suspended_by_user: suspendTrade }, traceparent);
    }
    return accepted(this.configuration());
  }

  setLimits(limits: Partial<RiskLimits>): RiskLimits {
    this.#state.limits = { ...this.#state.limits, ...limits };
    this.#log.stateChanged();
    return this.limits();
  }

  /** Starts a new trading day if the date has changed: the day's loss restarts and the close is kept for last_equity. */
  rollDay(): void {
    this.#roll();
  }

  // ---- views ----------------------------------------------------------------------------

  /** Symbols whose prices the account view needs: held now or at the previous close. */
  pricedSymbols(): string[] {
    const held = Object.entries(this.#state.ledger.positions).filter(([, p]) => p.qty > 0).map(([s]) => s);
    return [...new Set([...held, ...Object.keys(this.#closeNow().lots)])];
  }

  accountView(prices: Record<string, MarketPrice | undefined>) {
    const ledger = this.#state.ledger;
    const longValue = marketValueOf(ledger, (s) => this.#specOf(s), prices);
    const lastEquity = closingEquity(this.#closeNow(), (s) => this.#specOf(s), prices);
    return accountView(this.#state.accountId, this.#state.createdAt, ledger, longValue, formatMoney(lastEquity), tradingDate(this.deps.now()), Boolean(this.#state.blocked), Boolean(this.#state.suspended));
  }

  positions(prices: Record<string, MarketPrice | undefined>) {
    return Object.entries(this.#state.ledger.positions)
      .filter(([, p]) => p.qty > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, p]) => positionView(p, this.#specOf(symbol)!, this.#known(symbol)?.assetId ?? "", prices[symbol]));
  }

  // ---- internals: placing ---------------------------------------------------------------

  /** The checks that need the instrument and the market before any arithmetic. */
  #gate(intent: OrderIntent, asset: AssetInfo, market: MarketPrice | null): { ok: false; refusal: Refusal } | null {
    const symbol = asset.spec.symbol;
    const blocked = this.#state.blocked;
    if (blocked) return refused("trading_blocked", `trading is blocked on this account: ${blocked.reason}; an admin must enable the user again`);
    if (this.#state.suspended) return refused("trading_blocked", "trading is suspended by the account's configuration (suspend_trade); set it to false in /v2/account/configurations to place orders again");
    if (!asset.active || !asset.tradable) return refused("tradable", `${symbol} is not tradable`, [{ path: "symbol", message: "not tradable" }]);
    if (!sessionOpen(asset.session, this.deps.now())) return refused("session", `${symbol} is outside its trading session`, [{ path: "symbol", message: "market closed" }]);
    if (!market) return refused("no_price", `no market price for ${symbol} yet; try again once its feed has printed`);
    if (market.stale && marketableOnArrival(intent, market))
      return refused("stale_quote", `${symbol}'s quote is stale (its feed has been silent since ${new Date(market.t).toISOString()}); marketable orders are refused until it is fresh`);
    return null;
  }

  /**
   * Risk checks and the reservation against `ledger`: the order and what it would hold,
   * which `ledger` has room for. No side effects (the reservation is made when the order opens). With `windowed`, also the window of reference prices at every
   * one of which the same checks accept, the order and its reservation made at the
   * window's worst edge (the highest reference for a buy, the lowest for a sell).
   */
  #prepare(id: string, intent: OrderIntent, asset: AssetInfo, reference: number, replaces: string | null, ledger: Ledger, windowed = false): Outcome<Prepared> {
    const limits = this.limits();
    const { spec } = asset;
    const now = this.deps.now();
    const position = ledger.positions[spec.symbol];
    const openBuyLots = this.#openLots(spec.symbol, "buy", replaces);
    const positionLots = position?.qty ?? 0;
    /** Lots of the position no open sell holds. */
    const free = positionLots - (position?.reserved ?? 0);
    const ordersLastMinute = this.book.ordersSince(now - MINUTE);
    const dailyLoss = BigInt(this.#state.day.loss);
    // A trailing stop's stop is where its trail stands from the price it is checked at.
    const priced = (reference: number): OrderIntent => (intent.trail ? { ...intent, stop: trailingStop(intent.side, reference, intent.trail) } : intent);
    // A literal per price (an object spread with an override is V8's slow copy).
    const risk = (reference: number) => checkRisk({ intent: priced(reference), spec, reference, positionLots, openBuyLots, ordersLastMinute, dailyLoss, limits });
    const venue = this.deps.config.venue;
    /** What the order would hold at `reference`: its protection price, and its reservation (null: a notional sell of nothing). */
    const holding = (reference: number): { cap: number | null; reservation: Reservation | null } => {
      const intent = priced(reference);
      // Market orders never trade beyond the band around the last price (stops: around the
      // stop, or the last price when the stop is already through it), which is also the
      // worst case the reservation covers. A trailing buy's stop only falls from where it
      // starts, so its protection price set there covers wherever it triggers.
      const anchor = isStopMarket(intent.type) ? stopAnchor(intent.side, intent.stop!, reference) : reference;
      const cap = intent.type === "market" || isStopMarket(intent.type) ? protectionPrice(intent.side, anchor, limits.priceBandPct) : null;
      const worst = intent.limit ?? cap!;
      if (intent.side === "buy") return { cap, reservation: { side: "buy", symbol: spec.symbol, cash: buyReservation(intent, worst, spec, venue), lots: 0 } };
      // A notional sell worth more than the free position at the last price is refused, as
      // Alpaca refuses it, rather than selling everything and calling the order filled.
      if (intent.qty === null && intent.notional! > notional(reference, free, spec)) return { cap, reservation: null };
      const lots = intent.qty ?? notionalSellLots(intent.notional!, worst, free, spec);
      return { cap, reservation: lots === 0 ? null : { side: "sell", symbol: spec.symbol, cash: sellFeeReservation(venue), lots } };
    };
    const at = (reference: number): Outcome<Prepared> => {
      const refusal = risk(reference);
      if (refusal) return refused(refusal.rule, refusal.message, [{ path: refusal.path ?? "", message: refusal.message }]);
      const { cap, reservation } = holding(reference);
      if (!reservation) {
        // A notional sell worth more than the free position: the `position` rule, as a qty sell's.
        const message = `insufficient qty available for order (requested: ${formatMoney(intent.notional!)} USD of ${spec.symbol}, available: ${formatMoney(notional(reference, free, spec))} USD at the last price ${ticksToDecimal(reference, spec)})`;
        return refused("position", message, [{ path: "notional", message: "more than the free position is worth at the last price" }]);
      }
      // Only checked here: the order's reservation is made when it opens, on the ledger as it is then.
      const error = reservationRefusal(ledger, id, reservation);
      if (error) {
        // The ledger counts lots; the trader reads quantities. A sell short of shares is the
        // `position` rule, as a close's is (the message stays ccxt's InsufficientFunds wording).
        if (error.reason === "insufficient_position" && reservation) {
          return refused("position", `insufficient balance for ${spec.symbol} (requested ${lotsToDecimal(reservation.lots, spec)}, available ${lotsToDecimal(free, spec)})`, [{ path: "qty", message: "more than the position's free quantity" }]);
        }
        // What a buy holds, said after ccxt's words (found in QA: a market buy of the cash's
        // worth at the last price was refused with a sum 10 % above it, and no reason).
        const holds =
          error.reason !== "insufficient_cash" || intent.side !== "buy" || intent.qty === null ? ""
          : cap !== null ? `: a ${intent.type === "market" ? "market" : "stop"} buy holds its value at the edge of the ${limits.priceBandPct}% price band (${ticksToDecimal(cap, spec)}), the most it may pay, plus the largest fee; a notional buy holds only its amount and fee`
          : ": a limit buy holds its value at its limit price plus the largest fee";
        return refused("buying_power", `${error.message}${holds}`);
      }
      const order = newOrder(id, priced(reference), asset, cap, replaces, now, intent.trail ? reference : null);
      if (this.#state.resets) order.resets = this.#state.resets;
      return accepted({ order, reservation });
    };
    /** Whether `at(reference)` accepts, by the same checks, with no order, ledger or message made. */
    const accepts = (reference: number): boolean => {
      if (risk(reference)) return false;
      const { reservation } = holding(reference);
      return reservation !== null && reservationShortfall(ledger, id, reservation) === null;
    };
    const here = at(reference);
    if (!windowed || !here.ok) return here;
    const wide = priceWindow(reference, limits.priceBandPct, accepts);
    const window = intent.type === "stop" ? untriggeredStopWindow(wide, intent.side, intent.stop!, reference) : intent.trail ? trailingWindow(wide, intent.side, reference) : wide;
    const worst = at(intent.side === "buy" ? window.high : window.low);
    // Every price in the window accepts (priceWindow's premise); should one not, the window
    // narrows to the price checked, which is always right.
    return worst.ok ? accepted({ ...worst.value, window }) : accepted({ ...here.value, window: { ...window, low: reference, high: reference } });
  }

  #open(order: AccountOrder, reservation: Reservation, traceparent: string | null, window?: PriceWindow): void {
    this.#state.ledger = reserve(this.#state.ledger, order.id, reservation);
    this.#log.stateChanged();
    this.#knowSpec(order);
    this.#put(order);
    this.#event("order.submitted", order, traceparent);
    // Two literals rather than a conditional spread, which V8 copies slowly (one an order).
    const request = this.#venueRequest(order);
    this.#log.venue(window ? { kind: "submit", symbol: order.spec.symbol, request, window } : { kind: "submit", symbol: order.spec.symbol, request });
  }

  #requestCancelOf(order: AccountOrder, window?: PriceWindow): void {
    if (!order.cancelRequested) {
      order.cancelRequested = true;
      this.#put(order);
    }
    this.#log.venue(window ? { kind: "cancel", symbol: order.spec.symbol, orderId: order.id, window } : { kind: "cancel", symbol: order.spec.symbol, orderId: order.id });
  }

  #venueRequest(o: AccountOrder): VenueOrderRequest {
    const reserved = this.#state.ledger.reservations[o.id];
    const request: VenueOrderRequest = {
      id: o.id,
      account: this.deps.owner,
      side: o.side,
      type: o.type,
      tif: o.tif,
      qty: o.qty,
      notional: o.notional,
      maxLots: o.qty === null && o.side === "sell" ? (reserved?.lots ?? 0) : null,
      limit: o.limit,
      stop: o.stop,
      cap: o.cap,
      expiresAt: o.expiresAt,
    };
    if (o.trail) {
      request.trail = o.trail;
      request.hwm = o.hwm ?? null;
    }
    return request;
  }

  // ---- internals: reports ---------------------------------------------------------------

  /** A trailing stop's mark moved at the venue: the order shows where its stop stands (no trade update: Alpaca sends none). */
  #applyTrail(order: AccountOrder, r: Extract<Report, { kind: "trail" }>): void {
    if (!isOpen(order.status) || (order.hwm === r.hwm && order.stop === r.stop)) return;
    order.hwm = r.hwm;
    order.stop = r.stop;
    order.updatedAt = Math.max(order.updatedAt, r.t);
    this.#put(order);
  }

  /** Applies one execution; answers why not, if the ledger refuses it. */
  #applyFill(order: AccountOrder, r: Extract<Report, { kind: "fill" }>, traceparent: string | null, last = false): string | null {
    const spec = order.spec;
    const ledger = this.#state.ledger;
    const before = ledger.positions[spec.symbol]?.realizedPl ?? ZERO;
    const fee = BigInt(r.fee);
    let next: Ledger;
    try {
      next = applyFill(ledger, { orderId: order.id, symbol: spec.symbol, side: order.side, priceTicks: r.price, lots: r.qty, fee }, spec);
    } catch (error) {
      if (error instanceof LedgerError) return error.message;
      throw error;
    }
    const value = notional(r.price, r.qty, spec);
    const realized = (next.positions[spec.symbol]?.realizedPl ?? ZERO) - before;
    // Amounts are kept as text: one that adds nothing (no fee, no loss: most fills) is not read and written again.
    const loss = fee - (realized < 0n ? realized : 0n);
    if (loss !== ZERO) this.#state.day.loss = (BigInt(this.#state.day.loss) + loss).toString();
    order.filledQty += r.qty;
    order.filledNotional = (BigInt(order.filledNotional) + value).toString();
    if (fee !== ZERO) order.fees = (BigInt(order.fees) + fee).toString();
    const complete = last || (order.qty !== null && order.filledQty >= order.qty);
    this.#move(order, complete ? "filled" : "partially_filled", r.t);
    if (complete) {
      order.filledAt = r.t;
      next = release(next, order.id);
    }
    this.#state.ledger = next;
    this.#log.stateChanged();
    this.#knowSpec(order);
    this.#put(order);
    const record = fillRecord(order, r, realized);
    let fill = this.deps.fillRecords ? null : fillView(record);
    this.#activity("FILL", r.t, fill ?? (record as unknown as Record<string, unknown>));
    const view = this.#heardView(order);
    let data = {};
    if (this.deps.events !== false) {
      fill ??= fillView(record);
      data = { order: view, execution_id: r.executionId, price: fill.price, qty: fill.qty, fee: fill.fee, realized_pl: fill.realized_pl };
    }
    this.#publish(complete ? "order.filled" : "order.partially_filled", data, traceparent);
    if (view && this.deps.tradeUpdates !== false) {
      fill ??= fillView(record);
      const positionQty = lotsToDecimal(next.positions[spec.symbol]?.qty ?? 0, spec);
      this.#log.tradeUpdate(tradeUpdate(complete ? "fill" : "partial_fill", view, { executionId: r.executionId, t: r.t, price: fill.price, qty: fill.qty, positionQty }));
    }
    return null;
  }

  #applyDone(order: AccountOrder, r: Extract<Report, { kind: "done" }>, traceparent: string | null): void {
    if (!isOpen(order.status)) return;
    const replacement = this.#state.replacements[order.id];
    if (replacement) delete this.#state.replacements[order.id];
    this.#state.ledger = release(this.#state.ledger, order.id);
    this.#log.stateChanged();
    order.cancelRequested = false;
    order.reason = r.message;
    if (r.reason === "canceled" && replacement) {
      const placed = this.#completeReplace(order, replacement);
      if (placed.ok) {
        this.#move(order, "replaced", r.t);
        order.replacedAt = r.t;
        order.replacedBy = placed.value.order.id;
        this.#put(order);
        this.#announce("replaced", order, "order.replaced", replacement.traceparent);
        this.#open(placed.value.order, placed.value.reservation, replacement.traceparent);
        return;
      }
      this.#replaceRefusals.set(order.id, placed.refusal);
    }
    const status: OrderStatus = r.reason;
    this.#move(order, status, r.t);
    if (status === "filled") order.filledAt = r.t;
    if (status === "canceled") order.canceledAt = r.t;
    if (status === "expired") order.expiredAt = r.t;
    if (status === "rejected") order.failedAt = r.t;
    this.#put(order);
    this.#announce(status === "filled" ? "fill" : status, order, `order.${status}`, traceparent, { reason: r.message });
  }

  /** The replace's second step: the old order's reservation is back; place the new one. */
  #completeReplace(old: AccountOrder, replacement: PendingReplacement): Outcome<Prepared> {
    const remaining = old.qty === null ? null : old.qty - old.filledQty;
    // What filled while the cancel was on its way counts toward a total the client gave.
    const left = replacement.totalLots !== undefined && remaining !== null ? replacement.totalLots - old.filledQty : undefined;
    if (left !== undefined && left <= 0)
      return refused("invalid_order", "qty must be > filled_qty", [{ path: "qty", message: `the order filled ${lotsToDecimal(old.filledQty, old.spec)} before its replace landed, which the qty given does not exceed` }]);
    const fields =
      left !== undefined ? { ...replacement.fields, qty: lotsToDecimal(left, old.spec) }
      : replacement.qtyGiven || remaining === null ? replacement.fields
      : { ...replacement.fields, qty: lotsToDecimal(remaining, old.spec) };
    const parsed = parseOrderRequest(fields, old.spec);
    if ("problems" in parsed) return refused("invalid_order", parsed.problems.map((p) => p.message).join("; "), parsed.problems);
    // The replacement's id was promised to the client's request in the first step.
    return this.#prepare(replacement.id, parsed.intent, replacement.asset, replacement.reference, old.id, this.#state.ledger);
  }

  #hold(symbol: string, report: Report, order: AccountOrder, problem: string): void {
    if (this.#state.held[symbol]?.seq === report.seq) return;
    this.#state.held[symbol] = { seq: report.seq, message: problem };
    this.#log.stateChanged();
    this.#anomaly({ kind: "fill_refused", symbol, orderId: order.id, seq: report.seq, message: problem });
  }

  #move(order: AccountOrder, to: OrderStatus, t: number): void {
    if (order.status !== to && !canMove(order.status, to)) {
      this.#anomaly({ kind: "illegal_transition", symbol: order.spec.symbol, orderId: order.id, seq: null, message: `${order.status} → ${to}` });
      return;
    }
    order.status = to;
    order.updatedAt = Math.max(order.updatedAt, t);
  }

  // ---- internals: records ---------------------------------------------------------------

  #put(order: AccountOrder): void {
    this.#log.put(order);
  }

  #byClientId(clientOrderId: string): AccountOrder | undefined {
    for (const o of this.#log.orders()) if (o.clientOrderId === clientOrderId) return o;
    return this.book.orderByClientId(clientOrderId);
  }

  #claimed(clientOrderId: string): boolean {
    return Object.values(this.#state.replacements).some((r) => r.clientOrderId === clientOrderId);
  }

  /**
   * Lots left on the account's open orders of `symbol` and `side`, `except` one (an order
   * being replaced): the book's sum over what it stores, with the orders this command
   * changed (the log's, not yet committed) counted as they are now instead.
   */
  #openLots(symbol: string, side: "buy" | "sell", except: string | null): number {
    const changed = [...this.#log.orders()];
    let lots = this.book.openLotsOf(symbol, side, except === null ? changed.map((o) => o.id) : [...changed.map((o) => o.id), except]);
    for (const o of changed) if (o.id !== except && o.spec.symbol === symbol && o.side === side) lots += openLots(o);
    return lots;
  }

  #activity(type: string, t: number, data: Record<string, unknown>): void {
    // Activity ids sort by time (yyyymmddHHMMSSmmm::id), so a page token is a position;
    // within a millisecond by the account's activity number, the id's first eight hex
    // digits (a random id there listed a sweep's fills in any order).
    const seq = (this.#state.activitySeq ?? 0) + 1;
    this.#state.activitySeq = seq;
    this.#log.stateChanged();
    this.#log.activity({ id: `${activityStamp(t)}::${(seq % 0x1_0000_0000).toString(16).padStart(8, "0")}${this.deps.newId().slice(8)}`, type, t, data });
  }

  #announce(update: TradeEvent, order: AccountOrder, event: string, traceparent: string | null, extra: Record<string, unknown> = {}): void {
    const view = this.#heardView(order);
    this.#publish(event as EventType, this.deps.events === false ? {} : { order: view, ...extra }, traceparent);
    if (view && this.deps.tradeUpdates !== false) this.#log.tradeUpdate(tradeUpdate(update, view));
  }

  /**
   * The order's view for its domain event and its trade update (one view for both: they
   * describe the order at the same instant), or null when neither is built.
   */
  #heardView(order: AccountOrder): OrderView | null {
    return this.deps.events === false && this.deps.tradeUpdates === false ? null : orderView(order);
  }

  #event(type: EventType, order: AccountOrder, traceparent: string | null, extra: Record<string, unknown> = {}): void {
    if (this.deps.events === false) this.#publish(type, {}, traceparent);
    else this.#publish(type, { order: orderView(order), ...extra }, traceparent);
  }

  #publish(type: EventType, data: Record<string, unknown>, traceparent: string | null): void {
    this.#state.eventSeq += 1;
    this.#log.stateChanged();
    if (this.deps.events === false) {
      // The same ids as a run that builds its events, so what a run answers does not depend on it.
      if (this.deps.skipId) this.deps.skipId();
      else this.deps.newId();
      return;
    }
    const { owner } = this.deps;
    this.#log.event(
      domainEvent(type, `account:${owner}`, { account_id: this.#state.accountId, user_id: owner, version: this.#state.eventSeq, ...data }, traceparent, { id: this.deps.newId(), at: this.deps.now() }),
    );
  }

  #anomaly(a: Anomaly): void {
    this.#state.anomalies += 1;
    this.#log.stateChanged();
    this.#log.anomaly(a);
  }

  #totalCash(): Money {
    return this.#state.ledger.cash + this.#state.ledger.reservedCash;
  }

  #roll(): void {
    const today = tradingDate(this.deps.now());
    if (this.#state.day.date === today) return;
    this.#state.day = { date: today, loss: "0", close: this.#closeNow() };
    this.#log.stateChanged();
  }

  /** The previous close as of now: today's record, or (the day having changed) the balances now. */
  #closeNow() {
    if (this.#state.day.date === tradingDate(this.deps.now())) return this.#state.day.close;
    const lots = Object.fromEntries(Object.entries(this.#state.ledger.positions).filter(([, p]) => p.qty > 0).map(([s, p]) => [s, p.qty]));
    return { cash: this.#totalCash().toString(), lots };
  }

  /** Remembers the instrument of an order's symbol (a new entry only when it changed: every order and fill tells it). */
  #knowSpec(order: AccountOrder): void {
    const known = this.#specs.get(order.spec.symbol);
    if (known?.spec !== order.spec || known.assetId !== order.assetId) this.#specs.set(order.spec.symbol, { spec: order.spec, assetId: order.assetId });
  }

  #specOf(symbol: string): InstrumentSpec | undefined {
    return this.#known(symbol)?.spec;
  }

  #known(symbol: string) {
    let known = this.#specs.get(symbol);
    if (!known) {
      const o = this.book.latestOrderOf(symbol);
      if (o) this.#specs.set(symbol, (known = { spec: o.spec, assetId: o.assetId }));
    }
    return known;
  }
}

/** Whether `fields` on `asset` ask for the order `existing` is (its symbol, side, type, time in force, size and prices). */
function sameOrder(existing: AccountOrder, fields: OrderRequestFields, asset: AssetInfo): boolean {
  if (existing.spec.symbol !== asset.spec.symbol) return false;
  const parsed = parseOrderRequest(fields, asset.spec);
  if ("problems" in parsed) return false;
  const i = parsed.intent;
  // A trailing stop's stop is set where it is placed and moves after: its trail is what it was asked for.
  const sameStop = existing.trail ? sameTrail(i.trail, existing.trail) : i.trail === null && i.stop === existing.stop;
  return i.side === existing.side && i.type === existing.type && i.tif === existing.tif && i.qty === existing.qty && (i.notional === null ? null : i.notional.toString()) === existing.notional && i.limit === existing.limit && sameStop;
}
