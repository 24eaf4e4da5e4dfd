import { DurableObject } from "cloudflare:workers";
import { applyTrade, closeDueBars, newBarBook, onTrade, rollupBars, type BarBook, type ClosedBar } from "../shared/market/bars";
import { barToAlpaca, quoteToAlpaca, tradeToAlpaca } from "../shared/market/format";
import { decimalToLots, decimalToNearestTicks, decimalToTicks, ticksToNumber, lotsToNumber, type InstrumentSpec } from "../shared/market/instrument";
import { barPrints, printToTrade, quoteAroundPrint } from "../shared/market/replay";
import { initialSimState, SimParamsSchema, stepSimulator, type SimParams, type SimState } from "../shared/market/simulator";
import { bucketStart, nextBucketStart, parseTimeframe, STREAM_TIMEFRAMES, type Timeframe } from "../shared/market/timeframe";
import type { Bar, Quote, Trade } from "../shared/market/types";
import { FeedConfig } from "../shared/schemas/assets";
import type { StreamKind } from "../shared/stream-protocol";
import { logger } from "../platform/log";
import { objectName } from "./name";
import { MarketStore, type HistoryQuery } from "./market/store";
import { UpstreamConnection, type UpstreamQuote, type UpstreamTrade } from "./market/upstream";
import { VenueStore } from "./market/venue-store";
import { tradingConfig } from "../shared/trading/config";
import type { MarketPrice } from "../shared/trading/views";
import { Venue, type Report, type VenueOrderRequest } from "../shared/venue/venue";
import type { MarketEvent } from "./stream-hub";

const log = logger("market-symbol");

interface Instrument {
  spec: InstrumentSpec;
  kind: StreamKind;
  feed: FeedConfig;
  sim?: SimParams;
  fingerprint: string;
}

interface ReplayCursor {
  /** History time of the bar being played and the index of its next print. */
  barT: number;
  print: number;
  /** Wall time that corresponds to history time `historyAnchor`. */
  wallAnchor: number;
  historyAnchor: number;
  /** Bars at or after this time are the replay's own output, never its source. */
  sourceEnd: number;
}

interface FeedState {
  fingerprint: string;
  sim?: SimState;
  book: BarBook;
  nextTradeId: number;
  lastQuote?: Quote;
  lastTrade?: Trade;
  replay?: ReplayCursor;
  upstream?: { failures: number; nextAttemptAt: number; connects: number; reconnects: number; stale: boolean; malformed: number; received: number };
}

export interface HistoryPage<T> {
  items: T[];
  next: [number, number] | null;
}

const STORED = new Map(STREAM_TIMEFRAMES.map((tf) => [tf.label, tf]));
const PRUNE_EVERY = 600;
const UPSTREAM_MAX_BACKOFF_MS = 30_000;
// Reports handed back in an RPC answer are pushed again only if not acknowledged by then.
const REDELIVER_AFTER_MS = 2_000;

/**
 * One object per symbol: its feed (simulator, replay or upstream adapter), its trades,
 * quotes and bars in SQLite, and the stream hubs that want its data. The pure parts
 * (simulator, bar book, formats) live in shared/market; this shell stores, schedules and
 * publishes.
 */
export class MarketSymbol extends DurableObject<Env> {
  readonly #name: string | undefined;
  readonly #store: MarketStore;
  readonly #venueStore: VenueStore;
  #venue: Venue | undefined;
  #delivering = false;
  #instrument: Instrument | undefined;
  #state: FeedState | undefined;
  #upstream: UpstreamConnection | undefined;
  #connecting = false;
  #pending: MarketEvent[] = [];
  #steps = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#name = objectName(ctx);
    this.#store = new MarketStore(ctx.storage.sql);
    this.#venueStore = new VenueStore(ctx.storage.sql, ctx.storage.kv);
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
    const row = await this.env.DB.prepare("SELECT symbol, class, tick_size, lot_size, feed, status FROM assets WHERE symbol = ?")
      .bind(this.#symbol)
      .first<{ symbol: string; class: string; tick_size: string; lot_size: string; feed: string; status: string }>();
    if (!row) {
      this.#instrument = undefined;
      return;
    }
    const crypto = row.class === "crypto";
    const spec: InstrumentSpec = { symbol: row.symbol, assetClass: crypto ? "crypto" : "us_equity", tickSize: row.tick_size, lotSize: row.lot_size, timeZone: crypto ? "UTC" : "America/New_York" };
    const feed = row.status === "active" ? FeedConfig.parse(JSON.parse(row.feed)) : ({ kind: "none" } as const);
    const sim = feed.kind === "sim" ? SimParamsSchema.parse(feed.params) : undefined;
    this.#instrument = { spec, kind: crypto ? "crypto" : "stocks", feed, sim, fingerprint: JSON.stringify([spec, feed]) };
    const stored = this.ctx.storage.kv.get<FeedState>("feed");
    this.#state = stored?.fingerprint === this.#instrument.fingerprint ? stored : this.#freshState(stored);
    // The book is rebuilt from the stored live orders in their arrival order.
    this.#venue = new Venue(spec, tradingConfig(this.env).venue, this.#venueStore.state(), this.#venueStore.liveOrders());
  }

  // A changed feed keeps what the market already printed (bars, trade ids) and starts
  // its own state afresh.
  #freshState(previous: FeedState | undefined): FeedState {
    const instrument = this.#instrument!;
    const now = Date.now();
    return {
      fingerprint: instrument.fingerprint,
      book: previous?.book ?? newBarBook(STREAM_TIMEFRAMES, instrument.spec.timeZone),
      nextTradeId: previous?.nextTradeId ?? this.#store.lastTradeId() + 1,
      lastQuote: previous?.lastQuote,
      lastTrade: previous?.lastTrade,
      sim: instrument.sim ? initialSimState(instrument.sim, instrument.spec, now) : undefined,
      replay: instrument.feed.kind === "replay" ? this.#newReplay(now) : undefined,
    };
  }

  /** Re-reads the asset (after an admin change) and (re)starts its feed. */
  async reload(): Promise<void> {
    await this.#loadInstrument();
    this.#upstream?.close();
    this.#upstream = undefined;
    this.#saveState();
    await this.ensureRunning();
  }

  /** Arms the feed's alarm if it should be running and is not. Idempotent. */
  async ensureRunning(): Promise<{ symbol: string; feed: string; running: boolean }> {
    const feed = this.#instrument?.feed.kind ?? "none";
    const current = await this.ctx.storage.getAlarm();
    // A simulator's first step is one tick interval away, like every later one.
    const first = Date.now() + (this.#instrument?.sim?.tickIntervalMs ?? 0);
    if (feed !== "none" && current === null) await this.ctx.storage.setAlarm(first);
    return { symbol: this.#symbol, feed, running: feed !== "none" };
  }

  attachHub(hub: string): Promise<{ symbol: string; feed: string; running: boolean }> {
    this.#store.addHub(hub);
    return this.ensureRunning();
  }

  detachHub(hub: string): void {
    this.#store.removeHub(hub);
  }

  // ---- the feed loop ------------------------------------------------------------------

  // Alarms are at-least-once and single-shot: each run advances the feed to "now" (a
  // repeated run adds no time, so nothing is printed twice) and re-arms only while the
  // feed has more to do.
  override async alarm(): Promise<void> {
    const instrument = this.#instrument;
    const state = this.#state;
    if (!instrument || !state) return;
    const now = Date.now();
    let next: number | undefined;
    switch (instrument.feed.kind) {
      case "sim": {
        const step = stepSimulator(state.sim!, instrument.sim!, instrument.spec, now);
        state.sim = step.state;
        this.#ingest(now, step.quote, step.trade ? { ...step.trade, id: state.nextTradeId } : undefined);
        next = now + instrument.sim!.tickIntervalMs;
        break;
      }
      case "replay":
        next = this.#replayStep(now, instrument.feed);
        break;
      case "upstream":
        next = await this.#upstreamStep(now, instrument.feed);
        break;
      case "none":
        this.#ingest(now);
        break;
    }
    if (++this.#steps % PRUNE_EVERY === 0) {
      this.#store.prune();
      this.#venueStore.prune(now);
    }
    await this.#flush();
    await this.#deliver();
    // Undelivered reports keep the alarm going even when the feed has nothing to do.
    if (this.#venueStore.outboxSize() > 0) next = Math.min(next ?? Infinity, Date.now() + REDELIVER_AFTER_MS / 2);
    if (next !== undefined) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1));
  }

  /** Applies a quote and/or trade: stores it, advances the bars, queues stream events. */
  #ingest(now: number, quote?: Quote, trade?: Trade): void {
    const instrument = this.#instrument!;
    const state = this.#state!;
    const { spec, kind } = instrument;
    this.ctx.storage.transactionSync(() => {
      const due = closeDueBars(state.book, now);
      state.book = due.book;
      this.#emitClosed(due.closed);
      if (quote) {
        this.#store.insertQuote(quote);
        state.lastQuote = quote;
        this.#venue?.onQuote(quote, now);
        this.#pending.push({ channel: "quotes", msg: { T: "q", ...quoteToAlpaca(quote, spec) } });
        if (kind === "crypto") this.#pending.push({ channel: "orderbooks", msg: { T: "o", ...this.#orderbookOf(quote), r: false } });
      }
      if (trade) {
        this.#store.insertTrade(trade);
        this.#venue?.onTrade(trade, now);
        state.nextTradeId = Math.max(state.nextTradeId, trade.id + 1);
        if (!state.lastTrade || trade.t >= state.lastTrade.t) state.lastTrade = trade;
        this.#pending.push({ channel: "trades", msg: { T: "t", ...tradeToAlpaca(trade, spec) } });
        const step = onTrade(state.book, trade);
        state.book = step.book;
        this.#emitClosed(step.closed);
        for (const update of step.updates) {
          this.#store.putBar(update.timeframe, update.bar);
          if (update.kind === "updatedBar" && update.timeframe === "1Min") this.#pending.push({ channel: "updatedBars", msg: { T: "u", ...barToAlpaca(update.bar, spec) } });
        }
        // Older than the last closed bar: amend the stored bar directly.
        for (const label of step.stale) {
          const tf = STORED.get(label)!;
          const bucket = bucketStart(trade.t, tf, spec.timeZone);
          const bar = applyTrade(this.#store.getBar(label, bucket), trade, bucket);
          this.#store.putBar(label, bar);
          if (label === "1Min") this.#pending.push({ channel: "updatedBars", msg: { T: "u", ...barToAlpaca(bar, spec) } });
        }
      }
      if (!quote && !trade) this.#venue?.expire(now);
      this.#persistVenue(now, 0);
      this.#saveState();
    });
  }

  // Alpaca sends a minute bar when its minute ends, with the day's bar so far.
  #emitClosed(closed: ClosedBar[]): void {
    const spec = this.#instrument!.spec;
    if (!closed.some((c) => c.timeframe === "1Min")) return;
    for (const c of closed) if (c.timeframe === "1Min") this.#pending.push({ channel: "bars", msg: { T: "b", ...barToAlpaca(c.bar, spec) } });
    const daily = this.#state!.book.frames.find((f) => f.timeframe.label === "1Day");
    const day = daily?.current ?? daily?.previous;
    if (day) this.#pending.push({ channel: "dailyBars", msg: { T: "d", ...barToAlpaca(day, spec) } });
  }

  async #flush(): Promise<void> {
    const events = this.#pending;
    this.#pending = [];
    if (events.length === 0 || !this.#instrument) return;
    const { kind } = this.#instrument;
    const symbol = this.#symbol;
    await Promise.allSettled(
      this.#store.hubs().map(async (hub) => {
        const { wanted } = await this.env.STREAM_HUB.getByName(hub).publish(kind, symbol, events);
        if (!wanted) this.#store.removeHub(hub);
      }),
    );
  }

  #saveState(): void {
    if (this.#state) this.ctx.storage.kv.put("feed", this.#state);
  }

  // ---- replay ---------------------------------------------------------------------------

  // The source is the history stored before the replay began. What the replay prints is
  // stamped from `now` on, so its bars start at or after now's bucket: excluding that
  // bucket and later keeps the replay from ever playing its own output, also across loops.
  #newReplay(now: number, sourceEnd?: number): ReplayCursor | undefined {
    const feed = this.#instrument!.feed;
    if (feed.kind !== "replay") return undefined;
    const tf = parseTimeframe(feed.timeframe);
    sourceEnd ??= tf.ok ? bucketStart(now, tf.timeframe, this.#instrument!.spec.timeZone) : now;
    const first = this.#store.barRange(feed.timeframe, 0, sourceEnd - 1, 1)[0];
    return first ? { barT: first.t, print: 0, wallAnchor: now, historyAnchor: first.t, sourceEnd } : undefined;
  }

  #replayStep(now: number, feed: Extract<FeedConfig, { kind: "replay" }>): number | undefined {
    const state = this.#state!;
    const tf = parseTimeframe(feed.timeframe);
    if (!tf.ok) return undefined;
    state.replay ??= this.#newReplay(now);
    const cursor = state.replay;
    if (!cursor) {
      this.#ingest(now);
      return now + 60_000;
    }
    const toWall = (historyT: number) => cursor.wallAnchor + (historyT - cursor.historyAnchor) / feed.speed;
    for (let emitted = 0; emitted < 1000; ) {
      const bar = this.#store.barRange(feed.timeframe, cursor.barT, cursor.sourceEnd - 1, 1)[0];
      if (!bar) {
        if (!feed.loop) return undefined;
        state.replay = this.#newReplay(now, cursor.sourceEnd);
        return now + 1000;
      }
      const prints = barPrints(bar, nextBucketStart(bar.t, tf.timeframe, this.#instrument!.spec.timeZone) - bar.t);
      const print = prints[cursor.print];
      if (!print) {
        cursor.barT = bar.t + 1;
        cursor.print = 0;
        continue;
      }
      const wallT = Math.floor(toWall(bar.t + print.offsetMs));
      if (wallT > now) return wallT;
      const trade = printToTrade(wallT, state.nextTradeId, print, state.lastTrade?.priceTicks);
      this.#ingest(wallT, quoteAroundPrint(wallT, print.priceTicks, print.sizeLots), trade);
      cursor.barT = bar.t;
      cursor.print += 1;
      emitted += 1;
    }
    return now + 1;
  }

  // ---- upstream adapter ----------------------------------------------------------------

  async #upstreamStep(now: number, feed: Extract<FeedConfig, { kind: "upstream" }>): Promise<number> {
    const state = this.#state!;
    const status = (state.upstream ??= { failures: 0, nextAttemptAt: 0, connects: 0, reconnects: 0, stale: false, malformed: 0, received: 0 });
    this.#ingest(this.#feedClock(now));
    if (this.#upstream?.connected) {
      const stale = now - this.#upstream.lastMessageAt > feed.staleAfterMs;
      if (stale && !status.stale) log("warn", "upstream feed is stale", { symbol: this.#symbol, silentMs: now - this.#upstream.lastMessageAt });
      status.stale = stale;
      this.#saveState();
      return now + Math.min(1000, feed.staleAfterMs / 2);
    }
    if (now < status.nextAttemptAt) return status.nextAttemptAt;
    // connect() awaits the handshake, and another alarm run may start meanwhile: one
    // connection attempt at a time, or the feed would be received twice.
    if (this.#connecting) return now + 1000;
    this.#connecting = true;
    const connection = new UpstreamConnection(
      { url: feed.url, symbol: feed.symbol ?? this.#symbol, key: feed.key, secret: feed.secret },
      {
        trade: (t) => this.#upstreamTrade(t),
        quote: (q) => this.#upstreamQuote(q),
        closed: (reason) => {
          log("warn", "upstream disconnected", { symbol: this.#symbol, reason });
          status.malformed += connection.malformed;
          status.received += connection.received;
          this.#upstream = undefined;
          this.#saveState();
          // Reconnect promptly through the alarm, which applies the back-off.
          void this.ctx.storage.setAlarm(Date.now() + 10);
        },
      },
    );
    try {
      await connection.connect();
      if (status.connects > 0) status.reconnects += 1;
      status.connects += 1;
      this.#upstream = connection;
      status.failures = 0;
      status.nextAttemptAt = 0;
      status.stale = false;
    } catch (error) {
      status.failures += 1;
      // Exponential back-off with jitter, capped, so a dead upstream is not hammered.
      const backoff = Math.min(UPSTREAM_MAX_BACKOFF_MS, 500 * 2 ** (status.failures - 1));
      status.nextAttemptAt = now + backoff / 2 + Math.random() * (backoff / 2);
      log("warn", "upstream connect failed", { symbol: this.#symbol, failures: status.failures, error: String(error) });
    } finally {
      this.#connecting = false;
    }
    this.#saveState();
    return this.#upstream ? now + Math.min(1000, feed.staleAfterMs / 2) : status.nextAttemptAt;
  }

  /**
   * The time an upstream feed is at, for closing bars: the wall clock while it delivers
   * live data, but its own latest timestamp when it replays the past, so an old minute is
   * closed by the next old trade rather than at once.
   */
  #feedClock(now: number, eventT?: number): number {
    const state = this.#state!;
    const latest = Math.max(eventT ?? 0, state.lastTrade?.t ?? 0, state.lastQuote?.t ?? 0);
    return now - latest < 60_000 ? now : latest;
  }

  #upstreamTrade(t: UpstreamTrade): boolean {
    const spec = this.#instrument!.spec;
    const priceTicks = decimalToTicks(t.price, spec) ?? decimalToNearestTicks(t.price, spec);
    const sizeLots = decimalToLots(t.size, spec);
    if (!priceTicks || !sizeLots) return false;
    const state = this.#state!;
    this.#ingest(this.#feedClock(Date.now(), t.t), undefined, { t: t.t, id: state.nextTradeId, priceTicks, sizeLots, takerSide: t.takerSide ?? "B" });
    void this.#flush().then(() => this.#deliver());
    return true;
  }

  #upstreamQuote(q: UpstreamQuote): boolean {
    const spec = this.#instrument!.spec;
    const bidTicks = decimalToTicks(q.bid, spec) ?? decimalToNearestTicks(q.bid, spec);
    const askTicks = decimalToTicks(q.ask, spec) ?? decimalToNearestTicks(q.ask, spec);
    const bidLots = decimalToLots(q.bidSize, spec);
    const askLots = decimalToLots(q.askSize, spec);
    if (!bidTicks || !askTicks || bidTicks >= askTicks || bidLots === undefined || askLots === undefined) return false;
    this.#ingest(this.#feedClock(Date.now(), q.t), { t: q.t, bidTicks, askTicks, bidLots, askLots });
    void this.#flush().then(() => this.#deliver());
    return true;
  }

  // ---- the venue (RPC from accounts) -----------------------------------------------------

  /**
   * Takes an order (once: a resent id is ignored) and answers every report for its account
   * not yet acknowledged, in sequence order. `ackedSeq` is the last report the account has
   * applied, so those can be dropped from the outbox.
   */
  async venueSubmit(order: VenueOrderRequest, ackedSeq: number): Promise<{ reports: Report[] }> {
    const now = Date.now();
    this.#venueStore.acknowledge(order.account, ackedSeq);
    if (!this.#venueStore.seen(order.id)) {
      if (!this.#venue) {
        this.#rejectUnknown(order.id, order.account, now);
      } else {
        this.ctx.storage.transactionSync(() => {
          this.#venue!.submit(order, now);
          this.#persistVenue(now, REDELIVER_AFTER_MS);
        });
      }
      await this.#armDelivery();
    }
    return { reports: this.#venueStore.pending(order.account) };
  }

  /** Cancels an order; one the venue never received is refused for good if it arrives later. */
  async venueCancel(account: string, orderId: string, ackedSeq: number): Promise<{ reports: Report[] }> {
    const now = Date.now();
    this.#venueStore.acknowledge(account, ackedSeq);
    this.ctx.storage.transactionSync(() => {
      if (this.#venue?.cancel(orderId, now)) this.#persistVenue(now, REDELIVER_AFTER_MS);
      else if (!this.#venueStore.seen(orderId)) this.#rejectUnknown(orderId, account, now, "canceled");
    });
    await this.#armDelivery();
    return { reports: this.#venueStore.pending(account) };
  }

  /** The reference price risk checks and valuations use: last trade, else the mid. */
  marketPrice(): MarketPrice | null {
    const state = this.#state;
    const quote = state?.lastQuote;
    const trade = state?.lastTrade;
    if (!quote && !trade) return null;
    const daily = this.#store.latestBar("1Day");
    const previous = daily ? this.#store.latestBar("1Day", daily.t - 1) : undefined;
    return {
      symbol: this.#symbol,
      reference: trade?.priceTicks ?? Math.round((quote!.bidTicks + quote!.askTicks) / 2),
      bid: quote?.bidTicks ?? null,
      ask: quote?.askTicks ?? null,
      previousClose: previous?.c ?? null,
      t: Math.max(trade?.t ?? 0, quote?.t ?? 0),
    };
  }

  venueStatus() {
    return {
      orders: this.#venue ? [...this.#venue.orders].length : 0,
      bids: this.#venue?.depth("buy", 10) ?? [],
      asks: this.#venue?.depth("sell", 10) ?? [],
      outbox: this.#venueStore.outboxSize(),
      seq: this.#venue?.state.seq ?? 0,
    };
  }

  // A report the venue makes up itself (no instrument, or a cancel that overtook its
  // order) still needs a sequence number, so it takes one from the venue state.
  #rejectUnknown(orderId: string, account: string, now: number, reason: "canceled" | "rejected" = "rejected"): void {
    const state = this.#venue?.state ?? this.#venueStore.state() ?? { seq: 0, arrival: 0, quote: null, trade: null, takenAsk: [], takenBid: [] };
    state.seq += 1;
    const report: Report = { kind: "done", seq: state.seq, account, orderId, reason, cumQty: 0, message: reason === "canceled" ? "canceled before it reached the venue" : `unknown symbol ${this.#symbol}`, t: now };
    this.ctx.storage.transactionSync(() => {
      this.#venueStore.tombstone(orderId, account, now);
      this.#venueStore.enqueue([report], now + REDELIVER_AFTER_MS);
      this.#venueStore.saveState(state);
    });
  }

  /**
   * Stores what the venue changed: orders, reports (due for push after `delay`), and its
   * state, always: the quote it matches against and the liquidity already taken from it
   * must survive a restart, or a restarted venue would refuse market orders or sell the
   * same displayed size twice. Call inside a transaction.
   */
  #persistVenue(now: number, delay: number): void {
    const venue = this.#venue;
    if (!venue) return;
    const { reports, touched } = venue.drain();
    for (const id of touched) {
      const live = venue.order(id);
      if (live) this.#venueStore.putOrder(live, true, now);
      else this.#venueStore.finish(id, now);
    }
    this.#venueStore.enqueue(reports, now + delay);
    this.#venueStore.saveState(venue.state);
  }

  async #armDelivery(): Promise<void> {
    if (this.#venueStore.outboxSize() === 0) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > Date.now() + REDELIVER_AFTER_MS) await this.ctx.storage.setAlarm(Date.now() + REDELIVER_AFTER_MS);
  }

  /** Pushes due reports to their accounts; each answers the last sequence it applied. */
  async #deliver(): Promise<void> {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      const accounts = this.#venueStore.dueAccounts(Date.now());
      await Promise.allSettled(
        accounts.map(async (account) => {
          const reports = this.#venueStore.pending(account);
          if (reports.length === 0) return;
          try {
            const applied = await this.env.ACCOUNT.getByName(account).venueReports(this.#symbol, reports);
            this.#venueStore.acknowledge(account, applied);
          } catch (error) {
            log("warn", "report delivery failed; will retry", { symbol: this.#symbol, account, error: String(error) });
          }
        }),
      );
    } finally {
      this.#delivering = false;
    }
  }

  // ---- history and snapshots (RPC) ---------------------------------------------------------

  bars(timeframe: string, q: HistoryQuery): HistoryPage<ReturnType<typeof barToAlpaca>> {
    const spec = this.#requireSpec();
    const parsed = parseTimeframe(timeframe);
    if (!parsed.ok) throw new RangeError(parsed.message);
    const tf = parsed.timeframe;
    let bars: Bar[];
    if (STORED.has(tf.label)) bars = this.#store.bars(tf.label, q);
    else {
      // Other timeframes are rolled up from the finest stored one that divides them.
      const base = tf.unit === "minute" ? "1Min" : tf.unit === "hour" ? "1Hour" : "1Day";
      const from = bucketStart(q.start, tf, spec.timeZone);
      const rolled = rollupBars(this.#store.barRange(base, from, q.end, 200_000), tf, spec.timeZone).filter((b) => b.t >= q.start);
      const after = q.cursor?.[0];
      const ordered = q.sort === "asc" ? rolled.filter((b) => after === undefined || b.t > after) : rolled.reverse().filter((b) => after === undefined || b.t < after);
      bars = ordered.slice(0, q.limit);
    }
    const last = bars[bars.length - 1];
    return { items: bars.map((b) => barToAlpaca(b, spec)), next: bars.length === q.limit && last ? [last.t, 0] : null };
  }

  trades(q: HistoryQuery): HistoryPage<ReturnType<typeof tradeToAlpaca>> {
    const spec = this.#requireSpec();
    const trades = this.#store.trades(q);
    const last = trades[trades.length - 1];
    return { items: trades.map((t) => tradeToAlpaca(t, spec)), next: trades.length === q.limit && last ? [last.t, last.id] : null };
  }

  quotes(q: HistoryQuery): HistoryPage<ReturnType<typeof quoteToAlpaca>> {
    const spec = this.#requireSpec();
    const quotes = this.#store.quotes(q);
    const last = quotes[quotes.length - 1];
    return { items: quotes.map((x) => quoteToAlpaca(x, spec)), next: quotes.length === q.limit && last ? [last.t, last.seq] : null };
  }

  snapshot() {
    const spec = this.#requireSpec();
    const state = this.#state;
    const daily = this.#store.latestBar("1Day");
    const prevDaily = daily ? this.#store.latestBar("1Day", daily.t - 1) : undefined;
    const minute = this.#store.latestBar("1Min");
    return {
      latestTrade: state?.lastTrade ? tradeToAlpaca(state.lastTrade, spec) : null,
      latestQuote: state?.lastQuote ? quoteToAlpaca(state.lastQuote, spec) : null,
      minuteBar: minute ? barToAlpaca(minute, spec) : null,
      dailyBar: daily ? barToAlpaca(daily, spec) : null,
      prevDailyBar: prevDaily ? barToAlpaca(prevDaily, spec) : null,
    };
  }

  orderbook(): { t: string; b: { p: number; s: number }[]; a: { p: number; s: number }[] } | null {
    const quote = this.#state?.lastQuote;
    if (!quote) return null;
    const { t, ...book } = this.#orderbookOf(quote);
    return { t: new Date(t).toISOString(), ...book };
  }

  #orderbookOf(quote: Quote) {
    const spec = this.#instrument!.spec;
    return {
      t: quote.t,
      b: [{ p: ticksToNumber(quote.bidTicks, spec), s: lotsToNumber(quote.bidLots, spec) }],
      a: [{ p: ticksToNumber(quote.askTicks, spec), s: lotsToNumber(quote.askLots, spec) }],
    };
  }

  /**
   * Replaces stored bars of one timeframe over the imported range, in one transaction,
   * and rebuilds the coarser stored timeframes over it from the finest data there is.
   */
  importBars(timeframe: string, bars: Bar[]): { imported: number; rebuilt: string[] } {
    const spec = this.#requireSpec();
    const tf = STORED.get(timeframe);
    if (!tf) throw new RangeError(`history can be imported as ${[...STORED.keys()].join(", ")}`);
    if (bars.length === 0) return { imported: 0, rebuilt: [] };
    const first = bars[0]!.t;
    const last = bars[bars.length - 1]!.t;
    const coarser = STREAM_TIMEFRAMES.filter((c) => durationRank(c) > durationRank(tf));
    this.ctx.storage.transactionSync(() => {
      this.#store.deleteBars(tf.label, first, last);
      for (const bar of bars) this.#store.putBar(tf.label, bar);
      for (const c of coarser) {
        const from = bucketStart(first, c, spec.timeZone);
        const to = nextBucketStart(last, c, spec.timeZone) - 1;
        const rolled = rollupBars(this.#store.barRange(tf.label, from, to, 10_000_000), c, spec.timeZone);
        this.#store.deleteBars(c.label, from, to);
        for (const bar of rolled) this.#store.putBar(c.label, bar);
      }
    });
    return { imported: bars.length, rebuilt: coarser.map((c) => c.label) };
  }

  status() {
    const state = this.#state;
    return {
      symbol: this.#symbol,
      configured: this.#instrument !== undefined,
      feed: this.#instrument?.feed.kind ?? "none",
      hubs: this.#store.hubs().length,
      lastTradeAt: state?.lastTrade ? new Date(state.lastTrade.t).toISOString() : null,
      lastQuoteAt: state?.lastQuote ? new Date(state.lastQuote.t).toISOString() : null,
      upstream: state?.upstream
        ? {
            ...state.upstream,
            connected: this.#upstream?.connected ?? false,
            malformed: state.upstream.malformed + (this.#upstream?.malformed ?? 0),
            received: state.upstream.received + (this.#upstream?.received ?? 0),
          }
        : null,
    };
  }

  #requireSpec(): InstrumentSpec {
    if (!this.#instrument) throw new RangeError(`unknown symbol ${this.#symbol}`);
    return this.#instrument.spec;
  }
}

const UNIT_RANK = { minute: 1, hour: 60, day: 1440, week: 10080, month: 43200 } as const;
const durationRank = (tf: Timeframe) => UNIT_RANK[tf.unit] * tf.amount;
