// The app's live data: Alpaca's market-data stream (one socket per asset class, since
// stocks and crypto have their own endpoints) and the trading stream. Each socket
// reconnects by itself with capped exponential back-off and jitter, re-authenticates
// with a fresh access token and re-subscribes to what the screens want now.
import type { TradeUpdate } from "../../shared/trading/stream";
import { freshAccessToken, renewAccessToken } from "./api";
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
    if (!this.#ws) this.#connect();
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
    ws.addEventListener("close", () => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (this.#stopped) return;
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

type Kind = "stocks" | "crypto";
const kindOf = (symbol: string): Kind => (symbol.includes("/") ? "crypto" : "stocks");

class MarketFeed {
  readonly #links: Record<Kind, Link>;
  #quotes = new Set<string>();
  #bars = new Set<string>();
  readonly #listeners = new Set<(m: MarketMsg) => void>();

  constructor() {
    const handlers = (kind: Kind) => ({
      onOpen: () => undefined,
      onMessage: (link: Link, frame: unknown) => this.#onFrame(kind, link, frame),
    });
    this.#links = { stocks: new Link("market", "/v2/iex", handlers("stocks")), crypto: new Link("crypto", "/v1beta3/crypto/us", handlers("crypto")) };
  }

  on(listener: (m: MarketMsg) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** What the screens want: quotes and trades for `quotes`, bars for `bars`. */
  want(quotes: string[], bars: string[]): void {
    const [oldQuotes, oldBars] = [this.#quotes, this.#bars];
    this.#quotes = new Set(quotes);
    this.#bars = new Set(bars);
    for (const kind of ["stocks", "crypto"] as const) {
      const link = this.#links[kind];
      const mine = (s: Set<string>) => [...s].filter((x) => kindOf(x) === kind);
      if (mine(this.#quotes).length + mine(this.#bars).length === 0) {
        link.stop();
        continue;
      }
      link.start();
      const gone = (before: Set<string>, now: Set<string>) => [...before].filter((s) => !now.has(s) && kindOf(s) === kind);
      const lost = { quotes: gone(oldQuotes, this.#quotes), bars: gone(oldBars, this.#bars) };
      if (lost.quotes.length + lost.bars.length > 0) link.send({ action: "unsubscribe", quotes: lost.quotes, trades: lost.quotes, bars: lost.bars, updatedBars: lost.bars });
      link.send(this.#subscription(kind));
    }
  }

  stop(): void {
    for (const link of Object.values(this.#links)) link.stop();
  }

  #subscription(kind: Kind) {
    const quotes = [...this.#quotes].filter((s) => kindOf(s) === kind);
    const bars = [...this.#bars].filter((s) => kindOf(s) === kind);
    return { action: "subscribe", quotes, trades: quotes, bars, updatedBars: bars };
  }

  #onFrame(kind: Kind, link: Link, frame: unknown): void {
    if (!Array.isArray(frame)) return;
    for (const m of frame as { T: string; msg?: string; code?: number }[]) {
      if (m.T === "success" && m.msg === "connected") void freshAccessToken().then((token) => link.send({ action: "auth", token }));
      else if (m.T === "success" && m.msg === "authenticated") {
        link.ready();
        link.send(this.#subscription(kind));
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

  start(): void {
    this.#link.start();
  }

  stop(): void {
    this.#link.stop();
  }

  #onFrame(link: Link, frame: { stream?: string; data?: { status?: string } }): void {
    if (frame.stream === "authorization") {
      if (frame.data?.status === "authorized") link.send({ action: "listen", data: { streams: ["trade_updates"] } });
      else void renewAccessToken().then(() => link.restart());
    } else if (frame.stream === "listening") link.ready();
    else if (frame.stream === "trade_updates") for (const l of this.#listeners) l((frame as unknown as TradeUpdate).data);
  }
}

export const trades = new TradeFeed();
