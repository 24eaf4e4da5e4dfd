// The app's live data: the market-data stream (one socket for stocks and crypto, RedFire's
// /v2/all) and the trading stream. Each socket reconnects by itself with capped
// exponential back-off and jitter, re-authenticates with a fresh access token and
// re-subscribes to what the screens want now.
import type { TradeUpdate } from "../../shared/trading/stream";
import { checkSession, freshAccessToken, renewAccessToken } from "./api";
import { createStore } from "./store";

export type LinkState = "connecting" | "open" | "down";
export const links = createStore<Record<string, LinkState>>({});

const setLink = (name: string, state: LinkState) => links.update((l) => (l[name] === state ? l : { ...l, [name]: state }));

const wsUrl = (path: string) => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;

/** One self-healing socket: `onOpen` authenticates, `onMessage` gets each parsed frame. */
class Link {
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly handlers: { onOpen(link: Link): void; onMessage(link: Link, frame: unknown): void },
  ) {}

  start(): void {
    this.#stopped = false;
    if (this.#ws) return;
    // A reconnect may be waiting out its back-off: connect now instead, and only once.
    clearTimeout(this.#timer);
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.close(1000, "done");
    this.#ws = null;
    // A link nobody needs is not "down": it leaves the indicator.
    links.update((l) => {
      const rest = { ...l };
      delete rest[this.name];
      return rest;
    });
  }

  send(message: unknown): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  /** Marks the link healthy once the server has accepted it (authenticated). */
  ready(): void {
    this.#attempt = 0;
    setLink(this.name, "open");
  }

  /** Drops the socket and reconnects (after a refused auth, with a renewed token). */
  restart(): void {
    this.#ws?.close(4000, "restart");
  }

  #connect(): void {
    setLink(this.name, "connecting");
    const ws = new WebSocket(wsUrl(this.path));
    this.#ws = ws;
    ws.addEventListener("open", () => this.handlers.onOpen(this));
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      try {
        this.handlers.onMessage(this, JSON.parse(event.data));
      } catch {
        // a frame we cannot read is skipped, not fatal
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (this.#stopped) return;
      // 1008 is the server's close for a revoked credential (the user disabled, the session
      // ended, the role changed), among other policy closes: the session is asked at once,
      // and one that ended signs the app out saying so (found in QA: a disabled user's page
      // stayed open, "Reconnecting…", until the next request).
      if (event.code === 1008) void checkSession();
      setLink(this.name, "down");
      const delay = Math.min(10_000, 500 * 2 ** this.#attempt++) * (0.8 + Math.random() * 0.4);
      this.#timer = setTimeout(() => this.#connect(), delay);
    });
  }
}

// ---- market data -----------------------------------------------------------------------

export interface QuoteMsg {
  T: "q";
  S: string;
  bp: number;
  ap: number;
  bs: number;
  as: number;
  t: string;
}
export interface TradeMsg {
  T: "t";
  S: string;
  p: number;
  s: number;
  t: string;
}
export interface BarMsg {
  T: "b" | "u";
  S: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  t: string;
}
export type MarketMsg = QuoteMsg | TradeMsg | BarMsg;

/** Both asset classes on one socket: RedFire's /v2/all speaks Alpaca's protocol for each. */
class MarketFeed {
  readonly #link: Link;
  #quotes = new Set<string>();
  #bars = new Set<string>();
  readonly #listeners = new Set<(m: MarketMsg) => void>();

  constructor() {
    this.#link = new Link("market", "/v2/all", { onOpen: () => undefined, onMessage: (link, frame) => this.#onFrame(link, frame) });
  }

  on(listener: (m: MarketMsg) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** What the screens want: quotes and trades for `quotes`, bars for `bars`. */
  want(quotes: string[], bars: string[]): void {
    const gone = (before: Set<string>, now: string[]) => [...before].filter((s) => !now.includes(s));
    const lost = { quotes: gone(this.#quotes, quotes), bars: gone(this.#bars, bars) };
    this.#quotes = new Set(quotes);
    this.#bars = new Set(bars);
    if (quotes.length + bars.length === 0) return this.#link.stop();
    this.#link.start();
    if (lost.quotes.length + lost.bars.length > 0) this.#link.send({ action: "unsubscribe", quotes: lost.quotes, trades: lost.quotes, bars: lost.bars, updatedBars: lost.bars });
    this.#link.send(this.#subscription());
  }

  stop(): void {
    this.#link.stop();
  }

  #subscription() {
    const quotes = [...this.#quotes];
    const bars = [...this.#bars];
    return { action: "subscribe", quotes, trades: quotes, bars, updatedBars: bars };
  }

  #onFrame(link: Link, frame: unknown): void {
    if (!Array.isArray(frame)) return;
    for (const m of frame as { T: string; msg?: string; code?: number }[]) {
      if (m.T === "success" && m.msg === "connected") void freshAccessToken().then((token) => link.send({ action: "auth", token }));
      else if (m.T === "success" && m.msg === "authenticated") {
        link.ready();
        link.send(this.#subscription());
      } else if (m.T === "error" && (m.code === 402 || m.code === 404)) void renewAccessToken().then(() => link.restart());
      else if (m.T === "q" || m.T === "t" || m.T === "b" || m.T === "u") for (const l of this.#listeners) l(m as MarketMsg);
    }
  }
}

export const market = new MarketFeed();

// ---- trade_updates ---------------------------------------------------------------------

class TradeFeed {
  readonly #link: Link;
  readonly #listeners = new Set<(u: TradeUpdate["data"]) => void>();
  // The other user streams (backtest_updates, strategy_updates, notifications) ride the same socket.
  readonly #others = new Map<string, Set<(data: unknown) => void>>();

  constructor() {
    this.#link = new Link("trading", "/stream", {
      onOpen: (link) => void freshAccessToken().then((token) => link.send({ action: "authenticate", data: { oauth_token: token } })),
      onMessage: (link, frame) => this.#onFrame(link, frame as { stream?: string; data?: { status?: string } }),
    });
  }

  on(listener: (u: TradeUpdate["data"]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Frames of another user stream: "backtest_updates", "strategy_updates" or "notifications"; "listening": each time the socket (re)starts listening. */
  onStream(stream: "backtest_updates" | "strategy_updates" | "notifications" | "listening", listener: (data: unknown) => void): () => void {
    const set = this.#others.get(stream) ?? new Set();
    this.#others.set(stream, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  start(): void {
    this.#link.start();
  }

  stop(): void {
    this.#link.stop();
  }

  #onFrame(link: Link, frame: { stream?: string; data?: { status?: string } }): void {
    if (frame.stream === "authorization") {
      if (frame.data?.status === "authorized") link.send({ action: "listen", data: { streams: ["trade_updates", "backtest_updates", "strategy_updates", "notifications"] } });
      else void renewAccessToken().then(() => link.restart());
    } else if (frame.stream === "listening") {
      link.ready();
      for (const l of this.#others.get("listening") ?? []) l(frame.data);
    }
    else if (frame.stream === "trade_updates") for (const l of this.#listeners) l((frame as unknown as TradeUpdate).data);
    else if (frame.stream) for (const l of this.#others.get(frame.stream) ?? []) l(frame.data);
  }
}

export const trades = new TradeFeed();
