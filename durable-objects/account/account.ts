import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { database, schema } from "../../platform/db";
import { packEvents } from "../../shared/events";
import { logger } from "../../platform/log";
import { endSpan, finishSpan, logSpanLines, SpanScopes, spanned, startSpan, traced, type Span, type Spanned, type SpanValue, type Traced } from "../../platform/trace";
import { AccountEngine } from "../../shared/trading/account-engine";
import { AccountRunner } from "../../shared/trading/account-runner";
import type { AssetInfo } from "../../shared/trading/asset";
import { tradingConfig } from "../../shared/trading/config";
import { orderView, type OrderRequestFields, type OrderView, type ReplaceFields } from "../../shared/trading/orders";
import type { Outcome } from "../../shared/trading/outcome";
import { commandOrderId, type AccountChanges, type ActivityQuery, type OrderQuery, type VenueCommand } from "../../shared/trading/ports";
import type { RiskLimits } from "../../shared/trading/risk";
import { activityView, type MarketPrice } from "../../shared/trading/views";
import type { PortfolioFold } from "../../shared/trading/portfolio-history";
import type { Report } from "../../shared/venue/venue";
import { objectName } from "../name";
import { AccountStore } from "./store";
import type { ConfigurationView } from "../../shared/trading/configuration";
import { changeWatchlists, findWatchlist, type Watchlist, type WatchlistCommand, type WatchlistRef } from "../../shared/trading/watchlists";
import type { SocketSelector } from "../../shared/stream/access";
import type { UserStream } from "../../shared/trading/stream";
import { acceptTradeSocket, admitMarketSocket, broadcastToStream, broadcastTradeUpdate, closeTradeSockets, onTradeSocketClose, onTradeSocketMessage, releaseMarketSockets } from "./trade-sockets";
import { symbolVenues } from "./venues";
import { StrategyLink } from "./strategy-link";
import type { StrategyCommand, StrategySendReply, StrategyViewReply, StrategyViewRequest } from "../../shared/strategy/live";
import { GATED_COMMANDS, type GateOutcome, type GateRequest, type Gated, type GatedCommand, type UserRecord } from "../../shared/identity/gate";
import { IdentityDesk } from "./identity";
import { ConfigSubscriber } from "../config/subscriber";
import type { AccountConfig } from "../../shared/config/live";

const log = logger("account");
/** How soon the retry alarm resends what is known to be owed: a venue call that failed, events a send failed to take, what an earlier incarnation left. */
const RETRY_MS = 1_000;
/**
 * How soon it comes when nothing is known to have failed: the alarm every stored order and
 * every stored event gets, which only matters if this process dies before the venue
 * answers or the queue takes the events (and otherwise deletes the rows of sent events no
 * later commit has). Longer than RETRY_MS so that a trading account is not woken by its
 * own alarm every second: each firing cost about as much of the local Worker's CPU as a
 * sixth of an order (docs/order-path.md).
 */
const SAFETY_MS = 5_000;

/** The gated commands that call the symbol objects: the span's traceparent follows their arguments. */
const TRACED_COMMANDS = ["account", "positions", "position", "cancelOrder", "cancelAll", "configure"] as const satisfies readonly GatedCommand[];

/** What an order span says of its outcome: the order, or the rule that refused it. */
const orderFields = (outcome: Outcome<OrderView>): Record<string, SpanValue> =>
  outcome.ok ? { orderId: outcome.value.id, orderStatus: outcome.value.status } : { rule: outcome.refusal.rule };

/**
 * One paper account, as a shell around the AccountEngine (shared/trading/account-engine.ts):
 * it stores what the engine changes (AccountStore, one transaction per command), keeps the
 * retry alarm, publishes the event outbox to the queue and the trade updates to its
 * sockets. The exactly-once protocol with the venues: docs/exactly-once.md.
 */
export class Account extends DurableObject<Env> {
  readonly #owner: string;
  readonly #store: AccountStore;
  readonly #runner: AccountRunner;
  readonly #strategies: StrategyLink;
  readonly #identity: IdentityDesk;
  /** The block's syncs with the user row, in order (syncTradingBlock). */
  #statusSyncs: Promise<void> = Promise.resolve();
  readonly #config: ConfigSubscriber;
  /** The symbol calls' spans, gathered for the gated span that made them (platform/trace.ts). */
  readonly #spans = new SpanScopes();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#owner = objectName(ctx) ?? "unknown";
    this.#store = new AccountStore(ctx.storage, this.#owner);
    this.#identity = new IdentityDesk(env, this.#owner);
    const deps = { owner: this.#owner, now: () => Date.now(), newId: () => crypto.randomUUID(), config: tradingConfig(env) };
    this.#runner = new AccountRunner(this.#store, symbolVenues(env, this.#spans), () => new AccountEngine(this.#store, deps), {
      beforeVenueCalls: () => this.#armRetry(SAFETY_MS),
      committed: (changes) => this.#dispatch(changes),
      venueFailed: (command, error) => this.#venueFailed(command, error),
    }, { now: () => Date.now() });
    this.#strategies = new StrategyLink(ctx.storage.sql, this.#store, this.#runner, env, deps.config.venue, () => this.#identity.refusal("trading:write"));
    // Run-time configuration (docs/config.md): the engine reads its global limits from
    // deps.config on every check, so replacing them applies to the next order.
    this.#config = new ConfigSubscriber(ctx.storage, env, this.#owner, (config) => {
      deps.config = { ...deps.config, limits: config.riskLimits };
    });
    // Venue calls or events owed by an earlier incarnation (its retry alarm may have been
    // lost with it): whatever wakes the object next also arms the alarm that sends them.
    if (this.#store.unsettledOrders().length > 0 || this.#store.outboxSize() > 0) this.#armRetry();
  }

  // ---- the gate: the user's credentials and rate limits (shared/identity/gate.ts) -----------

  // Every call from the gateway carries the request's traceparent (in the gate request, or
  // as the last argument) and is one span of this object, whose traceparent the command
  // hands on to the symbol objects and into its events (docs/tracing.md). The span and the
  // symbol calls' spans ride back in the answer (`spans`), for the gateway's request line.

  /** Whether a request of this user stands and fits their rate limit; the gateway's check for routes that do not call in themselves. */
  async admit(request: GateRequest): Promise<GateOutcome & Traced> {
    const span = startSpan("account.admit", request.traceparent);
    const outcome = await this.#identity.admit(await this.#configured(request));
    return { ...outcome, spans: [this.#gatedSpan(span, outcome)] };
  }

  /** GET /api/users/me in one call: the gate, then the user as D1 last said. */
  async me(request: GateRequest): Promise<Gated<UserRecord> & Traced> {
    const span = startSpan("account.me", request.traceparent);
    const outcome = await this.#identity.me(await this.#configured(request));
    return { ...outcome, spans: [this.#gatedSpan(span, outcome)] };
  }

  /** POST /v2/orders in one call: the gate, then the order. */
  placeOrderAs(request: GateRequest, fields: OrderRequestFields, asset: AssetInfo, traceparent: string | null): Promise<Gated<Outcome<OrderView>> & Traced> {
    return this.#gated(request, "placeOrder", (span) => this.#publishing(this.#runner.place(fields, asset, span.traceparent)), traceparent, orderFields);
  }

  /** Any of the read and cancel commands a route sends with its gate, in one call. */
  gated<K extends GatedCommand>(request: GateRequest, command: K, ...args: Parameters<Account[K]>): Promise<Gated<Awaited<ReturnType<Account[K]>>> & Traced> {
    if (!(GATED_COMMANDS as readonly string[]).includes(command)) throw new Error(`${command} is not a gated command`);
    const run = this[command] as (...a: unknown[]) => unknown;
    // The commands that call the symbol objects (prices, cancels) take the span's traceparent after their arguments.
    const passesTrace = (TRACED_COMMANDS as readonly string[]).includes(command);
    return this.#gated<unknown>(request, command, async (span) => run.apply(this, passesTrace ? [...args, span.traceparent] : args)) as Promise<Gated<Awaited<ReturnType<Account[K]>>> & Traced>;
  }

  /** The user or their credentials changed in D1 (role, status, profile, a revocation): read them again on next use. */
  identityChanged(): void {
    this.#identity.forget();
  }

  async #gated<T>(request: GateRequest, name: string, command: (span: Span) => Promise<T>, traceparent: string | null = null, describe?: (value: T) => Record<string, SpanValue>): Promise<Gated<T> & Traced> {
    const span = startSpan(`account.${name}`, request.traceparent ?? traceparent);
    this.#spans.open(span.traceparent);
    try {
      const outcome = await this.#identity.admit(await this.#configured(request));
      if (!outcome.admitted) {
        this.#spans.close(span.traceparent);
        return { ...outcome, spans: [this.#gatedSpan(span, outcome)] };
      }
      const value = await command(span);
      const line = finishSpan(span, "account", { account: this.#owner, admitted: true, ...describe?.(value) });
      return { admitted: true, rate: outcome.rate, value, spans: [line, ...this.#spans.close(span.traceparent)] };
    } catch (error) {
      // No answer to carry them: this span and its calls' are logged here.
      endSpan(span, log, { account: this.#owner, error: String(error) }, "error");
      logSpanLines(this.#spans.close(span.traceparent));
      throw error;
    }
  }

  #gatedSpan(span: Span, outcome: { admitted: boolean; refusal?: { status: number } }) {
    return finishSpan(span, "account", { account: this.#owner, admitted: outcome.admitted, ...(outcome.refusal ? { status: outcome.refusal.status } : {}) });
  }

  // ---- run-time configuration (durable-objects/config/subscriber.ts) -----------------------

  /** The ConfigStore's push of a change: applied to the next request. */
  configChanged(config: AccountConfig): void {
    this.#config.receive(config);
  }

  /** The gateway sends the rate limit from the vars; the configuration's, once the object holds it, counts instead. */
  async #configured(request: GateRequest): Promise<GateRequest> {
    await this.#config.ready;
    const rates = this.#config.current?.rateLimits;
    return rates ? { ...request, limit: rates[request.bucket], windowMs: rates.windowSeconds * 1000 } : request;
  }

  // ---- reads ----------------------------------------------------------------------------

  account(traceparent: string | null = null) {
    return this.#publishing(this.#runner.account(traceparent));
  }

  positions(traceparent: string | null = null) {
    return this.#runner.positions(traceparent);
  }

  async position(symbol: string, traceparent: string | null = null) {
    return (await this.#runner.positions(traceparent)).find((p) => p.symbol === symbol) ?? null;
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
    return this.#store.activities(q).map((a) => activityView(a, this.#runner.engine.state.accountId));
  }

  /** The account's holdings when [from, until) starts and every change in it (shared/trading/portfolio-history.ts). */
  portfolioFold(from: number, until: number): PortfolioFold {
    return this.#store.portfolioFold(from, until, this.#runner.engine.state.createdAt);
  }

  // ---- configuration (shared/trading/configuration.ts) -------------------------------------

  configuration(): ConfigurationView {
    return this.#runner.engine.configuration();
  }

  configure(body: Partial<ConfigurationView>, traceparent: string | null = null): Promise<Outcome<ConfigurationView>> {
    return this.#publishing(this.#runner.configure(body, traceparent));
  }

  // ---- watchlists (shared/trading/watchlists.ts) ------------------------------------------

  watchlists(): { accountId: string; lists: Watchlist[] } {
    return { accountId: this.#runner.engine.state.accountId, lists: this.#store.watchlists() };
  }

  watchlist(ref: WatchlistRef): { accountId: string; list: Watchlist } | null {
    const list = findWatchlist(this.#store.watchlists(), ref);
    return list ? { accountId: this.#runner.engine.state.accountId, list } : null;
  }

  /** Runs a change and stores it in the same synchronous step: no other request's change can come between. */
  changeWatchlist(command: WatchlistCommand): Outcome<{ accountId: string; list: Watchlist; deleted: boolean }> {
    const outcome = changeWatchlists(this.#store.watchlists(), command, () => crypto.randomUUID(), Date.now());
    if (!outcome.ok) return outcome;
    this.#store.saveWatchlist(outcome.value);
    return { ok: true, value: { accountId: this.#runner.engine.state.accountId, ...outcome.value } };
  }

  /** The stored state and order counts, for reconciliation tests and the crash test. */
  audit() {
    const state = this.#runner.engine.state;
    return {
      ledger: this.#store.rawState() ?? "{}",
      open: this.#store.openOrders().length,
      counts: this.#store.counts(),
      outbox: this.#store.outboxSize(),
      anomalies: state.anomalies,
      held: state.held,
      cursors: state.cursors,
    };
  }

  // ---- commands -------------------------------------------------------------------------

  placeOrder(fields: OrderRequestFields, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    return this.#traced("placeOrder", traceparent, (t) => this.#runner.place(fields, asset, t), orderFields);
  }

  replaceOrder(id: string, fields: ReplaceFields, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    return this.#traced("replaceOrder", traceparent, (t) => this.#runner.replace(id, fields, asset, t), (o) => ({ replaced: id, ...orderFields(o) }));
  }

  cancelOrder(id: string, traceparent: string | null = null): Promise<Outcome<null>> {
    return this.#publishing(this.#runner.cancel(id, traceparent));
  }

  async cancelAll(traceparent: string | null = null): Promise<{ id: string; status: number; body: OrderView }[]> {
    return (await this.#publishing(this.#runner.cancelAll(traceparent))).map((o) => ({ id: o.id, status: 200, body: o }));
  }

  closePosition(symbol: string, asset: AssetInfo, qty: string | null, percentage: string | null, traceparent: string | null): Promise<Outcome<OrderView>> {
    return this.#traced("closePosition", traceparent, (t) => this.#runner.closePosition(symbol, asset, qty, percentage, t), orderFields);
  }

  /**
   * Called by a symbol's venue to deliver reports, with its price now; answers the last
   * sequence applied, and this call's span for the venue to log in its line.
   */
  async venueReports(symbol: string, reports: Report[], traceparent: string | null = null, price?: MarketPrice | null): Promise<{ applied: number } & Spanned> {
    const { value: applied, span } = await spanned(
      log,
      "account",
      "account.venueReports",
      traceparent,
      { account: this.#owner, symbol, reports: reports.length },
      (s) => this.#publishing(this.#runner.venueReports(symbol, reports, s.traceparent, price)),
      (applied) => ({ applied }),
    );
    return { applied, span };
  }

  /** A command in its own span (a child of `traceparent`), whose traceparent it hands on. */
  #traced<T>(name: string, traceparent: string | null, command: (traceparent: string) => Promise<T>, describe?: (value: T) => Record<string, unknown>): Promise<T> {
    return traced(log, `account.${name}`, traceparent, (span) => this.#publishing(command(span.traceparent)), (value) => ({ account: this.#owner, ...describe?.(value) }));
  }

  // ---- live strategies (shared/strategy/live.ts) ------------------------------------------

  /** What a live strategy of this account sees, with the updates of its orders it has not collected. */
  strategyView(request: StrategyViewRequest): StrategyViewReply {
    return this.#strategies.view(request);
  }

  /** A live strategy's order, cancel or cancel-all, through the same runner and risk checks as the API's. */
  strategySend(symbol: string, prefix: string, command: StrategyCommand, traceparent: string | null = null): Promise<StrategySendReply> {
    return this.#traced("strategySend", traceparent, (t) => this.#strategies.send(symbol, prefix, command, t), (reply) => ({ symbol, command: command.kind, ...(reply.refusal ? { rule: reply.refusal.rule } : {}) }));
  }

  /** `amount` in money units (10^-18 USD) as a bigint string; RPC carries no bigints. */
  deposit(amount: string, traceparent: string | null = null): Promise<{ cash: string }> {
    return this.#traced("deposit", traceparent, (t) => this.#runner.deposit(BigInt(amount), t));
  }

  /** `cash` in money units, as for deposit. */
  reset(cash: string, traceparent: string | null = null): Promise<Outcome<{ cash: string }>> {
    return this.#traced("reset", traceparent, (t) => this.#runner.reset(BigInt(cash), t));
  }

  /** Disabling a user blocks their trading and cancels their open orders; enabling lifts it. */
  setTradingBlocked(blocked: boolean, reason: string, traceparent: string | null = null): Promise<void> {
    return this.#traced("setTradingBlocked", traceparent, (t) => this.#runner.setTradingBlocked(blocked, reason, t), () => ({ blocked }));
  }

  /**
   * Makes the block follow the user's status as D1 has it now (disabled: blocked, its open
   * orders canceled; active: trading). Calls run one after another, each reading D1 when it
   * runs, so however concurrent enable and disable requests interleave, the last call reads
   * after the last write and the account ends as the user row says. (Told "disabled" or
   * "enabled" instead, a call overtaken by a later write left them disagreeing.)
   */
  syncTradingBlock(traceparent: string | null = null): Promise<void> {
    const run = this.#statusSyncs.then(async () => {
      const row = await database(this.env).select({ status: schema.users.status }).from(schema.users).where(eq(schema.users.id, this.#owner)).get();
      const disabled = row?.status === "disabled";
      await this.setTradingBlocked(disabled, disabled ? "the user is disabled" : "the user is enabled", traceparent);
    });
    this.#statusSyncs = run.catch(() => undefined);
    return run;
  }

  setLimits(limits: Partial<RiskLimits>): Promise<RiskLimits> {
    return this.#publishing(this.#runner.setLimits(limits));
  }

  // ---- dispatch -------------------------------------------------------------------------

  /** Runs in the commit's synchronous run, so its writes (strategy updates, the alarm) join the commit's transaction. */
  #dispatch(changes: AccountChanges): void {
    // Events wait in the outbox for the queue; the alarm deletes the sent ones if no commit does first.
    if (changes.events.length > 0) this.#armRetry(SAFETY_MS);
    for (const update of changes.tradeUpdates) broadcastTradeUpdate(this.ctx, this.env, update);
    this.#strategies.keep(changes.tradeUpdates);
    for (const anomaly of changes.anomalies) log("error", `account anomaly: ${anomaly.kind}`, { account: this.#owner, ...anomaly, anomalies: this.#runner.engine.state.anomalies });
  }

  /**
   * Runs a command, then sends the events it stored (one queue message per call, not one
   * per event or per commit: an order's events travel together) without holding its
   * answer: they are in the outbox already, and the alarm retries a send that fails.
   */
  async #publishing<T>(command: Promise<T>): Promise<T> {
    const result = await command;
    void this.#flushEvents();
    return result;
  }

  #venueFailed(command: VenueCommand, error: unknown): void {
    log("warn", `venue ${command.kind} failed; will retry`, { account: this.#owner, order: commandOrderId(command), symbol: command.symbol, error: String(error) });
    this.#armRetry();
  }

  /** When the retry alarm is set for, as far as this incarnation knows (null: not set by it, or already run). */
  #alarmAt: number | null = null;

  /**
   * Sets the retry alarm `delay` from now unless it is due by then. The time is kept in
   * memory (no getAlarm read, and no await), so called right after a commit the alarm's
   * write joins the commit's transaction. A new incarnation sets it once without knowing:
   * at worst an alarm moves less than `delay` later.
   */
  #armRetry(delay = RETRY_MS): void {
    const at = Date.now() + delay;
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  // Alarms are at-least-once: resending is safe because the venue ignores an order id it
  // has seen and a cancel of an order it has finished.
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const owed = await this.#runner.resend();
    await this.#flushEvents();
    // Sent events no commit has deleted yet: deleted here, off the order path.
    this.#store.dropPublished();
    if (owed || this.#store.outboxSize() > 0) this.#armRetry();
  }

  async #flushEvents(): Promise<void> {
    const pending = this.#store.takeOutbox();
    if (pending.length === 0) return;
    const ids = pending.map((p) => p.id);
    try {
      await this.env.EVENTS.sendBatch(packEvents(pending.map((p) => p.event)).map((body) => ({ body, contentType: "json" as const })));
      this.#store.published(ids);
    } catch (error) {
      this.#store.unsent(ids);
      log("warn", "event publish failed; will retry", { account: this.#owner, events: pending.length, error: String(error) });
      this.#armRetry();
    }
  }

  // ---- the user's sockets: trade_updates, market-data leases (trade-sockets.ts) -------

  override fetch(request: Request): Response {
    return acceptTradeSocket(this.ctx, this.env, request);
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    return onTradeSocketMessage(this.ctx, this.env, ws, data);
  }

  /**
   * Sends `{stream, data}` to this user's sockets listening to `stream` (backtest progress,
   * notifications, …). With a traceparent (a notification's push) it logs a span, a child of
   * it, only when a socket got the frame: most users are not listening, and a line per push
   * that reached nobody cost more than the push.
   */
  notify(stream: UserStream, data: unknown, traceparent: string | null = null): void {
    const span = traceparent === null ? null : startSpan("account.notify", traceparent);
    const sockets = broadcastToStream(this.ctx, this.env, stream, data);
    if (span && sockets > 0) endSpan(span, log, { account: this.#owner, stream, sockets });
  }

  /** Ends the trade_updates sockets a revocation selects (and drops what the gate knew of the user's credentials); answers how many. */
  closeSockets(selector: SocketSelector, reason: string): number {
    // Every revocation comes through here: the gate reads the user's credentials again.
    this.#identity.forget();
    return closeTradeSockets(this.ctx, selector, reason);
  }

  /** Counts the user's market-data sockets across the hubs: admits one unless at the limit. */
  admitMarketSocket(socketId: string, hub: string): Promise<{ admitted: boolean }> {
    return admitMarketSocket(this.ctx, this.env, socketId, hub);
  }

  releaseMarketSockets(socketIds: string[]): void {
    releaseMarketSockets(this.ctx, socketIds);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    onTradeSocketClose(this.ctx, this.env, ws, code);
  }
}
