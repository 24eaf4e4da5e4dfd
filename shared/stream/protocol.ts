import { z } from "zod";

// Alpaca's market-data stream protocol (docs/alpaca-compat.md §6), shared by the hub that
// speaks it and the tests and benchmarks that drive it.
export const STOCK_CHANNELS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds"] as const;
export const CRYPTO_CHANNELS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "orderbooks"] as const;
export const ALL_CHANNELS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "orderbooks"] as const;
export type Channel = (typeof ALL_CHANNELS)[number];
export type StreamKind = "stocks" | "crypto";
/** What one client socket streams: one asset class (Alpaca's endpoints), or both at once. */
export type SocketKind = StreamKind | "all";

export const channelsOf = (kind: SocketKind): readonly Channel[] => (kind === "stocks" ? STOCK_CHANNELS : kind === "crypto" ? CRYPTO_CHANNELS : ALL_CHANNELS);

export type Subscriptions = Partial<Record<Channel, string[]>>;

export const ERRORS = {
  invalidSyntax: { code: 400, msg: "invalid syntax" },
  notAuthenticated: { code: 401, msg: "not authenticated" },
  authFailed: { code: 402, msg: "auth failed" },
  alreadyAuthenticated: { code: 403, msg: "already authenticated" },
  authTimeout: { code: 404, msg: "auth timeout" },
  symbolLimit: { code: 405, msg: "symbol limit exceeded" },
  connectionLimit: { code: 406, msg: "connection limit exceeded" },
  slowClient: { code: 407, msg: "slow client" },
  // Alpaca's answer to a feed the account's plan does not include; here, a credential without the permission the socket's data needs.
  insufficientSubscription: { code: 409, msg: "insufficient subscription" },
  // RedFire's: more control messages than the socket's budget (SOCKET_LIMITS); the socket closes.
  tooManyMessages: { code: 429, msg: "too many messages" },
  internal: { code: 500, msg: "internal error" },
} as const;

const SymbolList = z.array(z.string().min(1).max(32)).max(10_000);

export const ClientMessage = z.discriminatedUnion("action", [
  z.object({ action: z.literal("auth"), key: z.string().max(512).optional(), secret: z.string().max(512).optional(), token: z.string().max(4096).optional() }),
  z.object({ action: z.literal("subscribe"), ...Object.fromEntries(ALL_CHANNELS.map((c) => [c, SymbolList.optional()])) }).loose(),
  z.object({ action: z.literal("unsubscribe"), ...Object.fromEntries(ALL_CHANNELS.map((c) => [c, SymbolList.optional()])) }).loose(),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export type ControlMessage =
  | { T: "success"; msg: "connected" | "authenticated" }
  | { T: "error"; code: number; msg: string }
  | { T: "subscription"; [channel: string]: string[] | "subscription" };

// An error's size must not grow with the request that caused it.
const MAX_DETAIL_CHARS = 200;

export const errorMessage = (e: { code: number; msg: string }, detail?: string): ControlMessage => ({
  T: "error",
  code: e.code,
  msg: detail ? `${e.msg}: ${detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}…` : detail}` : e.msg,
});

/**
 * The full-subscription echo Alpaca sends after every (un)subscribe. Corrections and cancel
 * errors come with stock trades only: on an "all" socket they list the trade symbols whose
 * class (`classOf`, as recorded when each was subscribed) is stocks, and "*" (every stock).
 */
export function subscriptionMessage(kind: SocketKind, subs: Subscriptions, classOf?: (symbol: string) => StreamKind | undefined): ControlMessage {
  const echo: Record<string, string[]> = {};
  for (const c of channelsOf(kind)) echo[c] = [...(subs[c] ?? [])];
  if (kind !== "crypto") {
    const trades = subs.trades ?? [];
    const stockTrades = kind === "stocks" ? [...trades] : trades.filter((s) => s === "*" || classOf?.(s) === "stocks");
    echo.corrections = stockTrades;
    echo.cancelErrors = [...stockTrades];
  }
  return { T: "subscription", ...echo };
}

/**
 * Upper-cases and de-duplicates. "*" is every symbol on that channel, and the symbols named
 * beside it stay: unsubscribing "*" leaves them subscribed (found in QA: a "*" swallowed
 * them, so dropping it ended subscriptions the client had asked for by name).
 */
export function normaliseSymbols(symbols: readonly string[]): string[] {
  return [...new Set(symbols.map((s) => s.trim().toUpperCase()))];
}

export function addSubscriptions(current: Subscriptions, add: Subscriptions): Subscriptions {
  const next: Subscriptions = { ...current };
  for (const [channel, symbols] of Object.entries(add) as [Channel, string[]][]) {
    if (symbols.length === 0) continue;
    next[channel] = normaliseSymbols([...(current[channel] ?? []), ...symbols]);
  }
  return next;
}

export function removeSubscriptions(current: Subscriptions, remove: Subscriptions): Subscriptions {
  const next: Subscriptions = { ...current };
  for (const [channel, symbols] of Object.entries(remove) as [Channel, string[]][]) {
    const drop = new Set(normaliseSymbols(symbols));
    next[channel] = (current[channel] ?? []).filter((s) => !drop.has(s));
  }
  return next;
}

export const symbolCount = (subs: Subscriptions) => new Set(Object.values(subs).flat()).size;
