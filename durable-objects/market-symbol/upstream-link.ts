import type { FeedEngine, UpstreamStatus } from "../../shared/market/feed";
import { logger } from "../../platform/log";
import { UpstreamConnection } from "./upstream";

const log = logger("market-symbol");

/** What the link needs of the symbol object around it. */
export interface UpstreamHost {
  /** The feed engine now (a reload replaces it). */
  feed(): FeedEngine | undefined;
  /** Stores what the engine drained and passes it to the venue, at wall time `now`. */
  commit(now: number): void;
  /** Sends queued stream events and due venue reports. */
  dispatch(): void;
  /** Runs the alarm at `at`, which applies the back-off. */
  wake(at: number): void;
}

/**
 * The symbol object's upstream socket: one connection at a time, opened when the feed
 * engine says it is due, each message applied to the engine at wall time and committed at
 * once. When to connect, when the feed is stale and how long to back off are the engine's.
 */
export class UpstreamLink {
  #connection: UpstreamConnection | undefined;
  #connecting = false;

  constructor(
    private readonly symbol: string,
    private readonly host: UpstreamHost,
  ) {}

  /** The alarm's upstream turn: answers when to run again. */
  async step(feed: FeedEngine, now: number): Promise<number> {
    const config = feed.instrument.feed;
    const live = this.#connection?.connected ? this.#connection : undefined;
    const due = feed.upstreamDue(now, live, this.#connecting);
    if (due.wentStale) log("warn", "upstream feed is stale", { symbol: this.symbol, silentMs: now - (live?.lastMessageAt ?? now) });
    if (!due.connect || config.kind !== "upstream") return due.next;
    this.host.commit(now);
    this.#connecting = true;
    const connection: UpstreamConnection = new UpstreamConnection(
      { url: config.url, symbol: config.symbol ?? this.symbol, key: config.key, secret: config.secret },
      {
        trade: (t): boolean => this.#received(connection, (engine, at) => engine.upstreamTrade(at, t)),
        quote: (q): boolean => this.#received(connection, (engine, at) => engine.upstreamQuote(at, q)),
        closed: (reason) => {
          log("warn", "upstream disconnected", { symbol: this.symbol, reason });
          if (this.#connection === connection) this.#connection = undefined;
          feed.upstreamClosed(connection.malformed, connection.received);
          this.host.commit(Date.now());
          this.host.wake(Date.now() + 10);
        },
      },
    );
    let next = due.next;
    try {
      await connection.connect();
      feed.upstreamConnected();
      this.#connection = connection;
    } catch (error) {
      next = feed.upstreamFailed(now, Math.random());
      log("warn", "upstream connect failed", { symbol: this.symbol, failures: feed.state.upstream?.failures, error: String(error) });
    } finally {
      this.#connecting = false;
    }
    // A reload while connecting replaced the feed: this connection belongs to no one.
    if (this.host.feed() !== feed) this.close();
    return next;
  }

  close(): void {
    this.#connection?.close();
    this.#connection = undefined;
  }

  /** The engine's counters with the open connection's added. */
  status(status: UpstreamStatus) {
    const connection = this.#connection;
    return {
      ...status,
      connected: connection?.connected ?? false,
      malformed: status.malformed + (connection?.malformed ?? 0),
      received: status.received + (connection?.received ?? 0),
    };
  }

  #received(connection: UpstreamConnection, apply: (engine: FeedEngine, now: number) => boolean): boolean {
    const feed = this.host.feed();
    // A connection closed by a reload may still deliver what was in flight: not ours any more.
    if (!feed || !connection.connected) return true;
    const now = Date.now();
    if (!apply(feed, now)) return false;
    this.host.commit(now);
    this.host.dispatch();
    return true;
  }
}
