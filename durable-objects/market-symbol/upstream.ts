import { z } from "zod";
import type { UpstreamQuote, UpstreamTrade } from "../../shared/market/feed";

// Adapter for an upstream market-data WebSocket speaking Alpaca's stream protocol: it
// connects out, authenticates, subscribes to one symbol, maps trade and quote messages
// to decimal strings for the feed engine to put on its grid, counts and skips malformed
// messages, and remembers when the last message came. When the feed is stale and when to
// reconnect are the feed engine's policy; the owner's alarm applies it, so a restart
// resumes it too.
export interface UpstreamConfig {
  url: string;
  symbol: string;
  key?: string;
  secret?: string;
}

export interface UpstreamHandlers {
  trade(trade: UpstreamTrade): boolean;
  quote(quote: UpstreamQuote): boolean;
  closed(reason: string): void;
}

const num = z.union([z.number().finite().nonnegative(), z.string().regex(/^\d+(\.\d+)?$/)]).transform(String);
const time = z.string().transform((s, ctx) => {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: "bad timestamp" });
    return z.NEVER;
  }
  return ms;
});
const TradeMsg = z.object({ T: z.literal("t"), S: z.string(), t: time, p: num, s: num, i: z.number().int().optional(), tks: z.enum(["B", "S"]).optional() });
const QuoteMsg = z.object({ T: z.literal("q"), S: z.string(), t: time, bp: num, ap: num, bs: num, as: num });
const Control = z.object({ T: z.enum(["success", "subscription", "error"]) }).loose();

export class UpstreamConnection {
  malformed = 0;
  received = 0;
  lastMessageAt = 0;
  #socket: WebSocket | undefined;

  constructor(
    readonly config: UpstreamConfig,
    private readonly handlers: UpstreamHandlers,
  ) {}

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  async connect(): Promise<void> {
    const response = await fetch(this.config.url.replace(/^ws/, "http"), { headers: { Upgrade: "websocket" } });
    const socket = response.webSocket;
    if (!socket) throw new Error(`upstream refused the WebSocket upgrade (HTTP ${response.status})`);
    socket.accept();
    this.#socket = socket;
    this.lastMessageAt = Date.now();
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    socket.addEventListener("close", (event) => this.#onClosed(`closed ${event.code}`));
    socket.addEventListener("error", () => this.#onClosed("error"));
    if (this.config.key !== undefined) socket.send(JSON.stringify({ action: "auth", key: this.config.key, secret: this.config.secret ?? "" }));
    socket.send(JSON.stringify({ action: "subscribe", trades: [this.config.symbol], quotes: [this.config.symbol] }));
  }

  close(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    try {
      socket?.close(1000, "feed changed");
    } catch {
      // Already closed.
    }
  }

  #onClosed(reason: string): void {
    if (!this.#socket) return;
    this.#socket = undefined;
    this.handlers.closed(reason);
  }

  #onMessage(data: unknown): void {
    this.lastMessageAt = Date.now();
    let messages: unknown;
    try {
      messages = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer));
    } catch {
      this.malformed += 1;
      return;
    }
    for (const message of Array.isArray(messages) ? messages : [messages]) {
      this.received += 1;
      const trade = TradeMsg.safeParse(message);
      if (trade.success) {
        if (trade.data.S.toUpperCase() !== this.config.symbol.toUpperCase()) continue;
        const ok = this.handlers.trade({ t: trade.data.t, price: trade.data.p, size: trade.data.s, id: trade.data.i, takerSide: trade.data.tks });
        if (!ok) this.malformed += 1;
        continue;
      }
      const quote = QuoteMsg.safeParse(message);
      if (quote.success) {
        if (quote.data.S.toUpperCase() !== this.config.symbol.toUpperCase()) continue;
        const ok = this.handlers.quote({ t: quote.data.t, bid: quote.data.bp, ask: quote.data.ap, bidSize: quote.data.bs, askSize: quote.data.as });
        if (!ok) this.malformed += 1;
        continue;
      }
      if (!Control.safeParse(message).success) this.malformed += 1;
    }
  }
}
