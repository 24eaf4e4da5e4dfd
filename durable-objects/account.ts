import { DurableObject } from "cloudflare:workers";
import { domainEvent, type EventType } from "../shared/events";
import type { InstrumentSpec } from "../shared/market/instrument";
import { tradingConfig } from "../shared/trading/config";
import { applyFill, deposit, LedgerError, openLedger, release, reserve, type Ledger } from "../shared/trading/ledger";
import { decimalToLots, lotsToDecimal, ticksToDecimal } from "../shared/market/instrument";
import { formatMoney, notional, parseMoney, ZERO } from "../shared/trading/money";
import { canMove, isOpen, orderView, parseOrderRequest, type AccountOrder, type FieldProblem, type OrderIntent, type OrderRequestFields, type OrderStatus, type OrderView } from "../shared/trading/orders";
import { buyReservation, checkRisk, notionalSellLots, protectionPrice, type RiskLimits, type RiskReject } from "../shared/trading/risk";
import { dayOrderExpiry, sessionOpen, type TradingSession } from "../shared/trading/session";
import { tradeUpdate, type TradeUpdate } from "../shared/trading/stream";
import { accountView, activityView, marketValueOf, positionView, type MarketPrice } from "../shared/trading/views";
import type { Report, VenueOrderRequest } from "../shared/venue/venue";
import { logger } from "../platform/log";
import { objectName } from "./name";
import { AccountStore, type ActivityQuery, type OrderQuery } from "./account/store";
import { acceptTradeSocket, broadcastTradeUpdate, onTradeSocketClose, onTradeSocketMessage } from "./account/trade-sockets";

const log = logger("account");

export interface AssetInfo {
  id: string;
  spec: InstrumentSpec;
  tradable: boolean;
  active: boolean;
  session: TradingSession | null;
}

export interface Problem {
  status: 403 | 404 | 409 | 422 | 429;
  message: string;
  details: FieldProblem[];
  rule?: string;
}
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: Problem };

interface Meta {
  accountId: string;
  createdAt: number;
  /** Per-account overrides of the global limits. */
  limits: Partial<RiskLimits>;
  /** The New York day and what was lost on it (realized losses + fees), for the daily loss limit. */
  day: { date: string; loss: string; startEquity: string | null };
  /** Per symbol: the last venue report applied. Reports at or below it are duplicates. */
  cursors: Record<string, number>;
  /** Numbers the account's events, so projections keep only the latest state of an order. */
  eventSeq: number;
}

const RETRY_MS = 1_000;
const MINUTE = 60_000;

const fail = (status: Problem["status"], message: string, details: FieldProblem[] = [], rule?: string): { ok: false; problem: Problem } => ({ ok: false, problem: { status, message, details, rule } });
const fromRisk = (r: RiskReject) => fail(r.status, r.message, [{ path: r.path ?? "", message: r.message }], r.rule);

// Bigints survive storage as "123n" strings.
const encode = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
const decode = <T>(text: string): T => JSON.parse(text, (_k, v: unknown) => (typeof v === "string" && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as T;

const newYorkDate = (ms: number) => new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(new Date(ms));
const activityId = (t: number) => `${new Date(t).toISOString().replace(/\D/g, "").slice(0, 17)}::${crypto.randomUUID()}`;

/**
 * One paper account: its cash, reservations, positions, orders and history, changed one
 * command at a time. Orders go to each symbol's venue and come back as reports (fills and
 * ends) that are applied exactly once: every report carries the venue's sequence number
 * and the account keeps, per symbol, the last one it applied.
 */
export class Account extends DurableObject<Env> {
  readonly #name: string | undefined;
  readonly #store: AccountStore;
  #ledger!: Ledger;
  #meta!: Meta;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#name = objectName(ctx);
    this.#store = new AccountStore(ctx.storage.sql);
    const ledger = ctx.storage.kv.get<string>("ledger");
    const meta = ctx.storage.kv.get<string>("meta");
    if (ledger && meta) {
      this.#ledger = decode<Ledger>(ledger);
      this.#meta = decode<Meta>(meta);
    } else {
      const now = Date.now();
      const cash = tradingConfig(env).startingCash;
      this.#ledger = openLedger(cash);
      this.#meta = { accountId: crypto.randomUUID(), createdAt: now, limits: {}, day: { date: newYorkDate(now), loss: "0", startEquity: null }, cursors: {}, eventSeq: 0 };
      ctx.storage.transactionSync(() => {
        this.#save();
        this.#store.addActivity({ id: activityId(now), type: "CSD", t: now, data: { net_amount: formatMoney(cash), description: "opening deposit" } });
      });
    }
  }

  get #owner(): string {
    return this.#name ?? "unknown";
  }

  #save(): void {
    this.ctx.storage.kv.put("ledger", encode(this.#ledger));
    this.ctx.storage.kv.put("meta", encode(this.#meta));
  }

  #limits(): RiskLimits {
    return { ...tradingConfig(this.env).limits, ...this.#meta.limits };
  }

  #venue(symbol: string) {
    return this.env.MARKET.getByName(symbol);
  }

  // ---- reads ----------------------------------------------------------------------------

  async account() {
    const prices = await this.#prices(Object.keys(this.#ledger.positions).filter((s) => this.#ledger.positions[s]!.qty > 0));
    this.#rollDay(Date.now());
    const view = accountView(this.#meta.accountId, this.#meta.createdAt, this.#ledger, marketValueOf(this.#ledger, (s) => this.#specOf(s), prices), this.#meta.day.startEquity);
    if (this.#meta.day.startEquity === null) {
      this.#meta.day.startEquity = view.equity;
      this.#save();
    }
    return view;
  }

  async positions() {
    const held = Object.entries(this.#ledger.positions).filter(([, p]) => p.qty > 0);
    const prices = await this.#prices(held.map(([s]) => s));
    return held.sort(([a], [b]) => a.localeCompare(b)).map(([symbol, p]) => positionView(p, this.#specOf(symbol)!, this.#assetIdOf(symbol), prices[symbol]));
  }

  async position(symbol: string) {
    const p = this.#ledger.positions[symbol];
    if (!p || p.qty === 0) return null;
    const prices = await this.#prices([symbol]);
    return positionView(p, this.#specOf(symbol)!, this.#assetIdOf(symbol), prices[symbol]);
  }

  order(id: string): OrderView | null {
    const o = this.#store.order(id);
    return o ? orderView(o) : null;
  }

  orderByClientId(clientOrderId: string): OrderView | null {
    const o = this.#store.orderByClientId(clientOrderId);
    return o ? orderView(o) : null;
  }

  orders(q: OrderQuery): OrderView[] {
    return this.#store.orders(q).map(orderView);
  }

  activities(q: ActivityQuery) {
    return this.#store.activities(q).map((a) => activityView(a, this.#meta.accountId));
  }

  /** The raw ledger and its orders, for reconciliation tests and the crash test. */
  audit() {
    return { ledger: encode(this.#ledger), open: this.#store.openOrders().length, counts: this.#store.counts(), outbox: this.#store.outboxSize() };
  }

  // ---- orders ---------------------------------------------------------------------------

  async placeOrder(fields: OrderRequestFields, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    if (fields.client_order_id) {
      const existing = this.#store.orderByClientId(fields.client_order_id);
      if (existing) return { ok: true, value: orderView(existing) };
    }
    const parsed = parseOrderRequest(fields, asset.spec);
    if ("problems" in parsed) return fail(422, parsed.problems.map((p) => p.message).join("; "), parsed.problems);
    const now = Date.now();
    if (!asset.active || !asset.tradable) return fail(422, `${asset.spec.symbol} is not tradable`, [{ path: "symbol", message: "not tradable" }], "tradable");
    if (!sessionOpen(asset.session, now)) return fail(422, `${asset.spec.symbol} is outside its trading session`, [{ path: "symbol", message: "market closed" }], "session");
    const market = await this.#market(asset.spec.symbol);
    if (!market) return fail(422, `no market price for ${asset.spec.symbol} yet; try again once its feed has printed`, [], "no_price");
    // Everything from here to the insert runs without awaiting: the read-check-write of
    // one order is atomic even though other requests may have run during the await above.
    if (fields.client_order_id && this.#store.orderByClientId(fields.client_order_id)) return { ok: true, value: orderView(this.#store.orderByClientId(fields.client_order_id)!) };
    const prepared = this.#prepare(parsed.intent, asset, market.reference, now, null, this.#ledger);
    if (!prepared.ok) return prepared;
    this.#commit(prepared.value.order, prepared.value.ledger, now, traceparent);
    // The retry alarm is armed before the venue is called: if the process dies in the
    // call, the stored order is sent again when the object next wakes.
    await this.#armRetry();
    await this.#send(prepared.value.order, traceparent);
    return { ok: true, value: orderView(this.#store.order(prepared.value.order.id)!) };
  }

  /** Risk checks and the reservation against `ledger`: the order and the ledger it would leave. No side effects. */
  #prepare(intent: OrderIntent, asset: AssetInfo, reference: number, now: number, replaces: string | null, ledger: Ledger): Outcome<{ order: AccountOrder; ledger: Ledger }> {
    const limits = this.#limits();
    const spec = asset.spec;
    this.#rollDay(now);
    const position = ledger.positions[spec.symbol];
    const openBuyLots = this.#store
      .openOrdersOf(spec.symbol, "buy")
      .filter((o) => o.id !== replaces)
      .reduce((s, o) => s + (o.qty === null ? 0 : o.qty - o.filledQty), 0);
    const risk = checkRisk({ intent, spec, reference, positionLots: position?.qty ?? 0, openBuyLots, ordersLastMinute: this.#store.ordersSince(now - MINUTE), dailyLoss: BigInt(this.#meta.day.loss), limits });
    if (risk) return fromRisk(risk);
    // Market orders never trade beyond the band around the last price (stops: around the
    // stop), which is also the worst case the reservation covers.
    const anchor = intent.type === "stop" ? intent.stop! : reference;
    const cap = intent.type === "market" || intent.type === "stop" ? protectionPrice(intent.side, anchor, limits.priceBandPct) : null;
    const worst = intent.limit ?? cap!;
    const id = crypto.randomUUID();
    let next: Ledger;
    try {
      if (intent.side === "buy") next = reserve(ledger, id, { side: "buy", symbol: spec.symbol, cash: buyReservation(intent, worst, spec, tradingConfig(this.env).venue), lots: 0 });
      else {
        const available = (position?.qty ?? 0) - (position?.reserved ?? 0);
        const lots = intent.qty ?? notionalSellLots(intent.notional!, worst, available, spec);
        if (lots === 0) throw new LedgerError("insufficient_position", `insufficient balance for ${spec.symbol} (requested ${formatMoney(intent.notional!)} USD, available 0)`);
        next = reserve(ledger, id, { side: "sell", symbol: spec.symbol, cash: ZERO, lots });
      }
    } catch (error) {
      if (error instanceof LedgerError) return fail(403, error.message, [], "buying_power");
      throw error;
    }
    const order: AccountOrder = {
      id,
      clientOrderId: intent.clientOrderId ?? id,
      assetId: asset.id,
      spec,
      side: intent.side,
      type: intent.type,
      tif: intent.tif,
      qty: intent.qty,
      notional: intent.notional === null ? null : intent.notional.toString(),
      limit: intent.limit,
      stop: intent.stop,
      cap,
      status: "pending_new",
      filledQty: 0,
      filledNotional: "0",
      fees: "0",
      createdAt: now,
      updatedAt: now,
      submittedAt: now,
      filledAt: null,
      canceledAt: null,
      expiredAt: null,
      failedAt: null,
      replacedAt: null,
      replacedBy: null,
      replaces,
      expiresAt: intent.tif === "day" ? dayOrderExpiry(asset.session, now) : null,
      atVenue: false,
      cancelRequested: false,
      reason: null,
    };
    return { ok: true, value: { order, ledger: next } };
  }

  #commit(order: AccountOrder, ledger: Ledger, now: number, traceparent: string | null): void {
    this.ctx.storage.transactionSync(() => {
      this.#event("order.submitted", order, traceparent);
      this.#ledger = ledger;
      this.#knownSpecs.set(order.spec.symbol, { spec: order.spec, assetId: order.assetId });
      this.#store.putOrder(order);
      this.#save();
    });
  }

  #venueRequest(o: AccountOrder): VenueOrderRequest {
    const reserved = this.#ledger.reservations[o.id];
    return {
      id: o.id,
      account: this.#owner,
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
  }

  /**
   * Hands an order to its venue and applies what comes back. If the venue cannot be
   * reached the order stays pending_new (it is stored and acknowledged) and the alarm
   * sends it again; the venue ignores an order id it has seen.
   */
  async #send(order: AccountOrder, traceparent: string | null): Promise<void> {
    const symbol = order.spec.symbol;
    try {
      const { reports } = await this.#venue(symbol).venueSubmit(this.#venueRequest(order), this.#meta.cursors[symbol] ?? 0);
      this.#acknowledged(order.id, traceparent);
      this.#apply(symbol, reports);
    } catch (error) {
      log("warn", "venue submit failed; will retry", { order: order.id, symbol, error: String(error) });
      await this.#armRetry();
    }
    await this.#flushEvents();
  }

  #acknowledged(id: string, traceparent: string | null): void {
    const o = this.#store.order(id);
    if (!o || o.atVenue) return;
    o.atVenue = true;
    const first = o.status === "pending_new";
    if (first) this.#move(o, "new", Date.now());
    this.ctx.storage.transactionSync(() => {
      this.#store.putOrder(o);
      if (first) this.#event("order.new", o, traceparent);
    });
    if (first) this.#broadcast(tradeUpdate("new", orderView(o)));
  }

  async cancelOrder(id: string): Promise<Outcome<null>> {
    const order = this.#store.order(id);
    if (!order) return fail(404, "order is not found.");
    if (!isOpen(order.status)) return fail(422, `order is not cancelable (status ${order.status})`);
    await this.#cancelAtVenue(order);
    return { ok: true, value: null };
  }

  async #cancelAtVenue(order: AccountOrder): Promise<void> {
    const symbol = order.spec.symbol;
    if (!order.cancelRequested) {
      const current = this.#store.order(order.id)!;
      current.cancelRequested = true;
      this.#store.putOrder(current);
      // As for a new order: a cancel lost in a crash is sent again by the alarm.
      await this.#armRetry();
    }
    try {
      const { reports } = await this.#venue(symbol).venueCancel(this.#owner, order.id, this.#meta.cursors[symbol] ?? 0);
      this.#apply(symbol, reports);
    } catch (error) {
      log("warn", "venue cancel failed; will retry", { order: order.id, symbol, error: String(error) });
      await this.#armRetry();
    }
    await this.#flushEvents();
  }

  async cancelAll(): Promise<{ id: string; status: number; body: OrderView | { code: number; message: string } }[]> {
    const open = this.#store.openOrders();
    await Promise.all(open.map((o) => this.#cancelAtVenue(o)));
    return open.map((o) => {
      const now = this.#store.order(o.id)!;
      return { id: o.id, status: 200, body: orderView(now) };
    });
  }

  async replaceOrder(id: string, fields: Partial<OrderRequestFields>, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    const old = this.#store.order(id);
    if (!old) return fail(404, "order is not found.");
    if (!isOpen(old.status) || !old.atVenue || old.cancelRequested) return fail(422, `cannot replace order in ${old.cancelRequested ? "pending_cancel" : old.status} status`);
    if (fields.client_order_id && this.#store.orderByClientId(fields.client_order_id)) return fail(422, "client_order_id must be unique");
    const remaining = old.qty === null ? null : old.qty - old.filledQty;
    const spec = old.spec;
    const merged: OrderRequestFields = {
      side: old.side,
      type: old.type,
      time_in_force: fields.time_in_force ?? old.tif,
      qty: fields.qty ?? (remaining === null ? null : lotsOf(remaining, spec)),
      notional: remaining === null ? formatMoney(BigInt(old.notional!)) : null,
      limit_price: fields.limit_price ?? (old.limit === null ? null : priceText(old.limit, spec)),
      stop_price: fields.stop_price ?? (old.stop === null ? null : priceText(old.stop, spec)),
      client_order_id: fields.client_order_id ?? null,
    };
    const parsed = parseOrderRequest(merged, spec);
    if ("problems" in parsed) return fail(422, parsed.problems.map((p) => p.message).join("; "), parsed.problems);
    const { intent } = parsed;
    if (intent.qty === remaining && intent.limit === old.limit && intent.stop === old.stop && intent.tif === old.tif) return fail(422, "order parameters are not changed");
    const market = await this.#market(spec.symbol);
    if (!market) return fail(422, `no market price for ${spec.symbol}`);
    // Check the new order against the account as it will be once the old one's
    // reservation is returned, before touching the old order.
    const dryRun = this.#prepare(intent, asset, market.reference, Date.now(), old.id, release(this.#ledger, old.id));
    if (!dryRun.ok) return dryRun;
    old.replacing = true;
    this.#store.putOrder(old);
    await this.#cancelAtVenue(old);
    const after = this.#store.order(old.id)!;
    if (after.status !== "replaced") {
      if (!isOpen(after.status)) return fail(422, `cannot replace order: it is ${after.status} now`);
      // The venue did not confirm the cancel (unreachable, or the answer was lost). The
      // cancel stands and the alarm sends it again, so the order will end canceled, not
      // replaced: say so rather than leave the client expecting its old order to live.
      this.#store.putOrder({ ...after, replacing: false });
      return fail(409, "cannot replace order now: its cancel is pending at the venue, so it will end canceled; place the new order once it has");
    }
    // Canceled at the venue: it becomes "replaced", and the new order takes its place.
    const now = Date.now();
    const placed = this.#prepare(intent, asset, market.reference, now, old.id, this.#ledger);
    if (!placed.ok) return placed;
    this.#commit(placed.value.order, placed.value.ledger, now, traceparent);
    await this.#armRetry();
    this.ctx.storage.transactionSync(() => {
      after.replacedAt = now;
      after.replacedBy = placed.value.order.id;
      after.updatedAt = now;
      this.#store.putOrder(after);
      this.#event("order.replaced", after, traceparent);
    });
    this.#broadcast(tradeUpdate("replaced", orderView(after)));
    await this.#send(placed.value.order, traceparent);
    return { ok: true, value: orderView(this.#store.order(placed.value.order.id)!) };
  }

  /** A market sell of all (or `qty`, or `percentage`) of a position. */
  async closePosition(symbol: string, asset: AssetInfo, qty: string | null, percentage: string | null, traceparent: string | null): Promise<Outcome<OrderView>> {
    const p = this.#ledger.positions[symbol];
    if (!p || p.qty === 0) return fail(404, "position does not exist");
    const spec = asset.spec;
    let lots = p.qty - p.reserved;
    if (qty !== null) {
      const wanted = decimalToLots(qty, spec);
      if (wanted === undefined || wanted <= 0) return fail(422, `qty must be a positive multiple of the lot size ${spec.lotSize}`, [{ path: "qty", message: "invalid qty" }]);
      lots = wanted;
    } else if (percentage !== null) {
      const pct = parseMoney(percentage);
      if (pct === undefined || pct <= 0n || pct > 100n * 10n ** 18n) return fail(422, "percentage must be a number above 0 and at most 100", [{ path: "percentage", message: "invalid percentage" }]);
      lots = Number((BigInt(p.qty) * pct) / (100n * 10n ** 18n));
      if (lots === 0) return fail(422, "that percentage of the position is less than one lot", [{ path: "percentage", message: "too small" }]);
    }
    if (lots > p.qty - p.reserved) return fail(403, `insufficient qty available for order (requested: ${lotsToDecimal(lots, spec)}, available: ${lotsToDecimal(p.qty - p.reserved, spec)})`, [], "position");
    if (lots <= 0) return fail(403, `insufficient qty available for order: ${symbol} is held by open orders`, [], "position");
    return this.placeOrder({ side: "sell", type: "market", time_in_force: "day", qty: lotsToDecimal(lots, spec) }, asset, traceparent);
  }

  // ---- reports from the venues ----------------------------------------------------------

  /** Called by a symbol's venue to deliver reports; answers the last sequence applied. */
  async venueReports(symbol: string, reports: Report[]): Promise<number> {
    this.#apply(symbol, reports);
    await this.#flushEvents();
    return this.#meta.cursors[symbol] ?? 0;
  }

  #apply(symbol: string, reports: Report[]): void {
    const updates: TradeUpdate[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const report of [...reports].sort((a, b) => a.seq - b.seq)) {
        if (report.seq <= (this.#meta.cursors[symbol] ?? 0) || report.account !== this.#owner) continue;
        this.#meta.cursors[symbol] = report.seq;
        const order = this.#store.order(report.orderId);
        if (!order) {
          log("error", "report for an unknown order", { symbol, order: report.orderId, seq: report.seq });
          continue;
        }
        const update = report.kind === "fill" ? this.#applyFill(order, report) : this.#applyDone(order, report);
        if (update) updates.push(update);
      }
      this.#save();
    });
    for (const u of updates) this.#broadcast(u);
  }

  #applyFill(order: AccountOrder, r: Extract<Report, { kind: "fill" }>): TradeUpdate | null {
    const spec = order.spec;
    const before = this.#ledger.positions[spec.symbol]?.realizedPl ?? ZERO;
    const fee = BigInt(r.fee);
    try {
      this.#ledger = applyFill(this.#ledger, { orderId: order.id, symbol: spec.symbol, side: order.side, priceTicks: r.price, lots: r.qty, fee }, spec);
    } catch (error) {
      // Only possible if a reservation was computed wrong: loud, never silent.
      log("error", "fill could not be applied", { order: order.id, executionId: r.executionId, error: String(error) });
      return null;
    }
    this.#knownSpecs.set(spec.symbol, { spec, assetId: order.assetId });
    const value = notional(r.price, r.qty, spec);
    const realized = (this.#ledger.positions[spec.symbol]?.realizedPl ?? ZERO) - before;
    this.#meta.day.loss = (BigInt(this.#meta.day.loss) + fee - (realized < 0n ? realized : 0n)).toString();
    order.filledQty += r.qty;
    order.filledNotional = (BigInt(order.filledNotional) + value).toString();
    order.fees = (BigInt(order.fees) + fee).toString();
    const complete = order.qty !== null && order.filledQty >= order.qty;
    this.#move(order, complete ? "filled" : "partially_filled", r.t);
    if (complete) {
      order.filledAt = r.t;
      this.#ledger = release(this.#ledger, order.id);
    }
    this.#store.putOrder(order);
    const positionQty = this.#ledger.positions[spec.symbol]?.qty ?? 0;
    const activity = {
      id: activityId(r.t),
      type: "FILL",
      t: r.t,
      data: {
        transaction_time: new Date(r.t).toISOString(),
        type: complete ? "fill" : "partial_fill",
        price: priceText(r.price, spec),
        qty: lotsOf(r.qty, spec),
        side: order.side,
        symbol: spec.symbol,
        leaves_qty: order.qty === null ? "0" : lotsOf(order.qty - order.filledQty, spec),
        order_id: order.id,
        cum_qty: lotsOf(order.filledQty, spec),
        order_status: order.status,
        execution_id: r.executionId,
        fee: formatMoney(fee),
        realized_pl: formatMoney(realized),
        liquidity: r.liquidity,
      },
    };
    this.#store.addActivity(activity);
    this.#event(complete ? "order.filled" : "order.partially_filled", order, null, { execution_id: r.executionId, price: activity.data.price, qty: activity.data.qty, fee: activity.data.fee, realized_pl: activity.data.realized_pl });
    return tradeUpdate(complete ? "fill" : "partial_fill", orderView(order), { executionId: r.executionId, t: r.t, price: activity.data.price, qty: activity.data.qty, positionQty: lotsOf(positionQty, spec) });
  }

  #applyDone(order: AccountOrder, r: Extract<Report, { kind: "done" }>): TradeUpdate | null {
    // A replace cancels the old order first: it ends as "replaced", announced by the replace.
    const status: OrderStatus = r.reason === "filled" ? "filled" : r.reason === "canceled" && order.replacing ? "replaced" : r.reason;
    if (!isOpen(order.status)) return null;
    this.#ledger = release(this.#ledger, order.id);
    this.#move(order, status, r.t);
    order.reason = r.message;
    order.cancelRequested = false;
    if (status === "filled") order.filledAt = r.t;
    if (status === "canceled") order.canceledAt = r.t;
    if (status === "expired") order.expiredAt = r.t;
    if (status === "rejected") order.failedAt = r.t;
    this.#store.putOrder(order);
    if (status === "replaced") return null;
    this.#event(`order.${status}` as EventType, order, null, { reason: r.message });
    return tradeUpdate(status === "filled" ? "fill" : status, orderView(order));
  }

  #move(order: AccountOrder, to: OrderStatus, t: number): void {
    if (order.status !== to && !canMove(order.status, to)) {
      log("error", "illegal order transition", { order: order.id, from: order.status, to });
      return;
    }
    order.status = to;
    order.updatedAt = Math.max(order.updatedAt, t);
  }

  // ---- cash -----------------------------------------------------------------------------

  async deposit(amount: string, traceparent: string | null = null): Promise<Outcome<{ cash: string }>> {
    const value = BigInt(amount);
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#ledger = deposit(this.#ledger, value);
      this.#store.addActivity({ id: activityId(now), type: "CSD", t: now, data: { net_amount: formatMoney(value), description: "deposit" } });
      this.#save();
      this.#publish("account.cash_changed", { reason: "deposit", amount: formatMoney(value), cash: formatMoney(this.#ledger.cash + this.#ledger.reservedCash) }, traceparent);
    });
    await this.#flushEvents();
    return { ok: true, value: { cash: formatMoney(this.#ledger.cash + this.#ledger.reservedCash) } };
  }

  /** Cancels every open order, then starts the account over with `cash`. */
  async reset(cash: string): Promise<Outcome<{ cash: string }>> {
    await Promise.all(this.#store.openOrders().map((o) => this.#cancelAtVenue(o)));
    if (this.#store.openOrders().length > 0) return fail(409, "some orders could not be canceled yet; try the reset again in a moment");
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#ledger = openLedger(BigInt(cash));
      this.#meta.day = { date: newYorkDate(now), loss: "0", startEquity: null };
      this.#store.addActivity({ id: activityId(now), type: "JNLC", t: now, data: { net_amount: formatMoney(BigInt(cash)), description: "account reset" } });
      this.#save();
      this.#publish("account.cash_changed", { reason: "reset", cash: formatMoney(BigInt(cash)) }, null);
    });
    await this.#flushEvents();
    return { ok: true, value: { cash: formatMoney(BigInt(cash)) } };
  }

  setLimits(limits: Partial<RiskLimits>): RiskLimits {
    this.#meta.limits = { ...this.#meta.limits, ...limits };
    this.#save();
    return this.#limits();
  }

  // ---- retries and events ---------------------------------------------------------------

  async #armRetry(): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > Date.now() + RETRY_MS) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
  }

  // Alarms are at-least-once: resending is safe because the venue ignores an order id it
  // has seen and a cancel of an order it has finished.
  override async alarm(): Promise<void> {
    for (const order of this.#store.unsettledOrders()) {
      if (!order.atVenue) await this.#send(order, null);
      else if (order.cancelRequested) await this.#cancelAtVenue(order);
    }
    await this.#flushEvents();
    const stuck = this.#store.unsettledOrders().length > 0 || this.#store.outboxSize() > 0;
    if (stuck) await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
  }

  #event(type: EventType, order: AccountOrder, traceparent: string | null, extra: Record<string, unknown> = {}): void {
    this.#publish(type, { order: orderView(order), ...extra }, traceparent);
  }

  /** Puts an event in the outbox; call inside the transaction that made the change. */
  #publish(type: EventType, data: Record<string, unknown>, traceparent: string | null): void {
    this.#meta.eventSeq += 1;
    const event = domainEvent(type, `account:${this.#owner}`, { account_id: this.#meta.accountId, user_id: this.#owner, version: this.#meta.eventSeq, ...data }, traceparent);
    this.#store.enqueue(event.id, event);
    this.ctx.storage.kv.put("meta", encode(this.#meta));
  }

  async #flushEvents(): Promise<void> {
    const pending = this.#store.outbox();
    if (pending.length === 0) return;
    try {
      await this.env.EVENTS.sendBatch(pending.map((p) => ({ body: p.event, contentType: "json" as const })));
      this.#store.removeFromOutbox(pending.map((p) => p.id));
    } catch (error) {
      log("warn", "event publish failed; will retry", { account: this.#owner, events: pending.length, error: String(error) });
      await this.#armRetry();
    }
  }

  // ---- market prices --------------------------------------------------------------------

  #knownSpecs = new Map<string, { spec: InstrumentSpec; assetId: string }>();

  #specOf(symbol: string): InstrumentSpec | undefined {
    return this.#known(symbol)?.spec;
  }

  #assetIdOf(symbol: string): string {
    return this.#known(symbol)?.assetId ?? "";
  }

  #known(symbol: string) {
    let known = this.#knownSpecs.get(symbol);
    if (!known) {
      const o = this.#store.orders({ open: null, after: null, until: null, direction: "desc", limit: 1, symbols: [symbol], side: null })[0];
      if (o) this.#knownSpecs.set(symbol, (known = { spec: o.spec, assetId: o.assetId }));
    }
    return known;
  }

  async #market(symbol: string): Promise<MarketPrice | null> {
    try {
      return await this.#venue(symbol).marketPrice();
    } catch (error) {
      log("warn", "market price unavailable", { symbol, error: String(error) });
      return null;
    }
  }

  async #prices(symbols: string[]): Promise<Record<string, MarketPrice | undefined>> {
    const entries = await Promise.all(symbols.map(async (s) => [s, (await this.#market(s)) ?? undefined] as const));
    return Object.fromEntries(entries);
  }

  // ---- trade_updates stream (durable-objects/account/trade-sockets.ts) --------------------

  override fetch(request: Request): Response {
    return acceptTradeSocket(this.ctx, request);
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    onTradeSocketMessage(ws, data);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    onTradeSocketClose(ws, code);
  }

  #broadcast(update: TradeUpdate): void {
    broadcastTradeUpdate(this.ctx, update);
  }

  #rollDay(now: number): void {
    const today = newYorkDate(now);
    if (this.#meta.day.date !== today) this.#meta.day = { date: today, loss: "0", startEquity: null };
  }
}

function lotsOf(lots: number, spec: InstrumentSpec): string {
  return lotsToDecimal(lots, spec);
}
function priceText(ticks: number, spec: InstrumentSpec): string {
  return ticksToDecimal(ticks, spec);
}
