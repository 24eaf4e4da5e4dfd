import { DurableObject } from "cloudflare:workers";
import { FeedEngine, type FeedHistory, type FeedState, type Instrument } from "../../shared/market/feed";
import type { AlpacaOrderbook, barToAlpaca, quoteToAlpaca, tradeToAlpaca } from "../../shared/market/format";
import type { HistoryPage, HistoryQuery } from "../../shared/market/history";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { SimParamsSchema } from "../../shared/market/simulator";
import type { Bar, MarketEvent } from "../../shared/market/types";
import type { SymbolConfig } from "../../shared/config/live";
import { FeedConfig } from "../../shared/schemas/assets";
import { tradingConfig } from "../../shared/trading/config";
import type { MarketPrice } from "../../shared/trading/views";
import type { VenueAnswer } from "../../shared/trading/ports";
import type { PriceWindow } from "../../shared/trading/price-window";
import type { VenueOrderRequest } from "../../shared/venue/venue";
import { assetBySymbol, assetInfo, instrumentSpecOf } from "../../platform/assets";
import { logger } from "../../platform/log";
import { endSpan, spanned, startSpan, type Spanned, type SpanValue } from "../../platform/trace";
import { objectName } from "../name";
import { barsPage, importBars, orderbookOf, previousClose, quotesPage, snapshotOf, tradesPage } from "./history";
import { MarketStore } from "./store";
import { UpstreamLink } from "./upstream-link";
import { VenueHost } from "./venue-host";
import { StrategyHost } from "./strategy-host";
import { recordLiveStatus } from "./strategy-status";
import type { LiveStrategyConfig, LiveStrategyStatus } from "../../shared/strategy/live-host";

const log = logger("market-symbol");

const PRUNE_EVERY = 600;
/** Half-prints a stepwise replay plays in one alarm before yielding (strategies run between each). */
const STEPWISE_PER_ALARM = 200;

type Running = { symbol: string; feed: string; running: boolean };

/**
 * One object per symbol: its feed (simulator, replay or upstream adapter), its trades,
 * quotes and bars in SQLite, its venue, and the stream hubs that want its data. The rules
 * live in the pure FeedEngine and Venue; this shell stores what they drain, schedules the
 * alarm, holds the upstream socket and publishes. It asks everything of them at wall time.
 */
export class MarketSymbol extends DurableObject<Env> {
  readonly #name: string | undefined;
  readonly #store: MarketStore;
  readonly #venue: VenueHost;
  readonly #history: FeedHistory;
  #feed: FeedEngine | undefined;
  readonly #upstream: UpstreamLink;
  /** Stream events not yet handed to the hubs. */
  #unpublished: MarketEvent[] = [];
  readonly #strategies: StrategyHost;
  #steps = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#name = objectName(ctx);
    this.#store = new MarketStore(ctx.storage.sql);
    // Venue answers carry the price the account's checks read; the previous close, which
    // only valuations read (they ask marketPrice), is left out: two bar reads saved on
    // every order and every push.
    this.#venue = new VenueHost(ctx.storage, env.ACCOUNT, this.#symbol, env, (now) => this.#feed?.price(now, null) ?? null);
    this.#upstream = new UpstreamLink(this.#symbol, {
      feed: () => this.#feed,
      commit: (now) => this.#commit(now),
      dispatch: () => void this.#publish().then(() => this.#venue.deliver(Date.now())).then(() => this.#hear()),
      wake: (at) => void this.ctx.storage.setAlarm(at),
    });
    this.#strategies = new StrategyHost(ctx.storage.sql, env, this.#symbol, {
      spec: () => this.#feed?.instrument.spec,
      lastTicks: () => this.#feed?.state.lastTrade?.priceTicks ?? null,
      feedKind: () => this.#feed?.instrument.feed.kind ?? "none",
      statusChanged: (config, status) => recordLiveStatus(env, config, status),
    });
    this.#history = {
      bar: (timeframe, t) => this.#store.getBar(timeframe, t),
      firstBar: (timeframe, from, to) => this.#store.barRange(timeframe, from, to, 1)[0],
    };
    void ctx.blockConcurrencyWhile(async () => {
      // A throw here would reset the object; log and stay up without a feed instead.
      try {
        await this.#loadInstrument();
      } catch (error) {
        log("error", "symbol configuration failed", { symbol: this.#symbol, error: String(error) });
      }
    });
  }

  get #symbol(): string {
    return this.#name ?? "unknown";
  }

  // ---- configuration ------------------------------------------------------------------

  async #loadInstrument(): Promise<void> {
    const row = await assetBySymbol(this.env, this.#symbol, { fresh: true });
    if (!row) {
      this.#feed = undefined;
      this.#venue.load(undefined, tradingConfig(this.env).venue, Infinity);
      return;
    }
    const spec = instrumentSpecOf(row);
    const feed = row.status === "active" ? FeedConfig.parse(JSON.parse(row.feed)) : ({ kind: "none" } as const);
    const sim = feed.kind === "sim" ? SimParamsSchema.parse(feed.params) : undefined;
    const kind = spec.assetClass === "crypto" ? "crypto" : "stocks";
    const instrument: Instrument = { spec, kind, feed, sim, fingerprint: JSON.stringify([spec, feed]) };
    const now = Date.now();
    const engine = new FeedEngine(instrument, this.ctx.storage.kv.get<FeedState>("feed"), this.#history, now, this.#store.lastTradeId());
    this.#feed = engine;
    this.#venue.load(spec, tradingConfig(this.env).venue, engine.staleAfterMs, assetInfo(row).session);
    // A simulated feed starts with a quote: store it and show it to the venue at once.
    this.#commit(now);
  }

  /** A run-time configuration change pushed by the ConfigStore (docs/config.md): the venue trades by it from the next order or print. */
  configChanged(config: SymbolConfig): void {
    this.#venue.configChanged(config);
  }

  /** Re-reads the asset (after an admin change) and (re)starts its feed. */
  async reload(): Promise<void> {
    await this.#loadInstrument();
    this.#upstream.close();
    await this.ensureRunning();
  }

  /** Arms the feed's alarm if it should be running and is not. Idempotent. */
  async ensureRunning(): Promise<Running> {
    const feed = this.#feed?.instrument.feed.kind ?? "none";
    const current = await this.ctx.storage.getAlarm();
    // A simulator's first step is one tick interval away, like every later one.
    const first = Date.now() + (this.#feed?.instrument.sim?.tickIntervalMs ?? 0);
    if (feed !== "none" && current === null) await this.ctx.storage.setAlarm(first);
    return { symbol: this.#symbol, feed, running: feed !== "none" };
  }

  attachHub(hub: string): Promise<Running> {
    this.#store.addHub(hub);
    return this.ensureRunning();
  }

  detachHub(hub: string): void {
    this.#store.removeHub(hub);
  }

  // ---- the feed loop ------------------------------------------------------------------

  // Alarms are at-least-once and single-shot: each run advances the feed to "now" (a
  // repeated run adds no time, so nothing is printed twice) and re-arms only while the
  // feed or the report outbox has more to do.
  //
  // Runs never overlap: a run awaits the accounts (report delivery, live strategies' orders),
  // and a second run started meanwhile (a test's runDurableObjectAlarm beside the real
  // alarm) would play prints between a strategy's event and its orders.
  override alarm(): Promise<void> {
    const run = this.#feedLoop.then(() => this.#alarm());
    this.#feedLoop = run.catch(() => undefined);
    return run;
  }

  #feedLoop: Promise<void> = Promise.resolve();

  async #alarm(): Promise<void> {
    const feed = this.#feed;
    if (!feed) return;
    const now = Date.now();
    let next: number | undefined;
    const kind = feed.instrument.feed.kind;
    if (kind === "sim") next = feed.simStep(now);
    else if (kind === "replay" && this.#strategies.running) next = await this.#replayStepwise(feed, now);
    else if (kind === "replay") next = feed.replayStep(now);
    else if (kind === "upstream") next = await this.#upstream.step(feed, now);
    else feed.tick(now);
    this.#commit(now);
    if (++this.#steps % PRUNE_EVERY === 0) {
      this.#store.prune();
      this.#venue.prune(now);
    }
    await this.#publish();
    await this.#venue.deliver(Date.now());
    await this.#hear();
    const redeliver = this.#venue.redeliveryDue(Date.now());
    if (redeliver !== undefined) next = Math.min(next ?? Infinity, redeliver);
    if (next !== undefined) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1));
  }

  /**
   * A replay with live strategies plays one half of a print at a time (its quote, then its
   * trade) and lets the strategies hear each before the next, with the venue's reports
   * delivered to the accounts first: the order of events a backtest of the same bars has.
   */
  async #replayStepwise(feed: FeedEngine, now: number): Promise<number | undefined> {
    let next: number | undefined;
    for (let i = 0; i < STEPWISE_PER_ALARM; i++) {
      next = feed.replayStep(now, true);
      this.#commit(now);
      await this.#publish();
      await this.#venue.deliver(Date.now());
      await this.#hear();
      if (next === undefined || next > now) break;
    }
    return next;
  }

  /** Plays the feed's queued events to the live strategies. */
  #hear(): Promise<void> {
    return this.#strategies.process();
  }

  /**
   * Stores what the feed engine drained, passes its prints to the venue at wall time
   * `now`, and persists both engines' state, in one transaction; queues the stream events.
   */
  #commit(now: number): void {
    const feed = this.#feed;
    if (!feed) return;
    const changes = feed.drain();
    this.ctx.storage.transactionSync(() => {
      for (const { quote, trade } of changes.prints) {
        if (quote) this.#store.insertQuote(quote);
        if (trade) this.#store.insertTrade(trade);
      }
      for (const { timeframe, bar } of changes.bars) this.#store.putBar(timeframe, bar);
      this.#venue.onPrints(changes.prints, now);
      this.#strategies.enqueue(changes.feedEvents);
      this.ctx.storage.kv.put("feed", changes.state);
    });
    this.#unpublished.push(...changes.events);
  }

  async #publish(): Promise<void> {
    const events = this.#unpublished;
    this.#unpublished = [];
    const feed = this.#feed;
    if (events.length === 0 || !feed) return;
    const { kind } = feed.instrument;
    await Promise.allSettled(
      this.#store.hubs().map(async (hub) => {
        const { wanted } = await this.env.STREAM_HUB.getByName(hub).publish(kind, this.#symbol, events);
        if (!wanted) this.#store.removeHub(hub);
      }),
    );
  }

  // ---- the venue (RPC from accounts) -----------------------------------------------------

  /**
   * Takes an order (once: a resent id is ignored) and answers every report for its account
   * not yet acknowledged, in sequence order. `ackedSeq` is the last report the account has
   * applied, so those can be dropped from the outbox.
   */
  venueSubmit(order: VenueOrderRequest, ackedSeq: number, traceparent: string | null = null, window: PriceWindow | null = null): Promise<VenueAnswer & Spanned> {
    return this.#answering("symbol.venueSubmit", traceparent, () => this.#venue.submit(order, ackedSeq, Date.now(), window), { account: order.account, orderId: order.id });
  }

  /** Cancels an order; one the venue never received is refused for good if it arrives later. */
  venueCancel(account: string, orderId: string, ackedSeq: number, traceparent: string | null = null, window: PriceWindow | null = null): Promise<VenueAnswer & Spanned> {
    return this.#answering("symbol.venueCancel", traceparent, () => this.#venue.cancel(account, orderId, ackedSeq, Date.now(), window), { account, orderId });
  }

  /** A venue call's answer with its span, for the account to log in its caller's line (docs/tracing.md). */
  async #answering(name: string, traceparent: string | null, work: () => Promise<VenueAnswer>, fields: Record<string, SpanValue>): Promise<VenueAnswer & Spanned> {
    const { value, span } = await spanned(log, "market-symbol", name, traceparent, { symbol: this.#symbol, ...fields }, work, (answer) => ({ reports: answer.reports.length, ...(answer.declined ? { declined: true } : {}) }));
    return { ...value, span };
  }

  /** The reference price risk checks and valuations use (last trade, else the mid), and whether it is stale. */
  marketPrice(traceparent: string | null = null): MarketPrice | null {
    const span = startSpan("symbol.marketPrice", traceparent);
    const price = this.#feed?.price(Date.now(), previousClose(this.#store)) ?? null;
    endSpan(span, log, { symbol: this.#symbol, stale: price?.stale ?? null });
    return price;
  }

  /** The venue's fills for an account, to reconcile the account against (at most 1,000 a page). */
  venueFills(account: string, afterSeq = 0) {
    return this.#venue.fills(account, afterSeq, 1000);
  }

  venueStatus() {
    return this.#venue.status();
  }

  // ---- live strategies (RPC from the gateway) ----------------------------------------------

  /** Starts (or, for the same run, confirms) a live strategy, and the feed it listens to. */
  async strategyStart(config: LiveStrategyConfig): Promise<LiveStrategyStatus> {
    const status = await this.#strategies.start(config);
    await this.ensureRunning();
    return status;
  }

  /** `reason`: why it was stopped for its owner (kept as its status message), when the owner did not ask. */
  strategyStop(id: string, reason: string | null = null): Promise<{ status: LiveStrategyStatus; stopped: boolean } | null> {
    return this.#strategies.stop(id, reason);
  }

  strategyStatus(id: string): LiveStrategyStatus | null {
    return this.#strategies.status(id);
  }

  strategyLogs(id: string, afterSeq: number, limit: number) {
    return this.#strategies.logs(id, afterSeq, limit);
  }

  // ---- history and snapshots (RPC) ---------------------------------------------------------

  bars(timeframe: string, q: HistoryQuery): HistoryPage<ReturnType<typeof barToAlpaca>> {
    return barsPage(this.#store, this.#requireSpec(), timeframe, q);
  }

  trades(q: HistoryQuery): HistoryPage<ReturnType<typeof tradeToAlpaca>> {
    return tradesPage(this.#store, this.#requireSpec(), q);
  }

  quotes(q: HistoryQuery): HistoryPage<ReturnType<typeof quoteToAlpaca>> {
    return quotesPage(this.#store, this.#requireSpec(), q);
  }

  snapshot() {
    return snapshotOf(this.#store, this.#requireSpec(), this.#feed?.state ?? {});
  }

  /** The current book (the quote, one level a side): REST's latest order book and a new stream subscriber's first. */
  orderbook(): AlpacaOrderbook | null {
    return this.#feed ? orderbookOf(this.#feed.instrument.spec, this.#feed.state.lastQuote) : null;
  }

  /** Replaces stored bars of one timeframe over the imported range, and the coarser ones over it, in one transaction. */
  importBars(timeframe: string, bars: Bar[]): { imported: number; rebuilt: string[] } {
    const spec = this.#requireSpec();
    return this.ctx.storage.transactionSync(() => importBars(this.#store, spec, timeframe, bars));
  }

  status() {
    const feed = this.#feed;
    const state = feed?.state;
    const now = Date.now();
    return {
      symbol: this.#symbol,
      configured: feed !== undefined,
      feed: feed?.instrument.feed.kind ?? "none",
      hubs: this.#store.hubs().length,
      lastTradeAt: state?.lastTrade ? new Date(state.lastTrade.t).toISOString() : null,
      lastQuoteAt: state?.lastQuote ? new Date(state.lastQuote.t).toISOString() : null,
      /** Nothing received for longer than the feed's limit: prices are stale and the venue refuses marketable orders. */
      stale: feed ? feed.stale(now) : true,
      staleAfterMs: feed?.staleAfterMs ?? null,
      lastReceivedAt: state?.receivedAt !== undefined ? new Date(state.receivedAt).toISOString() : null,
      upstream: state?.upstream ? this.#upstream.status(state.upstream) : null,
    };
  }

  #requireSpec(): InstrumentSpec {
    if (!this.#feed) throw new RangeError(`unknown symbol ${this.#symbol}`);
    return this.#feed.instrument.spec;
  }
}
