import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { ApiError, notFound, unauthorized } from "../../shared/errors";
import { bucketStart, parseTimeframe, STREAM_TIMEFRAMES } from "../../shared/market/timeframe";
import { errorResponses, jsonContent, SESSION_OR_KEY, wholeParam } from "../../shared/schemas/common";
import { marketOf } from "../lib/objects";
import type { AppEnv } from "../context";
import { instrumentSpecOf, knownSymbols } from "../../platform/assets";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { boundsProblem, issuableCursor, type HistoryQuery } from "../../shared/market/history";
import { rfc3339 } from "../../shared/market/format";
import { instantAfter, parseInstant } from "../../shared/instant";
import { sample } from "../../shared/stream/limits";
import { CryptoLatestOrderbooks, CryptoSnapshots, HistoryAnswers, LatestAnswers, StockSnapshots, StockSymbolSnapshot } from "../../shared/schemas/market-data";

// Market-data REST in Alpaca's shapes (docs/alpaca-compat.md §5), on the same origin as the
// trading API: stocks under /v2/stocks, crypto under /v1beta3/crypto/us. Numbers are JSON
// numbers here. History comes from each symbol's object; multi-symbol pages walk the
// symbols in order, and the page token says where to resume.
export const marketData = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const invalidParam = (name: string, detail: string) =>
  new ApiError(422, `Invalid format for parameter ${name}: ${detail}`, [{ path: name, message: detail }], 10000);

const Instant = z.string().max(64).optional();

// Alpaca's values are taken and change nothing here (one feed, no corporate actions);
// anything else is refused rather than silently ignored. Prices are in USD only.
const Terms = z.object({
  feed: z.enum(["sip", "iex", "otc", "boats", "overnight", "delayed_sip"]).optional(),
  currency: z.enum(["USD"], { error: "prices are in USD only" }).optional(),
});

const HistoryParams = z.object({
  start: Instant.openapi({ description: "RFC-3339 with an offset (2024-01-02T15:04:00Z) or YYYY-MM-DD (midnight UTC); default: start of today" }),
  end: Instant.openapi({ description: "RFC-3339 with an offset or YYYY-MM-DD; default: now" }),
  limit: wholeParam("limit", 1, 10_000).default(1000),
  page_token: z.string().max(512).optional(),
  sort: z.enum(["asc", "desc"]).default("asc"),
  ...Terms.shape,
  adjustment: z
    .string()
    .max(40)
    .regex(/^(raw|split|dividend|spin-off|all)(,(raw|split|dividend|spin-off|all))*$/, { error: "one or more of raw, split, dividend, spin-off, all" })
    .optional(),
  asof: z.union([z.literal("-"), z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((d) => parseInstant(d) !== undefined)], { error: "a date that exists, YYYY-MM-DD" }).optional(),
});
const BarParams = HistoryParams.extend({ timeframe: z.string().min(1).max(16).openapi({ example: "1Min" }) });
const Symbols = z.object({ symbols: z.string().min(1).max(4000).openapi({ example: "AAPL,MSFT" }) });
const Pairs = z.object({ symbols: z.string().min(1).max(4000).openapi({ example: "BTC/USD,ETH/USD" }) });
/** The latest values' and snapshots' query: the symbols (for the multi-symbol paths) and the terms. */
const SymbolsAndTerms = Symbols.extend(Terms.shape);
const SymbolPath = z.object({ symbol: z.string().min(1).max(16) });
// Crypto takes no feed: its location is the path's /us, as on Alpaca's v1beta3 routes. The
// stock feeds are not documented there, and a feed sent is refused (refuseStockTerms, with
// the other stock-only terms) rather than checked against them or ignored.
const CryptoTerms = Terms.omit({ feed: true });
const CryptoSymbolsAndTerms = Pairs.extend(CryptoTerms.shape);

const readMarket = requirePermission("trading:read");
// Crypto data is public, as on Alpaca (ccxt sends no keys for it): anyone may read it,
// rate-limited per client like every route, but credentials that are sent must be valid.
const publicMarket = createMiddleware<AppEnv>(async (c, next) => {
  const failure = c.get("authFailure");
  if (failure) throw unauthorized(failure);
  await next();
});
const isPublic = (path: string) => path.startsWith("/v1beta3/crypto/");
// The stock-only terms, refused on crypto by name (the schema would drop them unseen).
const STOCK_ONLY: Record<string, string> = {
  feed: "crypto data takes no feed (its location is the path's /us)",
  adjustment: "crypto data has no corporate actions to adjust for",
  asof: "crypto pairs are not renamed: asof is for stocks",
};
const refuseStockTerms = createMiddleware<AppEnv>(async (c, next) => {
  for (const [name, why] of Object.entries(STOCK_ONLY)) if (c.req.query(name) !== undefined) throw invalidParam(name, why);
  await next();
});

/** A bound of the query, to the millisecond: `start` (inclusive) at or after the time given, `end` at or before it. */
function instant(name: "start" | "end", value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const ms = parseInstant(value, name === "start" ? "ceil" : "floor");
  if (ms === undefined) throw invalidParam(name, `${JSON.stringify(value)} is not an RFC-3339 time with an offset or a YYYY-MM-DD date that exists`);
  return ms;
}

/**
 * Where a multi-page answer resumes: the symbol, its position there, and the query it was
 * made for (a fingerprint of the dataset, timeframe, sort, bounds and symbols), so a token
 * replayed on another query is refused rather than resuming at a position of other data.
 */
interface Page {
  symbol: string;
  cursor: [number, number] | null;
  query: string;
}

const PageToken = z.object({ symbol: z.string(), cursor: z.tuple([z.number(), z.number()]).nullable(), query: z.string() });

function decodeToken(token: string | undefined): Page | undefined {
  if (!token) return undefined;
  try {
    return PageToken.parse(JSON.parse(atob(token.replace(/-/g, "+").replace(/_/g, "/"))));
  } catch {
    throw invalidParam("page_token", "not a page token from this API");
  }
}

const encodeToken = (page: Page) => btoa(JSON.stringify(page)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A short fingerprint of a query's text (32-bit FNV-1a): enough to tell one query's token from another's. */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

type Kind = "us_equity" | "crypto";

// Any listed asset, active or not: an inactive (delisted) name's stored history stays
// readable, as Alpaca serves delisted tickers' (found in QA: one inactive name in a
// universe failed the whole request); its feed has stopped, so its latest values are its last.
async function resolveSymbols(env: Env, raw: string, kind: Kind): Promise<InstrumentSpec[]> {
  const registry = await knownSymbols(env);
  const wanted = [...new Set(raw.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean))];
  if (wanted.length === 0) throw invalidParam("symbols", "give at least one symbol");
  if (wanted.length > 1000) throw invalidParam("symbols", "at most 1000 symbols");
  const unknown = wanted.filter((s) => registry.get(s)?.assetClass !== kind);
  // Named five at most, as the stream names them: the error's size is bounded whatever the request.
  if (unknown.length > 0) throw new ApiError(422, `Invalid symbol: ${sample(unknown)}`, [{ path: "symbols", message: `unknown symbol${unknown.length > 1 ? "s" : ""} ${sample(unknown)}` }], 10000);
  return wanted.sort().map((s) => instrumentSpecOf(registry.get(s)!));
}

// An unknown symbol is the same 422 in the path as in `symbols=` (docs/alpaca-compat.md §2),
// so a client maps it to one error (ccxt's BadSymbol) whichever route it called.
async function oneSymbol(env: Env, symbol: string, kind: Kind): Promise<InstrumentSpec> {
  const info = (await knownSymbols(env)).get(symbol.toUpperCase());
  if (!info || info.assetClass !== kind) throw new ApiError(422, `Invalid symbol: ${symbol}`, [{ path: "symbol", message: `unknown symbol ${symbol}` }], 10000);
  return instrumentSpecOf(info);
}

type Dataset = "bars" | "trades" | "quotes";

interface HistoryRequest {
  start?: string;
  end?: string;
  limit: number;
  page_token?: string;
  sort: "asc" | "desc";
  timeframe?: string;
}

/** Pages through one dataset across symbols in symbol order; returns items per symbol. */
async function history(env: Env, dataset: Dataset, symbols: InstrumentSpec[], q: HistoryRequest, traceparent: string | null) {
  const timeframe = dataset === "bars" ? parseTimeframe(q.timeframe ?? "") : undefined;
  if (timeframe && !timeframe.ok) throw invalidParam("timeframe", timeframe.message);
  const now = Date.now();
  // A bound not given is each symbol's start of today (in its time zone) and now.
  const startGiven = q.start !== undefined && q.start !== "";
  const endGiven = q.end !== undefined && q.end !== "";
  const start = instant("start", q.start, Number.NaN);
  const end = instant("end", q.end, now);
  const startOf = (info: InstrumentSpec) => (startGiven ? start : bucketStart(now, STREAM_TIMEFRAMES[4]!, info.timeZone));
  const label = timeframe?.ok ? timeframe.timeframe.label : "";
  const query = fingerprint([dataset, label, q.sort, startGiven ? start : "", endGiven ? end : "", symbols.map((s) => s.symbol).join(",")].join("|"));
  const page = decodeToken(q.page_token);
  let startIndex = 0;
  if (page) {
    if (page.query !== query) throw invalidParam("page_token", "made for another query: send the symbols, timeframe, start, end and sort of the request that answered it");
    startIndex = symbols.findIndex((s) => s.symbol === page.symbol);
    if (startIndex < 0) throw invalidParam("page_token", "does not belong to these symbols");
    // A token resumes where a page was cut short (a row's time and tie-breaker, within the
    // bounds), or, without a cursor, at the start of a later symbol when the limit ran out
    // at the end of the one before: never at the first. Anything else was not issued here.
    const fixed = { ...(startGiven && { start }), ...(endGiven && { end }) };
    if (page.cursor === null ? startIndex === 0 : !issuableCursor(page.cursor, fixed))
      throw invalidParam("page_token", "its cursor is not a position where a page of this query could end");
  }
  // Checked for every symbol before any is read, so the query is refused whole or answered.
  // Bounds in order inside one millisecond (…00.0001Z to …00.0009Z) round past each other,
  // the start up and the end down: a window no row is in, answered empty rather than
  // refused as reversed (found in QA).
  const exactlyInOrder = startGiven && endGiven && instantAfter(q.start!, q.end!) === false;
  for (const info of exactlyInOrder ? [] : symbols.slice(startIndex)) {
    const symbolStart = startOf(info);
    const problem = boundsProblem({ start: symbolStart, end, startGiven, endGiven, defaultStart: `the start of today in ${info.timeZone}, ${rfc3339(symbolStart)}` });
    if (problem) throw invalidParam(problem.parameter, problem.detail);
  }
  const out: Record<string, unknown[]> = {};
  let remaining = q.limit;
  let next: Page | null = null;
  for (let i = startIndex; i < symbols.length; i++) {
    const info = symbols[i]!;
    if (remaining === 0) {
      next = { symbol: info.symbol, cursor: null, query };
      break;
    }
    const historyQuery: HistoryQuery = {
      start: startOf(info),
      end,
      limit: remaining,
      sort: q.sort,
      ...(page && i === startIndex && page.cursor ? { cursor: page.cursor } : {}),
    };
    const stub = marketOf(env, info.symbol, traceparent);
    const result = dataset === "bars" ? await stub.bars(label || "1Min", historyQuery) : dataset === "trades" ? await stub.trades(historyQuery) : await stub.quotes(historyQuery);
    out[info.symbol] = result.items;
    remaining -= result.items.length;
    if (result.next) {
      next = { symbol: info.symbol, cursor: result.next as [number, number], query };
      break;
    }
  }
  return { items: out, next_page_token: next ? encodeToken(next) : null };
}

// ---- route declarations ------------------------------------------------------------------

/**
 * A market-data route: stock routes need `trading:read`; crypto routes are public and take
 * no feed. `answer` documents its 200 body (shared/schemas/market-data.ts). It is typed as
 * unknown for the handlers: their records come from the symbol objects typed for either
 * asset class, and a loop's route for any of three datasets, so the compiler cannot tie a
 * body to one schema; test/market-data.test.ts checks every route's real answers against
 * the document instead.
 */
const stockRoute = <P extends string, R extends { params?: typeof SymbolPath; query?: z.ZodObject }>(path: P, summary: string, request: R, answer: z.ZodType) =>
  createRoute({
    method: "get",
    path,
    tags: ["market data"],
    summary,
    security: isPublic(path) ? [] : SESSION_OR_KEY,
    middleware: isPublic(path) ? ([publicMarket, refuseStockTerms] as const) : ([readMarket] as const),
    request,
    responses: { 200: jsonContent(answer, summary), ...errorResponses(401, 403, 404, 422, 429) },
  });

for (const dataset of ["bars", "trades", "quotes"] as const) {
  const params = dataset === "bars" ? BarParams : HistoryParams;
  marketData.openapi(stockRoute(`/v2/stocks/{symbol}/${dataset}`, `Historical ${dataset} for one stock`, { params: SymbolPath, query: params }, HistoryAnswers.stock[dataset]), async (c) => {
    const { symbol } = c.req.valid("param");
    const info = await oneSymbol(c.env, symbol, "us_equity");
    const result = await history(c.env, dataset, [info], c.req.valid("query") as HistoryRequest, c.get("traceparent"));
    return c.json({ [dataset]: result.items[info.symbol] ?? [], symbol: info.symbol, next_page_token: result.next_page_token }, 200);
  });
  marketData.openapi(stockRoute(`/v2/stocks/${dataset}`, `Historical ${dataset} for several stocks`, { query: params.extend(Symbols.shape) }, HistoryAnswers.stocks[dataset]), async (c) => {
    const query = c.req.valid("query") as HistoryRequest & { symbols: string };
    const result = await history(c.env, dataset, await resolveSymbols(c.env, query.symbols, "us_equity"), query, c.get("traceparent"));
    return c.json({ [dataset]: result.items, next_page_token: result.next_page_token }, 200);
  });
  marketData.openapi(stockRoute(`/v1beta3/crypto/us/${dataset}`, `Historical ${dataset} for crypto pairs`, { query: params.omit({ feed: true, adjustment: true, asof: true }).extend(Pairs.shape) }, HistoryAnswers.crypto[dataset]), async (c) => {
    const query = c.req.valid("query") as HistoryRequest & { symbols: string };
    const result = await history(c.env, dataset, await resolveSymbols(c.env, query.symbols, "crypto"), query, c.get("traceparent"));
    return c.json({ [dataset]: result.items, next_page_token: result.next_page_token }, 200);
  });
}

type Latest = "trades" | "quotes" | "bars";
const SINGULAR = { trades: "trade", quotes: "quote", bars: "bar" } as const;

async function latestOf(env: Env, info: InstrumentSpec, what: Latest, traceparent: string | null): Promise<unknown> {
  const snap = await marketOf(env, info.symbol, traceparent).snapshot();
  return what === "trades" ? snap.latestTrade : what === "quotes" ? snap.latestQuote : snap.minuteBar;
}

async function latestMap(env: Env, symbols: InstrumentSpec[], what: Latest, traceparent: string | null): Promise<Record<string, unknown>> {
  const values = await Promise.all(symbols.map((s) => latestOf(env, s, what, traceparent)));
  // A symbol with nothing printed yet is left out, as Alpaca does.
  return Object.fromEntries(symbols.flatMap((s, i) => (values[i] ? [[s.symbol, values[i]]] : [])));
}

for (const what of ["trades", "quotes", "bars"] as const) {
  marketData.openapi(stockRoute(`/v2/stocks/{symbol}/${what}/latest`, `Latest ${SINGULAR[what]} of one stock`, { params: SymbolPath, query: Terms }, LatestAnswers.stock[what]), async (c) => {
    const info = await oneSymbol(c.env, c.req.valid("param").symbol, "us_equity");
    const value = await latestOf(c.env, info, what, c.get("traceparent"));
    if (!value) throw notFound(`no ${SINGULAR[what]} for ${info.symbol} yet`);
    return c.json({ symbol: info.symbol, [SINGULAR[what]]: value }, 200);
  });
  marketData.openapi(stockRoute(`/v2/stocks/${what}/latest`, `Latest ${SINGULAR[what]} of several stocks`, { query: SymbolsAndTerms }, LatestAnswers.stocks[what]), async (c) => {
    const symbols = await resolveSymbols(c.env, c.req.valid("query").symbols, "us_equity");
    return c.json({ [what]: await latestMap(c.env, symbols, what, c.get("traceparent")) }, 200);
  });
  marketData.openapi(stockRoute(`/v1beta3/crypto/us/latest/${what}`, `Latest ${SINGULAR[what]} of crypto pairs`, { query: CryptoSymbolsAndTerms }, LatestAnswers.crypto[what]), async (c) => {
    const symbols = await resolveSymbols(c.env, c.req.valid("query").symbols, "crypto");
    return c.json({ [what]: await latestMap(c.env, symbols, what, c.get("traceparent")) }, 200);
  });
}

marketData.openapi(stockRoute("/v1beta3/crypto/us/latest/orderbooks", "Top of book of crypto pairs", { query: CryptoSymbolsAndTerms }, CryptoLatestOrderbooks), async (c) => {
  const symbols = await resolveSymbols(c.env, c.req.valid("query").symbols, "crypto");
  const books = await Promise.all(symbols.map((s) => marketOf(c.env, s.symbol, c.get("traceparent")).orderbook()));
  return c.json({ orderbooks: Object.fromEntries(symbols.flatMap((s, i) => (books[i] ? [[s.symbol, books[i]]] : []))) }, 200);
});

marketData.openapi(stockRoute("/v2/stocks/{symbol}/snapshot", "Snapshot of one stock", { params: SymbolPath, query: Terms }, StockSymbolSnapshot), async (c) => {
  const info = await oneSymbol(c.env, c.req.valid("param").symbol, "us_equity");
  return c.json({ symbol: info.symbol, ...(await marketOf(c.env, info.symbol, c.get("traceparent")).snapshot()) }, 200);
});

async function snapshots(env: Env, symbols: InstrumentSpec[], traceparent: string | null) {
  const snaps = await Promise.all(symbols.map((s) => marketOf(env, s.symbol, traceparent).snapshot()));
  return Object.fromEntries(symbols.map((s, i) => [s.symbol, snaps[i]!]));
}

// The stock map is top-level (the SDK iterates the body); crypto wraps it in "snapshots".
marketData.openapi(stockRoute("/v2/stocks/snapshots", "Snapshots of several stocks", { query: SymbolsAndTerms }, StockSnapshots), async (c) =>
  c.json(await snapshots(c.env, await resolveSymbols(c.env, c.req.valid("query").symbols, "us_equity"), c.get("traceparent")), 200),
);
marketData.openapi(stockRoute("/v1beta3/crypto/us/snapshots", "Snapshots of crypto pairs", { query: CryptoSymbolsAndTerms }, CryptoSnapshots), async (c) =>
  c.json({ snapshots: await snapshots(c.env, await resolveSymbols(c.env, c.req.valid("query").symbols, "crypto"), c.get("traceparent")) }, 200),
);
