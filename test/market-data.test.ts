import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, json, signUp, type TestUser } from "./helpers";
import { createInstrument, freshSymbol, step } from "./market-helpers";

let admin: TestUser;
let trader: TestUser;

beforeAll(async () => {
  [admin, trader] = await Promise.all([signUp("admin"), signUp()]);
});

type Row = Record<string, unknown>;
const get = async <T = Row>(path: string, user: TestUser = trader) => {
  const res = await call(path, { token: user.access });
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${await res.text()}`);
  return json<T>(res);
};

describe("asset registry", () => {
  it("serves the demo instruments in Alpaca's asset shape", async () => {
    const all = await get<Row[]>("/v2/assets");
    const symbols = all.map((a) => a.symbol);
    expect(symbols).toEqual(expect.arrayContaining(["AAPL", "MSFT", "SPY", "TSLA", "BTC/USD", "ETH/USD"]));
    const btc = all.find((a) => a.symbol === "BTC/USD")!;
    expect(btc).toMatchObject({ class: "crypto", tradable: true, fractionable: true, min_trade_increment: "0.0001", price_increment: "0.01", status: "active" });
    const crypto = await get<Row[]>("/v2/assets?asset_class=crypto");
    expect(crypto.every((a) => a.class === "crypto")).toBe(true);
    expect(await get<Row[]>("/v2/assets?asset_class=us_option")).toEqual([]);
  });

  it("quote the demo instruments deep enough that an ordinary market order fills in full, and closing the position sells all of it", async () => {
    // Their feeds used the simulator's default of 1 to 100 lots a level: a few dollars of
    // BTC or ETH, so a market order of a few thousand dollars was canceled part filled.
    const buyer = await signUp();
    for (const [symbol, qty] of [["ETH/USD", "4"], ["BTC/USD", "0.4"], ["AAPL", "400"]] as const) {
      await step(symbol, 3);
      const res = await call("/v2/orders", { token: buyer.access, ip: buyer.ip, body: { symbol, qty, side: "buy", type: "market", time_in_force: "gtc" } });
      expect(res.status, await res.clone().text()).toBe(200);
      const order = await json<{ status: string; filled_qty: string }>(res);
      expect([symbol, order.status, Number(order.filled_qty)]).toEqual([symbol, "filled", Number(qty)]);
      const closed = await call(`/v2/positions/${symbol.replace("/", "")}`, { method: "DELETE", token: buyer.access, ip: buyer.ip });
      expect(closed.status).toBe(200);
      expect(await json<{ status: string }>(closed)).toMatchObject({ status: "filled" });
      expect((await call(`/v2/positions/${symbol.replace("/", "")}`, { token: buyer.access, ip: buyer.ip })).status).toBe(404);
    }
  });

  it("finds one asset by symbol, by pair with or without encoding, and by id", async () => {
    const aapl = await get("/v2/assets/AAPL");
    expect(aapl.symbol).toBe("AAPL");
    expect((await get("/v2/assets/aapl")).id).toBe(aapl.id);
    expect((await get(`/v2/assets/${aapl.id as string}`)).symbol).toBe("AAPL");
    expect((await get("/v2/assets/BTC/USD")).symbol).toBe("BTC/USD");
    expect((await get("/v2/assets/BTC%2FUSD")).symbol).toBe("BTC/USD");
    await expectError(await call("/v2/assets/NOPE", { token: trader.access }), 404);
  });

  it("clock and calendar", async () => {
    const clock = await get("/v2/clock");
    expect(clock.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0[45]:00$/);
    expect(typeof clock.is_open).toBe("boolean");
    const days = await get<Row[]>("/v2/calendar?start=2026-12-21&end=2026-12-28");
    expect(days.map((d) => d.date)).toEqual(["2026-12-21", "2026-12-22", "2026-12-23", "2026-12-24", "2026-12-28"]);
    await expectError(await call("/v2/calendar?start=2026-12-21&end=2026-12-01", { token: trader.access }), 422);
    // As Alpaca's: no dates is the whole calendar from 1970; a start alone runs on past it
    // (it used to be that one day), an end alone starts in 1970; nothing before 1970.
    const all = await get<Row[]>("/v2/calendar");
    expect(all[0]!.date).toBe("1970-01-02");
    const lastYear = new Date().getUTCFullYear() + 3;
    const lastDate = String(all.at(-1)!.date);
    expect(lastDate >= `${lastYear}-12-27` && lastDate <= `${lastYear}-12-31`).toBe(true);
    expect((await get<Row[]>("/v2/calendar?start=2026-12-21")).length).toBeGreaterThan(250);
    expect((await get<Row[]>("/v2/calendar?end=1970-01-06")).map((d) => d.date)).toEqual(["1970-01-02", "1970-01-05", "1970-01-06"]);
    expect(await get<Row[]>("/v2/calendar?start=1900-01-01&end=1900-12-31")).toEqual([]);
    // A start alone past the default horizon is that day, not a 422 about an end never sent.
    const later = `${lastYear + 2}-03-01`;
    expect((await call(`/v2/calendar?start=${later}`, { token: trader.access })).status).toBe(200);
  });

  it("admins add and edit instruments; others cannot", async () => {
    const symbol = freshSymbol("ADD");
    const body = { symbol, name: "Added", class: "us_equity", exchange: "NYSE", tick_size: "0.05", lot_size: "1" };
    await expectError(await call("/api/admin/assets", { token: trader.access, body }), 403);
    const created = await call("/api/admin/assets", { token: admin.access, body });
    expect(created.status).toBe(201);
    const asset = await json(created);
    expect(asset).toMatchObject({ symbol, price_increment: "0.05", feed: { kind: "sim" }, session: null });
    await expectError(await call("/api/admin/assets", { token: admin.access, body }), 409);
    const patched = await call(`/api/admin/assets/${asset.id as string}`, { method: "PATCH", token: admin.access, body: { tradable: false, feed: { kind: "none" } } });
    expect(await json(patched)).toMatchObject({ tradable: false, feed: { kind: "none" } });
    // The grid is fixed once history exists in it.
    await expectError(await call(`/api/admin/assets/${asset.id as string}`, { method: "PATCH", token: admin.access, body: { tick_size: "0.01" } }), 422);
  });

  it("validates instruments", async () => {
    const bad = async (body: Row) => (await expectError(await call("/api/admin/assets", { token: admin.access, body }), 422)).details.map((d) => d.path);
    const base = { symbol: freshSymbol("V"), name: "x", class: "us_equity", exchange: "NYSE", tick_size: "0.01", lot_size: "1" };
    expect(await bad({ ...base, symbol: "btc/usd" })).toContain("symbol");
    expect(await bad({ ...base, class: "crypto" })).toContain("symbol");
    expect(await bad({ ...base, tick_size: "0" })).toContain("tick_size");
    expect(await bad({ ...base, tick_size: "-1" })).toContain("tick_size");
    expect(await bad({ ...base, feed: { kind: "upstream", url: "http://example.com" } })).toContain("feed.url");
    expect(await bad({ ...base, session: { timeZone: "Mars/Olympus", open: "09:30", close: "16:00", days: [1] } })).toContain("session.timeZone");
    // A feed that could not start is refused before anything is written.
    expect(await bad({ ...base, feed: { kind: "sim", params: { startPrice: -5 } } })).toContain("feed.params.startPrice");
    // A start price the instrument cannot print, on create and on a new feed (QA: 100.0005 on a 0.001 grid was stored).
    expect(await bad({ ...base, tick_size: "0.001", feed: { kind: "sim", params: { startPrice: "100.0005" } } })).toEqual(["feed.params.startPrice"]);
    // A tick size that is no grid is its own refusal, with a start price given or not (a 500 before).
    for (const tick_size of ["0.0x", "0", "-1", "1e-30", ""]) expect(await bad({ ...base, tick_size, feed: { kind: "sim", params: { startPrice: "100.00" } } }), tick_size).toContain("tick_size");
    const made = await createInstrument(admin, { tick_size: "0.001" });
    const offGrid = await expectError(await call(`/api/admin/assets/${made.id}`, { method: "PATCH", token: admin.access, body: { feed: { kind: "sim", params: { startPrice: "100.0005" } } } }), 422);
    expect(offGrid.message).toBe("request body is invalid: feed.params.startPrice: must be a positive multiple of the tick size 0.001");
    expect((await call(`/api/admin/assets/${made.id}`, { method: "PATCH", token: admin.access, body: { feed: { kind: "sim", params: { startPrice: "100.001" } } } })).status).toBe(200);
    expect(await bad({ ...base, feed: { kind: "sim", params: { volatility: 1e308 } } })).toContain("feed.params.volatility");
    expect(await bad({ ...base, feed: { kind: "sim", params: { bogus: 1 } } })).toContain("feed.params");
    expect(await bad({ ...base, feed: { kind: "replay", timeframe: "bogus" } })).toContain("feed.timeframe");
    const assets = await json<Row[]>(await call("/api/admin/assets", { token: admin.access }));
    expect(assets.map((a) => a.symbol)).not.toContain(base.symbol);
  });
});

describe("a simulated feed", () => {
  it("prints quotes on the tick grid with bid below ask, and trades at the quote", async () => {
    const { symbol } = await createInstrument(admin, { tick_size: "0.05" });
    await step(symbol, 40);
    const { quotes } = await get<{ quotes: Row[] }>(`/v2/stocks/${symbol}/quotes?limit=1000&start=2000-01-01`);
    expect(quotes.length).toBeGreaterThanOrEqual(40);
    for (const q of quotes) {
      expect(q.bp as number).toBeLessThan(q.ap as number);
      expect(Math.round((q.bp as number) * 100) % 5).toBe(0);
      expect(Math.round((q.ap as number) * 100) % 5).toBe(0);
    }
    const { trades } = await get<{ trades: Row[] }>(`/v2/stocks/${symbol}/trades?limit=1000&start=2000-01-01`);
    expect(trades.length).toBeGreaterThanOrEqual(40);
    expect(trades.map((t) => t.i)).toEqual(trades.map((_, i) => i + 1));
  });

  it("aggregates its trades into bars that agree with the trades", async () => {
    const { symbol } = await createInstrument(admin);
    await step(symbol, 25);
    const { trades } = await get<{ trades: { p: number; s: number; t: string }[] }>(`/v2/stocks/${symbol}/trades?limit=1000&start=2000-01-01`);
    const { bars } = await get<{ bars: Row[] }>(`/v2/stocks/${symbol}/bars?timeframe=1Day&start=2000-01-01`);
    expect(bars).toHaveLength(1);
    const prices = trades.map((t) => t.p);
    expect(bars[0]).toMatchObject({ o: prices[0], c: prices[prices.length - 1], h: Math.max(...prices), l: Math.min(...prices), n: trades.length, v: trades.reduce((s, t) => s + t.s, 0) });
  });

  it("keeps an inactive asset's history readable, alone and beside active names (found in QA: a 422 failed the whole request)", async () => {
    const { id, symbol } = await createInstrument(admin);
    await step(symbol, 10);
    const path = `/v2/stocks/${symbol}/trades?limit=1000&start=2000-01-01`;
    const before = await get<{ trades: unknown[] }>(path);
    expect(before.trades.length).toBeGreaterThan(0);
    const patched = await call(`/api/admin/assets/${id}`, { method: "PATCH", token: admin.access, body: { status: "inactive" } });
    expect(patched.status).toBe(200);
    expect(await get<{ trades: unknown[] }>(path)).toEqual(before);
    // Beside an active name (a fresh one: the demo symbols' trades could fill the page first).
    const active = await createInstrument(admin);
    await step(active.symbol, 2);
    const both = await get<{ trades: Record<string, unknown[]> }>(`/v2/stocks/trades?symbols=${active.symbol},${symbol}&limit=10000&start=2000-01-01`);
    expect(both.trades[symbol]).toEqual(before.trades);
    expect(both.trades[active.symbol]!.length).toBeGreaterThan(0);
    expect((await get<{ bars: unknown[] }>(`/v2/stocks/${symbol}/bars?timeframe=1Day&start=2000-01-01`)).bars).toHaveLength(1);
  });

  it("pages through history without gaps or repeats, in both directions", async () => {
    const { symbol } = await createInstrument(admin);
    await step(symbol, 23);
    const all = (await get<{ trades: Row[] }>(`/v2/stocks/${symbol}/trades?limit=1000&start=2000-01-01`)).trades.map((t) => t.i);
    const quotes = (await get<{ quotes: Row[] }>(`/v2/stocks/${symbol}/quotes?limit=1000&start=2000-01-01`)).quotes;
    for (const sort of ["asc", "desc"] as const) {
      const seen: unknown[] = [];
      let token: string | null = null;
      do {
        const page: { trades: Row[]; next_page_token: string | null } = await get(`/v2/stocks/${symbol}/trades?limit=5&start=2000-01-01&sort=${sort}${token ? `&page_token=${token}` : ""}`);
        expect(page.trades.length).toBeLessThanOrEqual(5);
        seen.push(...page.trades.map((t) => t.i));
        token = page.next_page_token;
      } while (token);
      expect(seen).toEqual(sort === "asc" ? all : [...all].reverse());
    }
    // A page exactly full at the end of the data is the last: no token to an empty page.
    for (const path of [`/v2/stocks/${symbol}/trades?limit=${all.length}&start=2000-01-01`, `/v2/stocks/${symbol}/quotes?limit=${quotes.length}&start=2000-01-01`]) {
      const page = await get<{ next_page_token: string | null }>(path);
      expect(page.next_page_token, path).toBeNull();
    }
    const minutes = (await get<{ bars: Row[] }>(`/v2/stocks/${symbol}/bars?timeframe=1Min&limit=1000&start=2000-01-01`)).bars;
    expect((await get<{ next_page_token: string | null }>(`/v2/stocks/${symbol}/bars?timeframe=1Min&limit=${minutes.length}&start=2000-01-01`)).next_page_token).toBeNull();
  });

  it("rounds a start past the millisecond up, and resumes a page token only on the query that made it", async () => {
    // Its own user: the paging tests above spend the trader's request budget.
    const reader = await signUp();
    const { symbol } = await createInstrument(admin);
    await step(symbol, 12);
    // A start past the millisecond is rounded up: rows at that millisecond are before it.
    const rows = (await get<{ trades: { t: string; i: unknown }[] }>(`/v2/stocks/${symbol}/trades?limit=1000&start=2000-01-01`, reader)).trades;
    const firstMs = Date.parse(rows[0]!.t);
    const finerStart = `${new Date(firstMs).toISOString().slice(0, 23)}001Z`;
    const later = (await get<{ trades: { i: unknown }[] }>(`/v2/stocks/${symbol}/trades?limit=1000&start=${finerStart}`, reader)).trades;
    expect(later.map((t) => t.i)).toEqual(rows.filter((t) => Date.parse(t.t) > firstMs).map((t) => t.i));
    expect(later.length).toBeLessThan(rows.length);
    // A token resumes only the query that made it: replayed on another it is refused, not read as a position in other data.
    const first = await get<{ next_page_token: string }>(`/v2/stocks/${symbol}/trades?limit=5&start=2000-01-01`, reader);
    const replay = async (path: string) => (await expectError(await call(`${path}&page_token=${first.next_page_token}`, { token: reader.access }), 422)).message;
    for (const other of [`/v2/stocks/${symbol}/trades?limit=5&start=2000-01-01&sort=desc`, `/v2/stocks/${symbol}/trades?limit=5&start=2001-01-01`, `/v2/stocks/${symbol}/quotes?limit=5&start=2000-01-01`, `/v2/stocks/${symbol}/trades?limit=5`])
      expect(await replay(other), other).toMatch(/^Invalid format for parameter page_token: made for another query/);
    // The same bound written another way, and another limit, are the same query.
    expect((await call(`/v2/stocks/${symbol}/trades?limit=7&start=2000-01-01T00:00:00Z&page_token=${first.next_page_token}`, { token: reader.access })).status).toBe(200);
  });

  it("pages across several symbols in symbol order", async () => {
    const [a, b] = await Promise.all([createInstrument(admin), createInstrument(admin)]);
    await Promise.all([step(a.symbol, 6), step(b.symbol, 6)]);
    const collected: Record<string, number> = {};
    let token: string | null = null;
    let pages = 0;
    do {
      const page: { trades: Record<string, Row[]>; next_page_token: string | null } = await get(
        `/v2/stocks/trades?symbols=${b.symbol},${a.symbol}&limit=4&start=2000-01-01${token ? `&page_token=${token}` : ""}`,
      );
      for (const [s, list] of Object.entries(page.trades)) collected[s] = (collected[s] ?? 0) + list.length;
      token = page.next_page_token;
      pages += 1;
    } while (token && pages < 20);
    expect(collected).toEqual({ [a.symbol]: 6, [b.symbol]: 6 });
  });

  it("answers latest values and snapshots", async () => {
    const { symbol } = await createInstrument(admin);
    await step(symbol, 3);
    const latest = await get<{ symbol: string; trade: Row }>(`/v2/stocks/${symbol}/trades/latest`);
    expect(latest.trade.i).toBe(3);
    const quotes = await get<{ quotes: Record<string, Row> }>(`/v2/stocks/quotes/latest?symbols=${symbol}`);
    expect(quotes.quotes[symbol]).toHaveProperty("bp");
    const snapshot = await get<Row>(`/v2/stocks/${symbol}/snapshot`);
    expect(snapshot).toMatchObject({ latestTrade: { i: 3 }, dailyBar: { n: 3 } });
    const map = await get<Record<string, Row>>(`/v2/stocks/snapshots?symbols=${symbol}`);
    expect(map[symbol]).toMatchObject({ latestTrade: { i: 3 } });
  });

  it("serves crypto in Alpaca's crypto shapes", async () => {
    const { symbol } = await createInstrument(admin, { class: "crypto" });
    await step(symbol, 4);
    const trades = await get<{ trades: Record<string, Row[]> }>(`/v1beta3/crypto/us/trades?symbols=${symbol}&start=2000-01-01`);
    expect(trades.trades[symbol]![0]).toHaveProperty("tks");
    const books = await get<{ orderbooks: Record<string, { a: Row[]; b: Row[] }> }>(`/v1beta3/crypto/us/latest/orderbooks?symbols=${symbol}`);
    expect((books.orderbooks[symbol]!.b[0]!.p as number) < (books.orderbooks[symbol]!.a[0]!.p as number)).toBe(true);
    const snaps = await get<{ snapshots: Record<string, Row> }>(`/v1beta3/crypto/us/snapshots?symbols=${symbol}`);
    expect(snaps.snapshots[symbol]).toHaveProperty("latestQuote");
    // A crypto pair is not a stock.
    await expectError(await call(`/v2/stocks/trades?symbols=${encodeURIComponent(symbol)}`, { token: trader.access }), 422);
  });

  it("refuses bad parameters with Alpaca's wording", async () => {
    const bad = async (path: string) => (await expectError(await call(path, { token: trader.access }), 422)).message;
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=3D")).toMatch(/^Invalid format for parameter timeframe/);
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&start=yesterday")).toMatch(/^Invalid format for parameter start/);
    // Days that do not exist and times without an offset are refused, not rolled over or guessed.
    for (const bound of ["start=2026-02-30", "start=2026-02-30T00:00:00Z", "end=2026-11-31", "start=2026-12-05T10:00:00", "start=2026-12-05T24:00:00Z"])
      expect(await bad(`/v2/stocks/AAPL/bars?timeframe=1Min&${bound}`), bound).toMatch(/^Invalid format for parameter (start|end)/);
    // Microseconds, as Python's isoformat() writes them, and an offset other than Z are taken.
    for (const bound of ["start=2026-12-05T10:00:00.123456Z", "start=2026-12-05T10:00:00%2B01:00", "start=2026-12-05T10:00:00-05:00"])
      expect((await call(`/v2/stocks/AAPL/bars?timeframe=1Min&${bound}`, { token: trader.access })).status, bound).toBe(200);
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&page_token=garbage")).toMatch(/^Invalid format for parameter page_token/);
    // A parameter the route's schema refuses is named in the message, as Alpaca names it.
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&limit=0")).toMatch(/^Invalid format for parameter limit: /);
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&sort=DESC")).toMatch(/^Invalid format for parameter sort: /);
    // A parameter given twice is said to be, not called a bad value.
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&limit=5&limit=6")).toBe("Invalid format for parameter limit: is given more than once; give it once");
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&timeframe=1Hour")).toBe("Invalid format for parameter timeframe: is given more than once; give it once");
    // Alpaca's other parameters: its values are taken, others refused, not ignored.
    expect(await bad("/v2/stocks/AAPL/bars?timeframe=1Min&currency=EUR")).toMatch(/^Invalid format for parameter currency: prices are in USD only/);
    for (const q of ["feed=garbage", "adjustment=bogus", "asof=notadate"]) expect(await bad(`/v2/stocks/AAPL/bars?timeframe=1Min&${q}`), q).toMatch(/^Invalid format for parameter /);
    for (const q of ["feed=iex", "feed=sip", "adjustment=split,dividend", "adjustment=all", "asof=2026-12-01", "currency=USD"])
      expect((await call(`/v2/stocks/AAPL/bars?timeframe=1Min&${q}`, { token: trader.access })).status, q).toBe(200);
    // The latest values and snapshots take the same terms.
    for (const path of ["/v2/stocks/AAPL/trades/latest", "/v2/stocks/bars/latest?symbols=AAPL", "/v2/stocks/AAPL/snapshot", "/v2/stocks/snapshots?symbols=AAPL", "/v1beta3/crypto/us/latest/trades?symbols=BTC/USD"]) {
      const join = path.includes("?") ? "&" : "?";
      expect(await bad(`${path}${join}currency=EUR`), path).toMatch(/^Invalid format for parameter currency: prices are in USD only/);
      // Taken (a symbol with no trade yet answers its 404, not a refusal of the terms); crypto takes no feed (below).
      const terms = path.startsWith("/v1beta3/") ? "currency=USD" : "currency=USD&feed=iex";
      expect([200, 404], path).toContain((await call(`${path}${join}${terms}`, { token: trader.access })).status);
    }
    expect(await bad("/v2/stocks/bars?symbols=NOPE&timeframe=1Min")).toMatch(/^Invalid symbol/);
    // However many symbols are unknown, the error names five and counts the rest.
    const many = Array.from({ length: 500 }, (_, i) => `NOPE${i}`).join(",");
    const error = await expectError(await call(`/v2/stocks/bars?symbols=${many}&timeframe=1Min`, { token: trader.access }), 422);
    expect(error.message).toMatch(/^Invalid symbol: NOPE\d+, NOPE\d+, NOPE\d+, NOPE\d+, NOPE\d+ and 495 more$/);
    expect(JSON.stringify(error).length).toBeLessThan(1_000);
    await expectError(await call("/v2/stocks/NOPE/bars?timeframe=1Min", { token: trader.access }), 422);
    await expectError(await call("/v2/stocks/AAPL/bars?timeframe=1Min"), 401);
  });

  it("refuses an unknown symbol with the same 422 in the path as in symbols= (it was a 404 in the path)", async () => {
    // Its own user: the tests above spend the trader's request budget.
    const user = await signUp();
    for (const path of ["/v2/stocks/ZZZZ/bars?timeframe=1Min", "/v2/stocks/ZZZZ/trades", "/v2/stocks/ZZZZ/quotes", "/v2/stocks/ZZZZ/trades/latest", "/v2/stocks/ZZZZ/quotes/latest", "/v2/stocks/ZZZZ/bars/latest", "/v2/stocks/ZZZZ/snapshot"]) {
      const error = await expectError(await call(path, { token: user.access }), 422);
      expect([error.code, error.message], path).toEqual([42210000, "Invalid symbol: ZZZZ"]);
      expect(error.details, path).toEqual([{ path: "symbol", message: "unknown symbol ZZZZ" }]);
    }
    // A crypto pair is not a stock on a stock path either; the multi-symbol and crypto routes answer the same.
    expect((await expectError(await call("/v2/stocks/BTCUSD/snapshot", { token: user.access }), 422)).message).toBe("Invalid symbol: BTCUSD");
    for (const path of ["/v2/stocks/trades/latest?symbols=AAPL,ZZZZ", "/v2/stocks/snapshots?symbols=ZZZZ", "/v1beta3/crypto/us/latest/trades?symbols=ZZZ/USD", "/v1beta3/crypto/us/bars?symbols=ZZZ/USD&timeframe=1Min"]) {
      const error = await expectError(await call(path, { token: user.access }), 422);
      expect(error.code, path).toBe(42210000);
      expect(error.message, path).toMatch(/^Invalid symbol: ZZZ/);
    }
  });

  it("names the bound the client sent when the bounds are out of order, and the default it ran into", async () => {
    const user = await signUp();
    const refusal = async (path: string) => {
      const error = await expectError(await call(path, { token: user.access }), 422);
      return { message: error.message, paths: error.details.map((d) => d.path) };
    };
    for (const route of ["/v2/stocks/AAPL/bars?timeframe=1Min", "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min", "/v2/stocks/AAPL/trades?limit=5", "/v1beta3/crypto/us/quotes?symbols=BTC/USD"]) {
      // A start alone after now (the default end): about start, not an end never sent.
      expect(await refusal(`${route}&start=2030-01-01T00:00:00Z`), route).toEqual({ message: "Invalid format for parameter start: is after end (now, when end is not given)", paths: ["start"] });
      // An end alone before the start of today (the default start): about end, saying which start.
      const endAlone = await refusal(`${route}&end=2020-01-01T00:00:00Z`);
      expect(endAlone.message, route).toMatch(/^Invalid format for parameter end: is before start \(the start of today in [A-Za-z_/]+, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z, when start is not given\)$/);
      expect(endAlone.paths, route).toEqual(["end"]);
      // Both given: as before.
      expect(await refusal(`${route}&start=2030-01-01T00:00:00Z&end=2020-01-01T00:00:00Z`), route).toEqual({ message: "Invalid format for parameter end: must not be before start", paths: ["end"] });
      // In order inside one millisecond: nothing can be in it, and it is not refused (the rounded bounds crossed).
      const within = await call(`${route}&start=2026-12-05T10:00:00.0001Z&end=2026-12-05T10:00:00.0009Z`, { token: user.access });
      expect(within.status, route).toBe(200);
      const rows = Object.values((await json<Record<string, unknown>>(within)) as Record<string, unknown>).filter((v) => Array.isArray(v) || (typeof v === "object" && v !== null));
      for (const value of rows) expect(Array.isArray(value) ? value : Object.values(value as Record<string, unknown[]>).flat(), route).toEqual([]);
      // Reversed inside one millisecond still is.
      expect((await refusal(`${route}&start=2026-12-05T10:00:00.0009Z&end=2026-12-05T10:00:00.0001Z`)).paths, route).toEqual(["end"]);
    }
  });

  it("refuses a page token whose cursor no page could have ended at (it restarted or skipped)", async () => {
    const reader = await signUp();
    const [a, b] = (await Promise.all([createInstrument(admin), createInstrument(admin)])).map((x) => x.symbol).sort();
    await Promise.all([step(a!, 6), step(b!, 6)]);
    const decode = (token: string) => JSON.parse(atob(token.replace(/-/g, "+").replace(/_/g, "/"))) as { symbol: string; cursor: unknown; query: string };
    const encode = (page: unknown) => btoa(JSON.stringify(page)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const status = async (path: string) => (await call(path, { token: reader.access })).status;
    const refused = async (path: string) => (await expectError(await call(path, { token: reader.access }), 422)).message;

    const one = `/v2/stocks/${a}/trades?limit=2&start=2000-01-01&end=2100-01-01`;
    const issued = (await get<{ next_page_token: string }>(one, reader)).next_page_token;
    const page = decode(issued);
    const [t] = page.cursor as [number, number];
    expect(await status(`${one}&page_token=${issued}`)).toBe(200);
    const forged = [null, [-1, -1], [-9e15, 0], [1e308, 0], [t + 0.5, 0], [t, 0.5], [t, -1], [Date.parse("1999-12-31T00:00:00Z"), 0], [Date.parse("2100-01-02T00:00:00Z"), 0], [Number.MAX_SAFE_INTEGER + 2, 0]];
    for (const cursor of forged)
      expect(await refused(`${one}&page_token=${encode({ ...page, cursor })}`), JSON.stringify(cursor)).toBe("Invalid format for parameter page_token: its cursor is not a position where a page of this query could end");
    // Without a start, the default (today) leaves no cursor before 1970.
    const noStart = `/v2/stocks/${a}/trades?limit=2`;
    const fromToday = decode((await get<{ next_page_token: string }>(noStart, reader)).next_page_token);
    expect(await refused(`${noStart}&page_token=${encode({ ...fromToday, cursor: [-5, 0] })}`)).toMatch(/^Invalid format for parameter page_token: /);

    // No cursor is issued where the limit ran out at a symbol's end: it starts the next symbol, never the first.
    const both = `/v2/stocks/trades?symbols=${a},${b}&limit=6&start=2000-01-01`;
    const first = await get<{ trades: Record<string, Row[]>; next_page_token: string }>(both, reader);
    expect(first.trades[a!]).toHaveLength(6);
    const boundary = decode(first.next_page_token);
    expect(boundary).toMatchObject({ symbol: b, cursor: null });
    const rest = await get<{ trades: Record<string, Row[]> }>(`${both}&page_token=${first.next_page_token}`, reader);
    expect(rest.trades[b!]).toHaveLength(6);
    expect(await refused(`${both}&page_token=${encode({ ...boundary, symbol: a })}`)).toMatch(/^Invalid format for parameter page_token: its cursor/);
  });

  it("serves crypto data without credentials, as Alpaca does, but refuses bad ones", async () => {
    for (const path of ["/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min", "/v1beta3/crypto/us/latest/orderbooks?symbols=BTC/USD", "/v1beta3/crypto/us/snapshots?symbols=BTC/USD"])
      expect((await call(path)).status, path).toBe(200);
    await expectError(await call("/v1beta3/crypto/us/snapshots?symbols=BTC/USD", { headers: { authorization: "Bearer not-a-token" } }), 401);
  });
});

// ---- the OpenAPI document's market-data answers -------------------------------------------

interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}
interface Parameter {
  name: string;
  in: string;
  schema?: JsonSchema;
}
interface Operation {
  parameters?: Parameter[];
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

const isMarketDataPath = (path: string) => path.startsWith("/v2/stocks/") || path.startsWith("/v1beta3/crypto/us/");
const jsonType = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value);

/**
 * Where a JSON value departs from a schema of the document: a key the schema does not
 * document, a required key missing, a wrong type or value, an item of a list or map that
 * does not conform. An object schema that documents neither properties nor its map's
 * values describes nothing and is a departure too. `seen` collects the named schemas a
 * value was checked against (with anything but null), so a test can tell none went unchecked.
 */
function departures(doc: OpenApiDoc, schema: JsonSchema, value: unknown, at: string, seen: Set<string>): string[] {
  if (schema.$ref) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    const target = doc.components.schemas[name];
    if (!target) return [`${at}: ${schema.$ref} is not in the document`];
    const found = departures(doc, target, value, at, seen);
    if (found.length === 0 && value !== null) seen.add(name);
    return found;
  }
  for (const alternatives of [schema.anyOf, schema.oneOf]) {
    if (!alternatives) continue;
    const tries = alternatives.map((s) => {
      const tried = new Set<string>();
      return { found: departures(doc, s, value, at, tried), tried };
    });
    const fits = tries.find((t) => t.found.length === 0);
    if (!fits) return [`${at}: fits none of its alternatives (${tries.map((t) => t.found.join("; ")).join(" | ")})`];
    for (const name of fits.tried) seen.add(name);
    return [];
  }
  if (schema.allOf) return schema.allOf.flatMap((s) => departures(doc, s, value, at, seen));
  const actual = jsonType(value);
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length === 0) return [`${at}: its schema gives no type`];
  if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return [`${at}: is ${actual}, documented ${types.join(" or ")}`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`];
  if (actual === "array") {
    if (!schema.items) return [`${at}: a list whose items are not described`];
    return (value as unknown[]).flatMap((item, i) => departures(doc, schema.items!, item, `${at}[${i}]`, seen));
  }
  if (actual !== "object") return [];
  const record = value as Record<string, unknown>;
  const extra = typeof schema.additionalProperties === "object" && Object.keys(schema.additionalProperties).length > 0 ? schema.additionalProperties : undefined;
  if (!schema.properties && !extra) return [`${at}: an object whose shape is not described`];
  const found: string[] = [];
  for (const key of schema.required ?? []) if (!(key in record)) found.push(`${at}: lacks the required ${key}`);
  for (const [key, item] of Object.entries(record)) {
    const property = schema.properties?.[key] ?? extra;
    if (property) found.push(...departures(doc, property, item, `${at}.${key}`, seen));
    else found.push(`${at}: has ${key}, which is not documented`);
  }
  return found;
}

describe("the OpenAPI document's market-data answers", () => {
  it("describe every route's 200 body as a named schema its real answers fit, for stocks and crypto", async () => {
    const user = await signUp();
    const doc = await json<OpenApiDoc>(await call("/openapi.json"));
    const [stock, idle, pair, idlePair] = await Promise.all([
      createInstrument(admin),
      createInstrument(admin, { feed: { kind: "none" } }),
      createInstrument(admin, { class: "crypto" }),
      createInstrument(admin, { class: "crypto", feed: { kind: "none" } }),
    ]);
    await Promise.all([step(stock.symbol, 4), step(pair.symbol, 4)]);
    const S = stock.symbol;
    const E = idle.symbol;
    const C = encodeURIComponent(pair.symbol);
    const CE = encodeURIComponent(idlePair.symbol);
    const from = "start=2000-01-01";

    // [the documented path, a real request to it]: every kind of answer, with data and
    // without (empty lists, null records, absent symbols), on the last page and not.
    const requests: [string, string][] = [];
    for (const d of ["bars", "trades", "quotes"] as const) {
      const tf = d === "bars" ? "timeframe=1Min&" : "";
      requests.push(
        [`/v2/stocks/{symbol}/${d}`, `/v2/stocks/${S}/${d}?${tf}${from}`],
        [`/v2/stocks/{symbol}/${d}`, `/v2/stocks/${S}/${d}?${tf}${from}&limit=1`],
        [`/v2/stocks/{symbol}/${d}`, `/v2/stocks/${E}/${d}?${tf}${from}`],
        [`/v2/stocks/${d}`, `/v2/stocks/${d}?symbols=${S},${E}&${tf}${from}`],
        [`/v2/stocks/${d}`, `/v2/stocks/${d}?symbols=${S},${E}&${tf}${from}&limit=1`],
        [`/v1beta3/crypto/us/${d}`, `/v1beta3/crypto/us/${d}?symbols=${C},${CE}&${tf}${from}`],
        [`/v1beta3/crypto/us/${d}`, `/v1beta3/crypto/us/${d}?symbols=${C},${CE}&${tf}${from}&limit=1`],
        [`/v2/stocks/{symbol}/${d}/latest`, `/v2/stocks/${S}/${d}/latest`],
        [`/v2/stocks/${d}/latest`, `/v2/stocks/${d}/latest?symbols=${S},${E}`],
        [`/v1beta3/crypto/us/latest/${d}`, `/v1beta3/crypto/us/latest/${d}?symbols=${C},${CE}`],
      );
    }
    requests.push(
      ["/v1beta3/crypto/us/latest/orderbooks", `/v1beta3/crypto/us/latest/orderbooks?symbols=${C},${CE}`],
      ["/v2/stocks/{symbol}/snapshot", `/v2/stocks/${S}/snapshot`],
      ["/v2/stocks/{symbol}/snapshot", `/v2/stocks/${E}/snapshot`],
      ["/v2/stocks/snapshots", `/v2/stocks/snapshots?symbols=${S},${E}`],
      ["/v1beta3/crypto/us/snapshots", `/v1beta3/crypto/us/snapshots?symbols=${C},${CE}`],
    );

    // Every market-data route of the document is called here, and each names its answer.
    const documented = Object.keys(doc.paths).filter(isMarketDataPath).sort();
    expect(documented.length).toBeGreaterThanOrEqual(22);
    expect([...new Set(requests.map(([path]) => path))].sort()).toEqual(documented);

    const seen = new Set<string>();
    const bodies = new Map<string, Row>();
    for (const [path, url] of requests) {
      const schema = doc.paths[path]!.get!.responses["200"]!.content!["application/json"]!.schema;
      expect(schema.$ref, path).toMatch(/^#\/components\/schemas\/\w+$/);
      const body = await get(url, user);
      bodies.set(url, body);
      expect(departures(doc, schema, body, url, seen), url).toEqual([]);
    }
    // The answers held what the document describes: records of every kind, null records
    // and tokens of both kinds. (Had a list been empty, its item schema would be unchecked.)
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(["CryptoOrderbook", "CryptoOrderbookLevel", "CryptoQuote", "CryptoSnapshot", "CryptoTrade", "MarketBar", "StockQuote", "StockSnapshot", "StockSymbolSnapshot", "StockTrade"]),
    );
    expect(bodies.get(`/v2/stocks/${E}/snapshot`)).toMatchObject({ symbol: E, latestTrade: null, dailyBar: null });
    expect(bodies.get(`/v2/stocks/${S}/trades?${from}&limit=1`)!.next_page_token).toEqual(expect.any(String));
    expect(bodies.get(`/v2/stocks/${S}/trades?${from}`)!.next_page_token).toBeNull();
    expect((bodies.get(`/v1beta3/crypto/us/trades?symbols=${C},${CE}&${from}`)!.trades as Record<string, Row[]>)[pair.symbol]!.length).toBeGreaterThan(0);
  });

  it("describes the records exactly, so a key added or dropped on either side is found", async () => {
    const doc = await json<OpenApiDoc>(await call("/openapi.json"));
    const keys = (name: string) => ({ properties: Object.keys(doc.components.schemas[name]!.properties ?? {}).sort(), required: [...(doc.components.schemas[name]!.required ?? [])].sort() });
    const all = (...k: string[]) => ({ properties: k.sort(), required: k.sort() });
    expect(keys("MarketBar")).toEqual(all("t", "o", "h", "l", "c", "v", "n", "vw"));
    expect(keys("StockTrade")).toEqual(all("t", "x", "p", "s", "c", "i", "z"));
    expect(keys("CryptoTrade")).toEqual(all("t", "p", "s", "tks", "i"));
    expect(keys("StockQuote")).toEqual(all("t", "ax", "ap", "as", "bx", "bp", "bs", "c", "z"));
    expect(keys("CryptoQuote")).toEqual(all("t", "bp", "bs", "ap", "as"));
    expect(keys("StockSnapshot")).toEqual(all("latestTrade", "latestQuote", "minuteBar", "dailyBar", "prevDailyBar"));
    expect(keys("StockSymbolBars")).toEqual(all("symbol", "bars", "next_page_token"));
    expect(keys("CryptoLatestTrades")).toEqual(all("trades"));
    // The checker itself: a record with a key more, or one less, departs from its schema.
    const bar = { t: "2024-01-02T15:04:00.000Z", o: 1, h: 1, l: 1, c: 1, v: 1, n: 1, vw: 1 };
    const ref = { $ref: "#/components/schemas/MarketBar" };
    expect(departures(doc, ref, bar, "bar", new Set())).toEqual([]);
    expect(departures(doc, ref, { ...bar, x: "V" }, "bar", new Set())).toEqual(["bar: has x, which is not documented"]);
    const { vw: _, ...withoutVw } = bar;
    expect(departures(doc, ref, withoutVw, "bar", new Set())).toEqual(["bar: lacks the required vw"]);
    expect(departures(doc, { type: "object", additionalProperties: {} }, {}, "body", new Set())).toEqual(["body: an object whose shape is not described"]);
  });
});

describe("crypto data takes no feed", () => {
  const refusal = "Invalid format for parameter feed: crypto data takes no feed (its location is the path's /us)";
  const CRYPTO_ROUTES = [
    "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Min",
    "/v1beta3/crypto/us/trades?symbols=BTC/USD",
    "/v1beta3/crypto/us/quotes?symbols=BTC/USD",
    "/v1beta3/crypto/us/latest/bars?symbols=BTC/USD",
    "/v1beta3/crypto/us/latest/trades?symbols=BTC/USD",
    "/v1beta3/crypto/us/latest/quotes?symbols=BTC/USD",
    "/v1beta3/crypto/us/latest/orderbooks?symbols=BTC/USD",
    "/v1beta3/crypto/us/snapshots?symbols=BTC/USD",
  ];

  it("refuses a feed on every crypto route, saying why, and answers without one", async () => {
    const user = await signUp();
    // It was checked against the stock feeds: "us" was refused as not one of sip, iex…, and iex was taken.
    const error = await expectError(await call("/v1beta3/crypto/us/latest/bars?symbols=BTC/USD&feed=us", { token: user.access }), 422);
    expect([error.code, error.message, error.details]).toEqual([42210000, refusal, [{ path: "feed", message: "crypto data takes no feed (its location is the path's /us)" }]]);
    for (const route of CRYPTO_ROUTES) {
      for (const feed of ["us", "iex", ""]) expect((await expectError(await call(`${route}&feed=${feed}`, { token: user.access }), 422)).message, `${route} feed=${feed}`).toBe(refusal);
      expect((await call(route, { token: user.access })).status, route).toBe(200);
    }
    // Without credentials too (crypto data is public).
    expect((await expectError(await call("/v1beta3/crypto/us/snapshots?symbols=BTC/USD&feed=us"), 422)).message).toBe(refusal);
    // Stocks still take Alpaca's feeds.
    expect((await call("/v2/stocks/bars/latest?symbols=AAPL&feed=iex", { token: user.access })).status).toBe(200);
    // The other stock-only terms are refused by name too (the schema would have dropped them unseen).
    expect((await expectError(await call(`${CRYPTO_ROUTES[0]}&adjustment=split`, { token: user.access }), 422)).message).toBe("Invalid format for parameter adjustment: crypto data has no corporate actions to adjust for");
    expect((await expectError(await call(`${CRYPTO_ROUTES[1]}&asof=2026-12-01`, { token: user.access }), 422)).message).toBe("Invalid format for parameter asof: crypto pairs are not renamed: asof is for stocks");
  });

  it("documents no feed on the crypto routes, and the stock feeds on the stock routes", async () => {
    const doc = await json<OpenApiDoc>(await call("/openapi.json"));
    const feedOf = (path: string) => doc.paths[path]!.get!.parameters?.find((p) => p.in === "query" && p.name === "feed");
    const paths = Object.keys(doc.paths).filter(isMarketDataPath);
    const crypto = paths.filter((p) => p.startsWith("/v1beta3/"));
    expect(crypto.sort()).toEqual(CRYPTO_ROUTES.map((r) => r.split("?")[0]).sort());
    for (const path of crypto) {
      expect(feedOf(path), path).toBeUndefined();
      const names = (doc.paths[path]!.get!.parameters ?? []).map((p) => p.name);
      expect(names, path).not.toContain("adjustment");
      expect(names, path).not.toContain("asof");
    }
    for (const path of paths.filter((p) => p.startsWith("/v2/"))) expect(feedOf(path)?.schema?.enum, path).toEqual(["sip", "iex", "otc", "boats", "overnight", "delayed_sip"]);
  });
});

const CSV = [
  "timestamp,open,high,low,close,volume",
  "2024-01-02T14:30:00Z,100.00,101.00,99.50,100.50,100",
  "2024-01-02T14:31:00Z,100.50,102.00,100.00,101.50,200",
  "2024-01-02T14:35:00Z,101.50,101.50,100.00,100.25,50",
  "2024-01-03T14:30:00Z,99.00,99.50,98.00,98.50,10",
].join("\n");

describe("history import", () => {
  it("stores the bars and rebuilds the coarser timeframes; other timeframes roll up on demand", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    const res = await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { token: admin.access, rawBody: CSV, headers: { "content-type": "text/csv" } });
    expect(await json(res)).toMatchObject({ imported: 4, rebuilt: ["5Min", "15Min", "1Hour", "1Day"] });
    const q = `start=2024-01-01&end=2024-01-31`;
    const minute = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=1Min&${q}`);
    expect(minute.bars.map((b) => b.c)).toEqual([100.5, 101.5, 100.25, 98.5]);
    const five = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=5Min&${q}`);
    expect(five.bars[0]).toMatchObject({ t: "2024-01-02T14:30:00.000Z", o: 100, h: 102, l: 99.5, c: 101.5, v: 300 });
    expect(five.bars[1]).toMatchObject({ t: "2024-01-02T14:35:00.000Z", o: 101.5, c: 100.25, v: 50 });
    const days = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=1Day&${q}`);
    // New York midnight in winter is 05:00 UTC.
    expect(days.bars.map((b) => [b.t, b.o, b.h, b.l, b.c, b.v]), JSON.stringify(days.bars)).toEqual([
      ["2024-01-02T05:00:00.000Z", 100, 102, 99.5, 100.25, 350],
      ["2024-01-03T05:00:00.000Z", 99, 99.5, 98, 98.5, 10],
    ]);
    const week = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=1Week&${q}`);
    expect(week.bars).toHaveLength(1);
    expect(week.bars[0]).toMatchObject({ o: 100, h: 102, l: 98, c: 98.5, v: 360 });
    const twoMin = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=2Min&${q}`);
    expect(twoMin.bars.map((b) => b.v)).toEqual([300, 50, 10]);
  });

  it("rejects a malformed file with line numbers and stores nothing", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    const bad = ["timestamp,open,high,low,close,volume", "2024-01-02T14:30:00Z,100.00,101.00,99.50,100.50,100", "2024-01-02T14:31:00Z,100.50,99.00,100.00,101.50,200", "not-a-time,1,1,1,1,1", "2024-01-02T14:33:00Z,100.001,101,100,100,1"].join("\n");
    const error = await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: admin.access, rawBody: bad, headers: { "content-type": "text/csv" } }), 422);
    expect([...new Set(error.details.map((d) => d.path))]).toEqual(["line 3", "line 4", "line 5"]);
    const bars = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=1Min&start=2024-01-01&end=2024-01-31`);
    expect(bars.bars).toEqual([]);
  });

  it("refuses bars dated after the import, naming their lines, so they never become the daily bar or previous close", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    const minute = 60_000;
    const lastMinute = new Date(Math.floor(Date.now() / minute) * minute - minute);
    const tomorrow = new Date(Math.floor(Date.now() / minute) * minute + 86_400_000);
    const text = ["timestamp,open,high,low,close,volume", `${lastMinute.toISOString()},100.00,101.00,99.50,100.50,100`, `${tomorrow.toISOString()},500.00,500.00,500.00,500.00,1`].join("\n");
    const error = await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: admin.access, rawBody: text, headers: { "content-type": "text/csv" } }), 422);
    expect(error.details).toEqual([{ path: "line 3", message: expect.stringContaining("is in the future") }]);
    const bars = await get<{ bars: Row[] }>(`/v2/stocks/${asset.symbol}/bars?timeframe=1Min&start=${lastMinute.toISOString().slice(0, 10)}&end=${new Date(tomorrow.getTime() + 86_400_000).toISOString()}`);
    expect(bars.bars).toEqual([]);
  });

  it("takes CSV only, from admins only", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: admin.access, body: { csv: CSV } }), 415);
    // CSV sent as plain text or with no type at all is still not an import.
    await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: admin.access, rawBody: CSV, headers: { "content-type": "text/plain" } }), 415);
    await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: admin.access, rawBody: new TextEncoder().encode(CSV) }), 415);
    await expectError(await call(`/api/admin/assets/${asset.id}/history`, { token: trader.access, rawBody: CSV, headers: { "content-type": "text/csv" } }), 403);
  });
});

describe("a replay feed", () => {
  it("plays stored bars back as trades at their open, extremes and close", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { token: admin.access, rawBody: CSV, headers: { "content-type": "text/csv" } });
    const patched = await call(`/api/admin/assets/${asset.id}`, { method: "PATCH", token: admin.access, body: { feed: { kind: "replay", timeframe: "1Min", speed: 10_000_000, loop: false } } });
    expect(patched.status).toBe(200);
    // At this speed a day of history passes in under 9 ms of wall time.
    for (let i = 0; i < 40; i++) {
      await step(asset.symbol);
      await new Promise((r) => setTimeout(r, 5));
    }
    const { trades } = await get<{ trades: { p: number }[] }>(`/v2/stocks/${asset.symbol}/trades?limit=100&start=2000-01-01`);
    expect(trades.slice(0, 4).map((t) => t.p)).toEqual([100, 99.5, 101, 100.5]);
    expect(trades.slice(4, 8).map((t) => t.p)).toEqual([100.5, 100, 102, 101.5]);
    expect(trades).toHaveLength(16);
  });

  it("loops over the same history, never over its own prints", async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { token: admin.access, rawBody: CSV, headers: { "content-type": "text/csv" } });
    await call(`/api/admin/assets/${asset.id}`, { method: "PATCH", token: admin.access, body: { feed: { kind: "replay", timeframe: "1Min", speed: 10_000_000, loop: true } } });
    const play = async () => {
      for (let i = 0; i < 20; i++) {
        await step(asset.symbol);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await play();
    // A pass ends with a one-second pause before the next.
    await new Promise((r) => setTimeout(r, 1100));
    await play();
    const { trades } = await get<{ trades: { p: number }[] }>(`/v2/stocks/${asset.symbol}/trades?limit=10000&start=2000-01-01`);
    // Every pass prints the same 16 prices; a pass that replayed the replay's own bars
    // would print others.
    expect(trades.length).toBeGreaterThanOrEqual(32);
    const first = trades.slice(0, 16).map((t) => t.p);
    for (let i = 0; i + 16 <= trades.length; i += 16) expect(trades.slice(i, i + 16).map((t) => t.p)).toEqual(first);
  });
});
