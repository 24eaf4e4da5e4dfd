import type { FeedConfig } from "../schemas/assets";
import type { StreamKind } from "../stream/protocol";
import type { MarketPrice } from "../trading/views";
import { applyTrade, closeDueBars, newBarBook, onTrade, type BarBook, type ClosedBar } from "./bars";
import { barToAlpaca, orderbookMessage, orderbookToAlpaca, quoteToAlpaca, tradeToAlpaca } from "./format";
import { decimalToLots, decimalToNearestTicks, decimalToTicks, type InstrumentSpec } from "./instrument";
import { barPrints, printToTrade, quoteAroundPrint } from "./replay";
import { initialSimState, stepSimulator, type SimParams, type SimState } from "./simulator";
import { bucketStart, nextBucketStart, parseTimeframe, STREAM_TIMEFRAMES, type Timeframe } from "./timeframe";
import type { Bar, MarketEvent, Quote, Trade } from "./types";

// The feed of one symbol as a pure engine, shaped like the venue: commands (a simulator
// step, a replay step, an upstream message, a clock tick) mutate memory, and one drain()
// hands the shell what to store (quotes, trades, bars), what to publish (stream events)
// and the state to persist. Time comes in as arguments: `now` is wall time; bars close on
// the feed's own clock (feedClock), which for an upstream replaying the past is older.
// The policies live here too: how long until a feed is stale, and the upstream back-off.

export interface Instrument {
  spec: InstrumentSpec;
  kind: StreamKind;
  feed: FeedConfig;
  sim?: SimParams;
  /** Changes whenever spec or feed does: a changed feed starts its own state afresh. */
  fingerprint: string;
}

export interface ReplayCursor {
  /** History time of the bar being played and the index of its next print. */
  barT: number;
  print: number;
  /** Wall time that corresponds to history time `historyAnchor`. */
  wallAnchor: number;
  historyAnchor: number;
  /** Bars at or after this time are the replay's own output, never its source. */
  sourceEnd: number;
  /** Stepwise replay: the current print's quote is out, its trade not yet. */
  quoted?: boolean;
}

export interface UpstreamStatus {
  failures: number;
  nextAttemptAt: number;
  connects: number;
  reconnects: number;
  /** The connection has carried no message for longer than the feed's staleAfterMs. */
  stale: boolean;
  malformed: number;
  received: number;
}

/** Plain JSON: the shell stores it and a restarted object resumes from it. */
export interface FeedState {
  fingerprint: string;
  sim?: SimState;
  book: BarBook;
  nextTradeId: number;
  lastQuote?: Quote;
  lastTrade?: Trade;
  /** Wall time the last quote or trade was received; its own `t` can be history. */
  receivedAt?: number;
  replay?: ReplayCursor;
  upstream?: UpstreamStatus;
}

/** What the engine reads of the stored history. */
export interface FeedHistory {
  /** The stored bar of a bucket, for a trade too late for the bar book to amend. */
  bar(timeframe: string, t: number): Bar | undefined;
  /** The oldest stored bar in [from, to], the replay's next source bar. */
  firstBar(timeframe: string, from: number, to: number): Bar | undefined;
}

/** A quote and/or trade as received, in arrival order: the venue must see them in this order. */
export interface Print {
  quote?: Quote;
  trade?: Trade;
}

/**
 * What strategies on the symbol see, in order: quotes, trades and completed bars. A replay
 * also reports each source bar once its close has printed (`replayed`), in history time:
 * on a replay, a strategy's bars are the replayed bars themselves.
 */
export type FeedEvent = { kind: "quote"; quote: Quote } | { kind: "trade"; trade: Trade } | { kind: "bar"; timeframe: string; bar: Bar; replayed: boolean };

export interface FeedChanges {
  prints: Print[];
  feedEvents: FeedEvent[];
  /** Bars to put, one per (timeframe, bucket), the latest version of each. */
  bars: { timeframe: string; bar: Bar }[];
  events: MarketEvent[];
  state: FeedState;
}

/** An upstream message as decimal strings, before the engine puts it on the grid. */
export interface UpstreamTrade {
  t: number;
  price: string;
  size: string;
  id?: number;
  takerSide?: "B" | "S";
}

export interface UpstreamQuote {
  t: number;
  bid: string;
  ask: string;
  bidSize: string;
  askSize: string;
}

/** A feed with nothing to say ("none") still goes stale after this: its last quote is only history. */
export const DEFAULT_STALE_AFTER_MS = 60_000;
/** The floor of every staleness limit: a few seconds of quiet is not yet a dead feed. */
const MIN_STALE_AFTER_MS = 5_000;
const UPSTREAM_MAX_BACKOFF_MS = 30_000;
const UPSTREAM_FIRST_BACKOFF_MS = 500;

const NOMINAL_MS: Record<Timeframe["unit"], number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000, month: 2_592_000_000 };

/**
 * How long a feed may go without a quote or trade before its prices are stale: five of
 * its own intervals, never under five seconds. Upstream: what the admin configured.
 */
export function staleAfterMs(feed: FeedConfig, sim?: SimParams): number {
  switch (feed.kind) {
    case "upstream":
      return feed.staleAfterMs;
    case "sim":
      return Math.max(5 * (sim?.tickIntervalMs ?? 1000), MIN_STALE_AFTER_MS);
    case "replay": {
      // A replayed bar is four prints spread over its duration, scaled by the speed.
      const tf = parseTimeframe(feed.timeframe);
      const printGap = tf.ok ? (NOMINAL_MS[tf.timeframe.unit] * tf.timeframe.amount) / 4 / feed.speed : 0;
      return Math.max(5 * printGap, MIN_STALE_AFTER_MS);
    }
    case "none":
      return DEFAULT_STALE_AFTER_MS;
  }
}

/**
 * When to try an upstream again after `failures` failed attempts in a row: exponential,
 * capped, with jitter from `random` (a number in [0, 1)) so many symbols do not retry in step.
 */
export function upstreamRetryDelay(failures: number, random: number): number {
  const backoff = Math.min(UPSTREAM_MAX_BACKOFF_MS, UPSTREAM_FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
  return backoff / 2 + random * (backoff / 2);
}

/**
 * The time an upstream feed is at, for closing bars: wall time while it delivers live
 * data, but its own latest timestamp when it replays the past, so an old minute is closed
 * by the next old trade rather than at once.
 */
export function feedClock(now: number, latest: number): number {
  return now - latest < 60_000 ? now : latest;
}

const STORED = new Map(STREAM_TIMEFRAMES.map((tf) => [tf.label, tf]));

export class FeedEngine {
  #state: FeedState;
  #prints: Print[] = [];
  #bars = new Map<string, { timeframe: string; bar: Bar }>();
  #events: MarketEvent[] = [];
  #feedEvents: FeedEvent[] = [];

  /**
   * The engine over a stored state, or a fresh one when the instrument changed (a changed
   * feed keeps what the market already printed: bars, trade ids, last prices). A simulated
   * feed has a quote from the moment it exists: its initial state's.
   */
  constructor(
    readonly instrument: Instrument,
    stored: FeedState | undefined,
    private readonly history: FeedHistory,
    now: number,
    lastTradeId: number,
  ) {
    const fresh = !stored || stored.fingerprint !== instrument.fingerprint;
    this.#state = stored && !fresh ? stored : this.#freshState(stored, now, lastTradeId);
    const sim = this.#state.sim;
    if (sim && (fresh || !this.#state.lastQuote)) this.#ingest(now, now, sim.quote);
  }

  get state(): FeedState {
    return this.#state;
  }

  drain(): FeedChanges {
    const out = { prints: this.#prints, feedEvents: this.#feedEvents, bars: [...this.#bars.values()], events: this.#events, state: this.#state };
    this.#prints = [];
    this.#feedEvents = [];
    this.#bars = new Map();
    this.#events = [];
    return out;
  }

  // ---- policy ---------------------------------------------------------------------------

  get staleAfterMs(): number {
    return staleAfterMs(this.instrument.feed, this.instrument.sim);
  }

  /** Whether nothing has been received for longer than the feed's limit (or ever). */
  stale(now: number): boolean {
    const at = this.#state.receivedAt;
    return at === undefined || now - at > this.staleAfterMs;
  }

  /** The reference price risk checks and valuations use: last trade, else the quote's mid. */
  price(now: number, previousClose: number | null): MarketPrice | null {
    const { lastQuote: quote, lastTrade: trade } = this.#state;
    if (!quote && !trade) return null;
    return {
      symbol: this.instrument.spec.symbol,
      reference: trade?.priceTicks ?? Math.round((quote!.bidTicks + quote!.askTicks) / 2),
      bid: quote?.bidTicks ?? null,
      ask: quote?.askTicks ?? null,
      previousClose,
      t: Math.max(trade?.t ?? 0, quote?.t ?? 0),
      stale: this.stale(now),
      ...(this.#state.receivedAt !== undefined ? { freshUntil: this.#state.receivedAt + this.staleAfterMs } : {}),
    };
  }

  // ---- commands -------------------------------------------------------------------------

  /** Closes the bars whose bucket has ended; for feeds that print nothing at `now`. */
  tick(now: number): void {
    this.#ingest(undefined, this.instrument.feed.kind === "upstream" ? this.#feedClock(now) : now);
  }

  /** One simulator step; answers when the next is due. */
  simStep(now: number): number {
    const { sim } = this.instrument;
    const state = this.#state;
    if (!sim || !state.sim) return now + 60_000;
    const step = stepSimulator(state.sim, sim, this.instrument.spec, now);
    state.sim = step.state;
    this.#ingest(now, now, step.quote, step.trade ? { ...step.trade, id: state.nextTradeId } : undefined);
    return now + sim.tickIntervalMs;
  }

  /**
   * Plays the stored bars due by `now` (at most 1000 prints); answers when to run again, or
   * undefined when done. `stepwise` (strategies are attached) plays one half of one print —
   * its quote, then on the next call its trade — so the shell can run the strategies and
   * send their orders between a print's quote and its trade, as a backtest does.
   */
  replayStep(now: number, stepwise = false): number | undefined {
    const feed = this.instrument.feed;
    if (feed.kind !== "replay") return undefined;
    const tf = parseTimeframe(feed.timeframe);
    if (!tf.ok) return undefined;
    const state = this.#state;
    state.replay ??= this.#newReplay(now);
    const cursor = state.replay;
    if (!cursor) {
      this.tick(now);
      return now + 60_000;
    }
    const toWall = (historyT: number) => cursor.wallAnchor + (historyT - cursor.historyAnchor) / feed.speed;
    for (let emitted = 0; emitted < 1000; ) {
      const bar = this.history.firstBar(feed.timeframe, cursor.barT, cursor.sourceEnd - 1);
      if (!bar) {
        if (!feed.loop) return undefined;
        state.replay = this.#newReplay(now, cursor.sourceEnd);
        return now + 1000;
      }
      const print = barPrints(bar, nextBucketStart(bar.t, tf.timeframe, this.instrument.spec.timeZone) - bar.t)[cursor.print];
      if (!print) {
        cursor.barT = bar.t + 1;
        cursor.print = 0;
        continue;
      }
      const wallT = Math.floor(toWall(bar.t + print.offsetMs));
      if (wallT > now) return wallT;
      const quote = quoteAroundPrint(wallT, print.priceTicks, print.sizeLots);
      const trade = printToTrade(wallT, state.nextTradeId, print, state.lastTrade?.priceTicks);
      cursor.barT = bar.t;
      if (stepwise && !cursor.quoted) {
        this.#ingest(now, wallT, quote);
        cursor.quoted = true;
        return now;
      }
      if (stepwise) this.#ingest(now, wallT, undefined, trade);
      else this.#ingest(now, wallT, quote, trade);
      cursor.quoted = false;
      cursor.print += 1;
      emitted += 1;
      if (cursor.print === barPrints(bar, 1).length) this.#feedEvents.push({ kind: "bar", timeframe: feed.timeframe, bar, replayed: true });
      if (stepwise) return now;
    }
    return now + 1;
  }

  /** An upstream trade put on the grid; false when it cannot be (counted as malformed). */
  upstreamTrade(now: number, t: UpstreamTrade): boolean {
    const spec = this.instrument.spec;
    const priceTicks = decimalToTicks(t.price, spec) ?? decimalToNearestTicks(t.price, spec);
    const sizeLots = decimalToLots(t.size, spec);
    if (!priceTicks || !sizeLots) return false;
    this.#ingest(now, this.#feedClock(now, t.t), undefined, { t: t.t, id: this.#state.nextTradeId, priceTicks, sizeLots, takerSide: t.takerSide ?? "B" });
    return true;
  }

  upstreamQuote(now: number, q: UpstreamQuote): boolean {
    const spec = this.instrument.spec;
    const bidTicks = decimalToTicks(q.bid, spec) ?? decimalToNearestTicks(q.bid, spec);
    const askTicks = decimalToTicks(q.ask, spec) ?? decimalToNearestTicks(q.ask, spec);
    const bidLots = decimalToLots(q.bidSize, spec);
    const askLots = decimalToLots(q.askSize, spec);
    if (!bidTicks || !askTicks || bidTicks >= askTicks || bidLots === undefined || askLots === undefined) return false;
    this.#ingest(now, this.#feedClock(now, q.t), { t: q.t, bidTicks, askTicks, bidLots, askLots });
    return true;
  }

  /**
   * The upstream's turn of the alarm, given its connection (undefined when there is none).
   * Answers whether to connect now, when to come back, and whether the connection has just
   * gone quiet (for the shell to log).
   */
  upstreamDue(now: number, connection: { lastMessageAt: number } | undefined, connecting: boolean): { connect: boolean; next: number; wentStale: boolean } {
    const feed = this.instrument.feed;
    const status = this.#upstream();
    const staleMs = feed.kind === "upstream" ? feed.staleAfterMs : DEFAULT_STALE_AFTER_MS;
    const poll = now + Math.min(1000, staleMs / 2);
    this.tick(now);
    if (connection) {
      const stale = now - connection.lastMessageAt > staleMs;
      const wentStale = stale && !status.stale;
      status.stale = stale;
      return { connect: false, next: poll, wentStale };
    }
    if (now < status.nextAttemptAt) return { connect: false, next: status.nextAttemptAt, wentStale: false };
    // One connection attempt at a time, or the feed would be received twice.
    if (connecting) return { connect: false, next: now + 1000, wentStale: false };
    return { connect: true, next: poll, wentStale: false };
  }

  upstreamConnected(): void {
    const status = this.#upstream();
    if (status.connects > 0) status.reconnects += 1;
    status.connects += 1;
    status.failures = 0;
    status.nextAttemptAt = 0;
    status.stale = false;
  }

  /** A failed attempt; `random` in [0, 1) jitters the back-off. Answers when to try again. */
  upstreamFailed(now: number, random: number): number {
    const status = this.#upstream();
    status.failures += 1;
    status.nextAttemptAt = now + upstreamRetryDelay(status.failures, random);
    return status.nextAttemptAt;
  }

  /** A connection ended: its counters join the totals. */
  upstreamClosed(malformed: number, received: number): void {
    const status = this.#upstream();
    status.malformed += malformed;
    status.received += received;
  }

  // ---- ingest ---------------------------------------------------------------------------

  /**
   * Applies a quote and/or trade received at wall time `receivedAt`: closes the bars due at
   * `barNow` (the feed's clock), advances the bars, queues what to store and publish.
   */
  #ingest(receivedAt: number | undefined, barNow: number, quote?: Quote, trade?: Trade): void {
    const state = this.#state;
    const { spec, kind } = this.instrument;
    const due = closeDueBars(state.book, barNow);
    state.book = due.book;
    this.#emitClosed(due.closed);
    if (quote || trade) {
      this.#prints.push(quote && trade ? { quote, trade } : quote ? { quote } : { trade });
      if (receivedAt !== undefined) state.receivedAt = Math.max(state.receivedAt ?? receivedAt, receivedAt);
    }
    if (quote) {
      this.#feedEvents.push({ kind: "quote", quote });
      state.lastQuote = quote;
      this.#events.push({ channel: "quotes", msg: { T: "q", ...quoteToAlpaca(quote, spec) } });
      if (kind === "crypto") this.#events.push({ channel: "orderbooks", msg: orderbookMessage(orderbookToAlpaca(quote, spec)) });
    }
    if (!trade) return;
    state.nextTradeId = Math.max(state.nextTradeId, trade.id + 1);
    if (!state.lastTrade || trade.t >= state.lastTrade.t) state.lastTrade = trade;
    this.#events.push({ channel: "trades", msg: { T: "t", ...tradeToAlpaca(trade, spec) } });
    this.#feedEvents.push({ kind: "trade", trade });
    const step = onTrade(state.book, trade);
    state.book = step.book;
    this.#emitClosed(step.closed);
    for (const update of step.updates) {
      this.#putBar(update.timeframe, update.bar);
      if (update.kind === "updatedBar" && update.timeframe === "1Min") this.#events.push({ channel: "updatedBars", msg: { T: "u", ...barToAlpaca(update.bar, spec) } });
    }
    // Older than the last closed bar: amend the stored bar (or the one about to be stored).
    for (const label of step.stale) {
      const bucket = bucketStart(trade.t, STORED.get(label)!, spec.timeZone);
      const bar = applyTrade(this.#bars.get(`${label}:${bucket}`)?.bar ?? this.history.bar(label, bucket), trade, bucket);
      this.#putBar(label, bar);
      if (label === "1Min") this.#events.push({ channel: "updatedBars", msg: { T: "u", ...barToAlpaca(bar, spec) } });
    }
  }

  #putBar(timeframe: string, bar: Bar): void {
    this.#bars.set(`${timeframe}:${bar.t}`, { timeframe, bar });
  }

  // Alpaca sends a minute bar when its minute ends, with the day's bar so far.
  #emitClosed(closed: ClosedBar[]): void {
    const spec = this.instrument.spec;
    for (const c of closed) this.#feedEvents.push({ kind: "bar", timeframe: c.timeframe, bar: c.bar, replayed: false });
    if (!closed.some((c) => c.timeframe === "1Min")) return;
    for (const c of closed) if (c.timeframe === "1Min") this.#events.push({ channel: "bars", msg: { T: "b", ...barToAlpaca(c.bar, spec) } });
    const daily = this.#state.book.frames.find((f) => f.timeframe.label === "1Day");
    const day = daily?.current ?? daily?.previous;
    if (day) this.#events.push({ channel: "dailyBars", msg: { T: "d", ...barToAlpaca(day, spec) } });
  }

  #feedClock(now: number, eventT = 0): number {
    const { lastTrade, lastQuote } = this.#state;
    return feedClock(now, Math.max(eventT, lastTrade?.t ?? 0, lastQuote?.t ?? 0));
  }

  #upstream(): UpstreamStatus {
    return (this.#state.upstream ??= { failures: 0, nextAttemptAt: 0, connects: 0, reconnects: 0, stale: false, malformed: 0, received: 0 });
  }

  #freshState(previous: FeedState | undefined, now: number, lastTradeId: number): FeedState {
    const { spec, sim, feed } = this.instrument;
    const state: FeedState = {
      fingerprint: this.instrument.fingerprint,
      book: previous?.book ?? newBarBook(STREAM_TIMEFRAMES, spec.timeZone),
      nextTradeId: previous?.nextTradeId ?? lastTradeId + 1,
      lastQuote: previous?.lastQuote,
      lastTrade: previous?.lastTrade,
      receivedAt: previous?.receivedAt,
      sim: sim ? initialSimState(sim, spec, now, carriedLogPrice(previous, sim.startPrice)) : undefined,
    };
    this.#state = state;
    if (feed.kind === "replay") state.replay = this.#newReplay(now);
    return state;
  }

  // (carriedLogPrice, below: a simulated feed's price across a change of its parameters.)

  // The source is the history stored before the replay began. What the replay prints is
  // stamped from `now` on, so its bars start at or after now's bucket: excluding that
  // bucket and later keeps the replay from ever playing its own output, also across loops.
  #newReplay(now: number, sourceEnd?: number): ReplayCursor | undefined {
    const feed = this.instrument.feed;
    if (feed.kind !== "replay") return undefined;
    const tf = parseTimeframe(feed.timeframe);
    sourceEnd ??= tf.ok ? bucketStart(now, tf.timeframe, this.instrument.spec.timeZone) : now;
    const first = this.history.firstBar(feed.timeframe, 0, sourceEnd - 1);
    return first ? { barT: first.t, print: 0, wallAnchor: now, historyAnchor: first.t, sourceEnd } : undefined;
  }
}

/**
 * The price a simulated feed carries on from when its parameters change (its sizes, its
 * volatility…): the previous simulation's, so its market does not jump back to the start
 * price, triggering stops and moving positions' value. Not when the start price itself is
 * what changed (an admin resetting the market), nor from a feed of another kind.
 */
function carriedLogPrice(previous: FeedState | undefined, startPrice: string): number | undefined {
  if (!previous?.sim) return undefined;
  let before: unknown;
  try {
    before = (JSON.parse(previous.fingerprint) as unknown[])[1];
  } catch {
    return undefined;
  }
  const feed = before as { kind?: unknown; params?: { startPrice?: unknown } } | undefined;
  return feed?.kind === "sim" && feed.params?.startPrice === startPrice ? previous.sim.logPrice : undefined;
}
