import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { equityValues } from "../shared/strategy/metrics";
import { metricsView, packBars } from "../shared/schemas/backtests";
import { runBacktest, type BacktestPart, type BacktestResult } from "../shared/strategy/backtest";
import { formatMoney } from "../shared/trading/money";
import type { StrategyBar } from "../shared/strategy/runtime";
import { TEMPLATES } from "../shared/strategy/templates";
import { tradingConfig } from "../shared/trading/config";
import { call, expectError, json, restartObject, signUp, until, type TestUser } from "./helpers";
import { csvLine } from "../workers/lib/backtests";
import { COIN, seededBars } from "./strategy/helpers";
import type { BacktestJob } from "../durable-objects/backtest/backtest-job";
import { JobStore } from "../durable-objects/backtest/store";
import { activeRuns, failUnstartedBacktests, longQueued, UNSTARTED_AFTER_MS } from "../workers/lib/backtests";

// Backtests as jobs through the API: the platform's result is the in-process backtester's
// on the same bars, progress reaches the end, a cancel stops a run, a restarted object
// finishes with the same result, the socket hears progress, optimizations rank their runs.

interface View {
  id: string;
  status: string;
  symbol: string;
  bars_done: number;
  bars_total: number;
  error: string | null;
  metrics: Record<string, number | string | null> | null;
  params: Record<string, unknown>;
}
interface ResultJson {
  metrics: Record<string, unknown>;
  equity: { t: string; equity: string }[];
  drawdown: { t: string; drawdown: number }[];
  fills: Record<string, unknown>[];
  fills_total: number;
  orders_total: number;
  series_points_total: number;
  downsampled: boolean;
}

const PARAMS = { fast: 5, slow: 20 };
const UNLISTED = { symbol: COIN.symbol, tick_size: COIN.tickSize, lot_size: COIN.lotSize };
const MINUTE = 60_000;

let user: TestUser;
beforeAll(async () => {
  user = await signUp();
});

const post = (path: string, body: unknown, who: TestUser = user) => call(path, { body, token: who.access, ip: who.ip });
const get = (path: string, who: TestUser = user) => call(path, { token: who.access, ip: who.ip });
const view = async (id: string) => json<View>(await get(`/api/backtests/${id}`));
// Waiting asks the job object itself, so polling spends none of the caller's rate limit.
const job = (id: string) => env.BACKTEST.getByName(id);
async function finished(id: string, timeoutMs = 20_000): Promise<View> {
  await until(async () => !["queued", "running"].includes((await job(id).status()).status), `backtest ${id} to finish`, timeoutMs);
  // The D1 row is written right after the object's state.
  return until(async () => {
    const v = await view(id);
    return v.status !== "queued" && v.status !== "running" ? v : undefined;
  }, `backtest ${id}'s row to finish`);
}

const asJsonBars = (bars: StrategyBar[]) => bars.map((b) => ({ ...b, t: new Date(b.t).toISOString() }));

/** Minute bars (the CSV upload refuses bars that start in the future, and hours would reach past today). */
function minuteBars(count: number, seed: number): StrategyBar[] {
  const start = Date.UTC(2025, 0, 1);
  return seededBars(count, seed).bars.map((b, i) => ({ ...b, t: start + i * MINUTE }));
}
const csvOf = (bars: StrategyBar[]) => ["timestamp,open,high,low,close,volume", ...bars.map((b) => `${new Date(b.t).toISOString()},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");

/** Uploads bars as CSV; the MA cross template unless the query names a saved `strategy_id`. */
function uploadCsv(bars: StrategyBar[] | string | ReadableStream<Uint8Array>, query: Record<string, string> = {}) {
  const strategy: Record<string, string> = "strategy_id" in query ? {} : { template: "ma-cross", params: JSON.stringify(PARAMS) };
  const q = new URLSearchParams({ ...UNLISTED, timeframe: "1Min", ...strategy, ...query });
  return call(`/api/backtests/csv?${q}`, { rawBody: Array.isArray(bars) ? csvOf(bars) : bars, headers: { "content-type": "text/csv" }, token: user.access, ip: user.ip });
}

/** The same run in this process, on the platform's venue terms. */
function inProcess(bars: StrategyBar[]): Promise<BacktestResult> {
  const { venue, limits } = tradingConfig(env);
  return runBacktest({ strategy: TEMPLATES.get("ma-cross")!.create(), bars, spec: COIN, params: PARAMS, cash: "100000", venue, limits, halfSpreadTicks: 0 });
}

const result = async (id: string) => json<ResultJson>(await get(`/api/backtests/${id}/result`));

/** A saved code strategy (run in the sandbox), written as the strategies API stores one. */
async function savedStrategy(code: string): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO strategies (id, user_id, name, kind, symbol, timeframe, params, current_version, updated_at) VALUES (?, ?, ?, 'code', ?, '1Min', '{}', 1, ?)").bind(id, user.id, `s-${id}`, COIN.symbol, Date.now()),
    env.DB.prepare("INSERT INTO strategy_versions (strategy_id, version, params, source, compiled, language) VALUES (?, 1, '{}', ?, ?, 'js')").bind(id, code, code),
  ]);
  return id;
}

describe("the CSV downloads", () => {
  it("keep a text cell a spreadsheet would run as a formula as text, and numbers as numbers (security review)", () => {
    expect(csvLine(["=HYPERLINK(1)", "+1+1", "@SUM(A1)", "-5", "-1.5e-7", "12.50", "AAPL", 'a "b", c'])).toBe(`'=HYPERLINK(1),'+1+1,'@SUM(A1),-5,-1.5e-7,12.50,AAPL,"a ""b"", c"\n`);
  });
});

describe("a template backtest over posted bars", () => {
  it("gives the in-process backtester's metrics and fills, and its progress reaches the total", async () => {
    const { bars } = seededBars(300, 11);
    const res = await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Hour", bars: asJsonBars(bars) });
    expect(res.status).toBe(201);
    const created = await json<View>(res);
    expect(created.params).toMatchObject({ ...PARAMS, sizing: "all_in" });
    const done = await finished(created.id);
    expect(done).toMatchObject({ status: "done", bars_done: 300, bars_total: 300, error: null });

    const expected = await inProcess(bars);
    expect(expected.fills.length).toBeGreaterThan(0);
    expect(done.metrics).toEqual(metricsView(expected.metrics));
    const report = await result(created.id);
    expect(report.metrics).toEqual(metricsView(expected.metrics));
    expect(report.fills).toEqual(expected.fills);
    expect(report.fills_total).toBe(expected.fills.length);
    expect(report.orders_total).toBe(expected.orders.length);
    expect(report.equity.map((p) => p.equity)).toEqual(equityValues(expected.equity).map((e) => formatMoney(e)));
    expect(report.downsampled).toBe(false);
    expect(Math.max(...report.drawdown.map((p) => p.drawdown))).toBeCloseTo(expected.metrics.maxDrawdown!, 12);
  });

  it("offers the fills and the equity curve as CSV downloads", async () => {
    const { bars } = seededBars(300, 11);
    const { id } = await json<View>(await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, bars: asJsonBars(bars) }));
    await finished(id);
    const report = await result(id);
    const fills = await get(`/api/backtests/${id}/fills.csv`);
    expect(fills.status).toBe(200);
    expect(fills.headers.get("content-disposition")).toBe(`attachment; filename="backtest-${id}-fills.csv"`);
    const lines = (await fills.text()).trim().split("\n");
    expect(lines[0]).toBe("transaction_time,symbol,side,qty,price,fee,liquidity,type,order_id,execution_id,leaves_qty,cum_qty,realized_pl");
    expect(lines.length).toBe(report.fills.length + 1);
    const first = report.fills[0]!;
    expect(lines[1]).toBe([first.transaction_time, first.symbol, first.side, first.qty, first.price, first.fee, first.liquidity, first.type, first.order_id, first.execution_id, first.leaves_qty, first.cum_qty, first.realized_pl].join(","));
    const equity = await get(`/api/backtests/${id}/equity.csv`);
    expect(equity.headers.get("content-disposition")).toContain("equity.csv");
    // Whole here; a long run's file is thinned, and the header says how far (QA).
    expect(equity.headers.get("x-redfire-series")).toBe("300 of 300 points");
    expect((await equity.text()).trim().split("\n").length).toBe(301);
    // An id in capitals is the same id (found in QA: 404 for the owner's own run).
    expect((await view(id.toUpperCase())).id).toBe(id);
    expect((await get(`/api/backtests/${id.toUpperCase()}/fills.csv`)).status).toBe(200);
  });

  it("streams a fills CSV of many pages whole, in order, equal to the run's fills", async () => {
    // A buy on every bar: 4,999 fills, more than two of the download's pages of 2,000.
    const bars = minuteBars(5_000, 12);
    const res = await uploadCsv(bars, { template: "dca", params: JSON.stringify({ every: 1, notional: 10 }) });
    expect(res.status).toBe(201);
    const { id } = await json<View>(res);
    await finished(id, 60_000);
    const report = await result(id);
    expect(report.fills_total).toBe(4_999);
    const csv = await get(`/api/backtests/${id}/fills.csv`);
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.length).toBe(4_999 + 1);
    const executions = lines.slice(1).map((l) => l.split(",")[9]);
    expect(new Set(executions).size).toBe(4_999);
    expect(executions).toEqual(report.fills.map((f) => f.execution_id));
  });
});

describe("long runs", () => {
  it("a cancel stops a long run before its end", async () => {
    const res = await uploadCsv(minuteBars(60_000, 5));
    expect(res.status).toBe(201);
    const { id, bars_total } = await json<View>(res);
    expect(bars_total).toBe(60_000);
    await until(async () => (await job(id).status()).status === "running", "the run to start");
    // Three at once: each answers where the run stopped (found in QA: two answered the row's
    // count of a second before, the first's count not yet written).
    const answers = await Promise.all([0, 1, 2].map(async () => json<View>(await post(`/api/backtests/${id}/cancel`, {}))));
    expect(answers.map((a) => a.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
    const cancelled = answers[0]!;
    for (const a of answers) expect(a.bars_done).toBe(cancelled.bars_done);
    await new Promise((r) => setTimeout(r, 500));
    const after = await view(id);
    expect(after.status).toBe("cancelled");
    expect(after.bars_done).toBeLessThan(after.bars_total);
    // The row counts the bars the job played (its last report, which the socket got), not
    // the progress report before the cancel.
    const played = (await job(id).status()).bars_done;
    expect(played).toBeGreaterThan(0);
    expect(after.bars_done).toBe(played);
    // The cancel's answer already said where the run stopped (found in QA: the row's last report, a second old).
    expect(cancelled.bars_done).toBe(played);
    expect((await expectError(await get(`/api/backtests/${id}/result`), 409)).message).toBe("backtest was cancelled: it has no results; start a new backtest");
  });

  it("a cancel of user code in the sandbox stops the run before its end", async () => {
    // Buys one unit on the third bar and sells it on the tenth: the sandbox plays the 150,000
    // bars (75 chunks) in about a second here, and the cancel lands within a few chunks.
    const code = `export default {\n  onBar(bar, ctx) {\n    const n = (ctx.state.n ?? 0) + 1;\n    ctx.state = { n };\n    if (n === 3) ctx.buy({ qty: 1 });\n    if (n === 10) ctx.sell({ qty: 1 });\n  },\n};\n`;
    const res = await uploadCsv(minuteBars(150_000, 9), { strategy_id: await savedStrategy(code) });
    expect(res.status).toBe(201);
    const { id, ...created } = await json<View & { kind: string }>(res);
    expect(created).toMatchObject({ kind: "code", bars_total: 150_000 });
    await until(async () => (await job(id).status()).bars_done > 0, "the run to be under way", 20_000);
    const cancelled = await json<View>(await post(`/api/backtests/${id}/cancel`, {}));
    expect(cancelled.status).toBe("cancelled");
    const stopped = await finished(id);
    expect(stopped.status).toBe("cancelled");
    const state = await job(id).status();
    expect(state.status).toBe("cancelled");
    expect(state.bars_done).toBeLessThan(state.bars_total);
    // Nothing played after the cancel answered (found in QA: bars_done grew after "cancelled").
    expect([cancelled.bars_done, stopped.bars_done]).toEqual([state.bars_done, state.bars_done]);
    await expectError(await get(`/api/backtests/${id}/result`), 409);
  }, 60_000);

  it("a cancel marked only in the row stops the run at its next progress report", async () => {
    // The row is the cancel's record: a job whose cancel call never arrives still stops at
    // its next report.
    const { id } = await json<View>(await uploadCsv(minuteBars(80_000, 6)));
    await until(async () => (await job(id).status()).bars_done > 0, "the run to be under way");
    await env.DB.prepare("UPDATE backtests SET status = 'cancelled' WHERE id = ?").bind(id).run();
    const stopped = await until(async () => {
      const s = await job(id).status();
      return s.status !== "running" ? s : undefined;
    }, "the job to stop");
    expect(stopped.status).toBe("cancelled");
    expect(stopped.bars_done).toBeLessThan(80_000);
    await until(async () => (await view(id)).bars_done === stopped.bars_done || undefined, "the row to count the bars the job played");
  });

  it("a cancel marked only in the row stops a run of user code at its next progress report", async () => {
    // The report, about once a second, is where a code run sees the row's mark: a strategy
    // slow enough (a busy loop a bar) that the run outlasts several reports.
    const code = `export default {\n  onBar(bar, ctx) {\n    let x = 0;\n    for (let i = 0; i < 20000; i++) x += i;\n    ctx.state = { x };\n  },\n};\n`;
    const { id } = await json<View>(await uploadCsv(minuteBars(150_000, 10), { strategy_id: await savedStrategy(code) }));
    await until(async () => (await job(id).status()).bars_done > 0, "the run to be under way", 20_000);
    await env.DB.prepare("UPDATE backtests SET status = 'cancelled' WHERE id = ?").bind(id).run();
    const stopped = await until(
      async () => {
        const s = await job(id).status();
        return s.status !== "running" ? s : undefined;
      },
      "the job to stop",
      30_000,
    );
    expect(stopped.status).toBe("cancelled");
    expect(stopped.bars_done).toBeLessThan(150_000);
  }, 60_000);

  it("an object restarted mid-run starts again and finishes with the same result", async () => {
    // Long enough to be seen mid-run between two polls (12,000 bars once ran from start to
    // end between them).
    const bars = minuteBars(60_000, 8);
    const { id } = await json<View>(await uploadCsv(bars));
    const stub = env.BACKTEST.getByName(id);
    await until(async () => {
      const s = await stub.status();
      return s.bars_done > 0 && s.bars_done < s.bars_total;
    }, "the run to be under way");
    await restartObject(stub);
    const done = await finished(id, 30_000);
    expect(done.status).toBe("done");
    const expected = await inProcess(bars);
    const report = await result(id);
    expect(report.metrics).toEqual(metricsView(expected.metrics));
    expect(report.fills).toEqual(expected.fills);
  });
});

describe("the owner's socket", () => {
  it("a socket listening to backtest_updates hears the progress and the final update", async () => {
    const res = await call("/stream", { headers: { upgrade: "websocket" }, token: user.access, ip: user.ip });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const frames: { stream: string; data: { id?: string; status?: string; bars_done?: number; streams?: string[]; metrics?: unknown } }[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string) as (typeof frames)[number]);
    });
    ws.send(JSON.stringify({ action: "listen", data: { streams: ["trade_updates", "backtest_updates", "nonsense"] } }));
    await until(async () => frames.find((f) => f.stream === "listening"), "listening");
    expect(frames.find((f) => f.stream === "listening")!.data.streams).toEqual(["trade_updates", "backtest_updates"]);

    const { id } = await json<View>(await uploadCsv(minuteBars(8_000, 3)));
    const mine = () => frames.filter((f) => f.stream === "backtest_updates" && f.data.id === id);
    const last = await until(async () => mine().find((f) => f.data.status === "done"), "the final update", 20_000);
    expect(mine().some((f) => f.data.status === "running")).toBe(true);
    expect(last.data).toMatchObject({ bars_done: 8_000, bars_total: 8_000 });
    expect(last.data.metrics).toEqual((await view(id)).metrics);
    ws.close();
  });
});

describe("access and bad input", () => {
  it("someone else's backtest is not found, in every form", async () => {
    const { bars } = seededBars(60, 2);
    const { id } = await json<View>(await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, bars: asJsonBars(bars) }));
    await finished(id);
    const other = await signUp();
    for (const path of [`/api/backtests/${id}`, `/api/backtests/${id}/result`, `/api/backtests/${id}/fills.csv`, `/api/backtests/${id}/equity.csv`]) await expectError(await get(path, other), 404);
    await expectError(await post(`/api/backtests/${id}/cancel`, {}, other), 404);
    expect((await json<View[]>(await get("/api/backtests", other))).map((b) => b.id)).not.toContain(id);
    expect((await json<View[]>(await get("/api/backtests"))).map((b) => b.id)).toContain(id);
  });

  it("refuses what cannot run with a 4xx and records nothing", async () => {
    const { bars } = seededBars(40, 2);
    const base = { template: "ma-cross", params: PARAMS, ...UNLISTED, bars: asJsonBars(bars) };
    const before = (await json<View[]>(await get("/api/backtests?limit=500"))).length;
    const unknown = await expectError(await post("/api/backtests", { ...base, template: "moon-phase" }), 422);
    expect(unknown.message).toContain("unknown template");
    const badParams = await expectError(await post("/api/backtests", { ...base, params: { fast: 30, slow: 10 } }), 422);
    expect(badParams.details[0]?.path).toBe("params.fast");
    // A grid whose lines are closer than the tick passes the schema but cannot start: refused
    // before it is queued, not failed as it starts (found in QA).
    const tight = await expectError(await post("/api/backtests", { ...base, template: "grid", params: { lower: 100, upper: 100.05, levels: 11, qty: 1 } }), 422);
    expect([tight.message, tight.details]).toEqual([`params do not fit ${COIN.symbol}'s tick ${COIN.tickSize}`, [{ path: "params.levels", message: `11 lines from 100 to 100.05 are not one tick ${COIN.tickSize} apart: at most 6 lines fit between them` }]]);
    expect((await expectError(await post("/api/backtests", { ...base, template: "grid", params: { lower: 0.001, upper: 1, levels: 3, qty: 1 } }), 422)).details).toEqual([{ path: "params.lower", message: `rounds to zero on the tick ${COIN.tickSize}` }]);
    // Starting cash: the CLI's --cash rule, with a message that says which bound it broke.
    for (const [cash, message] of [["1e30", /not a positive amount in USD with at most two decimals/], ["100000.123", /at most two decimals/], ["0", /not a positive amount/], ["2000000000000000", /more than the most a backtest may start with/], ["1" + "0".repeat(25), /more than the most/]] as const)
      expect((await expectError(await post("/api/backtests", { ...base, cash }), 422)).message, cash).toMatch(message);
    await expectError(await post("/api/backtests", { ...base, bars: asJsonBars([{ ...bars[0]!, close: 100.005 }]) }), 422);
    // A listed pair written without its slash is the pair, as orders read it (found in QA: run as an unlisted equity).
    expect((await expectError(await post("/api/backtests", { ...base, symbol: "btcusd" }), 422)).message).toBe("tick_size: BTC/USD is a listed asset: its tick and lot sizes come from the registry");
    // Posted bars meet the checks a CSV upload of them would: on the timeframe's grid, not in
    // the future, volume on the lot grid.
    const offGrid = await expectError(await post("/api/backtests", { ...base, timeframe: "1Hour", bars: asJsonBars(bars.map((b, i) => ({ ...b, t: Date.UTC(2025, 0, 6) + i * 60_000 }))) }), 422);
    expect(offGrid.details[0]?.message).toMatch(/is not the start of a 1Hour bar/);
    // Epoch seconds, read as milliseconds: the refusal says so.
    const seconds = await expectError(await post("/api/backtests", { ...base, timeframe: "1Hour", bars: [{ ...asJsonBars(bars)[0], t: Date.UTC(2025, 0, 6, 9) / 1000 }] }), 422);
    expect(seconds.details[0]?.message).toBe("t 1970-01-21T02:15:54.000Z is not the start of a 1Hour bar (that bar starts at 1970-01-21T02:00:00.000Z); t is epoch milliseconds, and 1736154000 as seconds would be 2025-01-06T09:00:00.000Z");
    const tomorrow = Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 86_400_000;
    const future = await expectError(await post("/api/backtests", { ...base, timeframe: "1Hour", bars: asJsonBars(bars.map((b, i) => ({ ...b, t: tomorrow + i * 3_600_000 }))) }), 422);
    expect(future.details[0]?.message).toMatch(/is in the future/);
    await expectError(await post("/api/backtests", { template: "ma-cross", symbol: "AAPL", timeframe: "1Min", start: "2000-01-01", end: "2025-01-01" }), 422);
    const guest = await signUp("guest");
    await expectError(await post("/api/backtests", base, guest), 403);
    const csv = csvOf(minuteBars(10, 1)).split("\n");
    csv[4] = "2025-01-01T00:03:00Z,100.00,99.00,101.00,100.50,1";
    const badCsv = await expectError(await uploadCsv(csv.join("\n")), 422);
    expect(badCsv.details[0]?.path).toBe("line 5");
    // A field the request does not take is refused by name, not ignored; so are a version
    // without its strategy, a range beside posted bars, and a saved strategy for an
    // optimization (which ran the template instead; QA).
    expect((await expectError(await post("/api/backtests", { ...base, foo: 1 }), 422)).details).toEqual([{ path: "(body)", message: "unknown field foo" }]);
    expect((await expectError(await post("/api/backtests", { ...base, version: 2 }), 422)).details).toEqual([{ path: "version", message: "a version is of a saved strategy: give its strategy_id too" }]);
    expect((await expectError(await post("/api/backtests", { ...base, start: "2025-01-01" }), 422)).details).toEqual([{ path: "start", message: "give bars, or start and end of stored history, not both" }]);
    const grid = { template: "ma-cross", ranges: { fast: { values: [3, 5] } }, ...UNLISTED, bars: base.bars };
    expect((await expectError(await post("/api/backtests/optimize", { ...grid, strategy_id: "x" }), 422)).details[0]?.message).toBe("an optimization runs a template (name it with template); a saved strategy cannot be optimized");
    // An unlisted symbol is spelled as a listed one must be (it is written into the run's CSVs).
    for (const symbol of ['=HYPERLINK("http://x"),Z', 'A"B,C', "AB\nC", "ÄÄPL", "A/B/C"])
      expect((await expectError(await post("/api/backtests", { ...base, symbol }), 422)).details[0]?.path, symbol).toBe("symbol");
    expect((await json<View[]>(await get("/api/backtests?limit=500"))).length).toBe(before);
    // A lower-case unlisted symbol is the upper-case one.
    const lower = await json<View>(await post("/api/backtests", { ...base, symbol: "ccc/usd" }));
    expect(lower.symbol).toBe("CCC/USD");
  });

  it("describes a range's bounds as a time string or epoch milliseconds as a number, and takes both", async () => {
    const doc = await json<{ components: { schemas: Record<string, { properties: Record<string, { anyOf?: { type: string }[] }> }> } }>(await call("/openapi.json"));
    expect(doc.components.schemas.BacktestRequest!.properties.start!.anyOf!.map((s) => s.type).sort()).toEqual(["integer", "string"]);
    const epoch = await expectError(await post("/api/backtests", { template: "ma-cross", symbol: "AAPL", timeframe: "1Hour", start: "1735689600000", end: 1735776000000 }), 422);
    expect(epoch.message).toContain("epoch milliseconds (as a number)");
    // A bound that cannot be read is named as such, also when the other is missing (QA).
    const range = { template: "ma-cross", symbol: "AAPL", timeframe: "1Hour" };
    expect((await expectError(await post("/api/backtests", { ...range, start: "last tuesday" }), 422)).details).toEqual([{ path: "start", message: expect.stringContaining('"last tuesday" is not an RFC 3339 time') }]);
    expect((await expectError(await post("/api/backtests", { ...range, start: "2025-01-01" }), 422)).details).toEqual([{ path: "end", message: "required with start: the range of the symbol's stored history to play" }]);
    expect((await expectError(await post("/api/backtests", { ...range, end: "2025-01-02" }), 422)).details).toEqual([{ path: "start", message: "required with end: the range of the symbol's stored history to play" }]);
    expect((await expectError(await post("/api/backtests", range), 422)).details).toEqual([{ path: "start", message: "give bars, or start and end of the symbol's stored history" }]);
  });
});

describe("an uploaded CSV, streamed into its job", () => {
  // 25,000 rows: two whole chunks of 10,000 and a part, each sent to the job as it is parsed.
  const many = minuteBars(25_000, 5);

  it("plays every row and gets the in-process result, also from a body streamed without Content-Length", async () => {
    const expected = await inProcess(many);
    expect(expected.fills.length).toBeGreaterThan(100);
    const text = csvOf(many);
    // A stream in uneven pieces (cut inside lines), as a chunked upload arrives.
    const pieces = text.match(/[\s\S]{1,7777}/g)!;
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        const piece = pieces.shift();
        if (piece === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(piece));
      },
    });
    for (const body of [text, streamed]) {
      const res = await uploadCsv(body);
      expect(res.status).toBe(201);
      const created = await json<View>(res);
      expect(created.bars_total).toBe(25_000);
      const done = await finished(created.id, 60_000);
      expect(done).toMatchObject({ status: "done", bars_done: 25_000, error: null });
      expect(done.metrics).toEqual(metricsView(expected.metrics));
      const report = await result(created.id);
      expect(report.fills_total).toBe(expected.fills.length);
      expect(report.orders_total).toBe(expected.orders.length);
      expect(report.fills).toEqual(expected.fills.slice(0, 10_000));
    }
  });

  it("refuses a file with a bad line late in it (after chunks were sent), naming the line, and records nothing", async () => {
    const before = (await json<View[]>(await get("/api/backtests?limit=500"))).length;
    const lines = csvOf(many).split("\n");
    lines[23_457] = lines[23_457]!.replace(/,[^,]*$/, ",-1");
    const bad = await expectError(await uploadCsv(lines.join("\n")), 422);
    expect(bad.message).toBe("CSV rejected: 1 problem on 1 line; nothing was run");
    expect(bad.details.map((d) => d.path)).toEqual(["line 23458"]);
    // A body without a newline is refused once its line passes the bound, not held.
    const endless = await expectError(await uploadCsv(`timestamp,open,high,low,close,volume\n${"1".repeat(100_000)}`), 422);
    expect(endless.details[0]).toEqual({ path: "line 2", message: "line longer than 4096 characters" });
    const empty = await expectError(await uploadCsv("timestamp,open,high,low,close,volume\n"), 422);
    expect(empty.message).toContain("no rows");
    expect((await json<View[]>(await get("/api/backtests?limit=500"))).length).toBe(before);
  });

  it("deletes an upload that never started (the gateway died mid-file) when its alarm fires", async () => {
    const stub = env.BACKTEST.getByName(crypto.randomUUID());
    const packed = packBars(many.slice(0, 10_000));
    // Inside the object: a refusal through the stub is also reported by the pool as unhandled.
    await runInDurableObject(stub, (job: BacktestJob) => expect(job.uploadBars(0, packed.slice(0, 7))).rejects.toThrow(/6 numbers a bar/));
    expect(await stub.uploadBars(0, packed)).toBe(10_000);
    const held = () => runInDurableObject(stub, (_o, state) => state.storage.kv.get<number>("uploaded") ?? 0);
    expect(await held()).toBe(10_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await held()).toBe(0);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it("reads back the bars it stores as packed numbers, and the JSON rows a job stored before them, alike", async () => {
    const bars = minuteBars(7_000, 11); // a whole row of 5,000 and part of a second
    const plain = bars.map(({ t, open, high, low, close, volume }) => ({ t, open, high, low, close, volume }));
    await runInDurableObject(env.BACKTEST.getByName(`store-${crypto.randomUUID()}`), (_o, state) => {
      const store = new JobStore(state.storage);
      store.putBars(bars, 0);
      const feed = store.barFeed(bars.length);
      expect(bars.map((_, i) => feed.at(i))).toEqual(plain);
      expect(feed.at(bars.length)).toBeUndefined();
      // The second row as an earlier version wrote it: JSON text of [t, open, high, low, close, volume].
      const old = JSON.stringify(plain.slice(5_000).map((b) => [b.t, b.open, b.high, b.low, b.close, b.volume]));
      state.storage.sql.exec("INSERT OR REPLACE INTO bar_rows (k, bars) VALUES (?, ?)", 1, old);
      const again = store.barFeed(bars.length);
      expect(bars.map((_, i) => again.at(i))).toEqual(plain);
    });
  });

  it("keeps the orders and fills a run hands over exactly as they were, a megabyte of rows a statement, across takes", async () => {
    // About 1 KB an order, as an Alpaca order view is: 3,000 of them are several statements' worth.
    const order = (seq: number) => ({ id: `o-${seq}`, client_order_id: `strategy-${seq}`, note: `"quoted" \\ back\\slash, tab\t, ünïcødé €, 😀 ${"x".repeat(900)}`, filled_at: null, extended_hours: false, legs: null, ratio: 0.1 + 0.2, big: 2 ** 53 + 2, tiny: 5e-324, seq });
    const fill = (i: number) => ({ order_id: `o-${i}`, price: `${100 + i}.25`, qty: "0.000000001", side: i % 2 === 0 ? "buy" : "sell", at: i });
    // Settled orders come in settling order, so an earlier one may be handed over later.
    const first = { orders: Array.from({ length: 1_800 }, (_, k) => ({ seq: 2 * k + 1, order: order(2 * k + 1) })), fills: Array.from({ length: 2_500 }, (_, i) => fill(i)) };
    const second = { orders: Array.from({ length: 1_800 }, (_, k) => ({ seq: 2 * k, order: order(2 * k) })), fills: Array.from({ length: 2_500 }, (_, i) => fill(2_500 + i)) };
    await runInDurableObject(env.BACKTEST.getByName(`store-${crypto.randomUUID()}`), (_o, state) => {
      const store = new JobStore(state.storage);
      store.keep(first as unknown as BacktestPart);
      store.keep(second as unknown as BacktestPart);
      const orders = store.page<ReturnType<typeof order>>("orders", 0, 10_000);
      expect(orders.total).toBe(3_600);
      expect(orders.items).toEqual(Array.from({ length: 3_600 }, (_, seq) => order(seq)));
      const fills = store.page<ReturnType<typeof fill>>("fills", 0, 10_000);
      expect(fills.total).toBe(5_000);
      expect(fills.items).toEqual(Array.from({ length: 5_000 }, (_, i) => fill(i)));
      expect(store.page("fills", 4_998, 10).items).toEqual([fill(4_998), fill(4_999)]);
    });
  });

  it("says a posted bar's price has more ticks than a count holds on a grid too fine, not that it is off the grid", async () => {
    const bars = minuteBars(3, 2).map((b) => ({ ...b, open: 100, high: 100, low: 100, close: 100 }));
    const res = await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, tick_size: "0.000000000000000001", timeframe: "1Min", bars: asJsonBars(bars) });
    const error = await expectError(res, 422);
    expect(error.details?.[0]?.message).toBe('open "100" is more than 2^53 ticks of 0.000000000000000001: a price must be a count of ticks below that; use a coarser tick size');
  });

  it("refuses an upload's unknown query parameter by name, as the JSON request's unknown field, and runs nothing", async () => {
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests WHERE user_id = ?").bind(user.id).first<{ n: number }>())!.n;
    // A typo of fee_bps ran with the default fees.
    const res = await uploadCsv(minuteBars(100, 3), { fees_bps: "0", sizing: "x" });
    const refused = await expectError(res, 422);
    expect(refused.message).toMatch(/^Invalid query string: .*unknown query parameters fees_bps, sizing/);
    expect(refused.details[0]?.path).toBe("(query)");
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests WHERE user_id = ?").bind(user.id).first<{ n: number }>())!.n).toBe(before);
    // The list too (QA: status=done was ignored and every run listed).
    const listed = await expectError(await call("/api/backtests?status=done", { token: user.access, ip: user.ip }), 422);
    expect(listed.message).toMatch(/^Invalid query string: .*unknown query parameter status/);
  });

  it("refuses an upload's fee_bps that is not digits (empty, blank, hex, an exponent) instead of reading it as a number, and runs nothing", async () => {
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests WHERE user_id = ?").bind(user.id).first<{ n: number }>())!.n;
    // Found in QA: an empty fee_bps ran with no fees, 0x10 at 16 and 1e1 at 10.
    for (const fee of ["", " ", "0x10", "1e1", "-1", "1000.5"]) {
      const refused = await expectError(await uploadCsv(minuteBars(100, 3), { fee_bps: fee }), 422);
      expect(refused.message, JSON.stringify(fee)).toMatch(/fee_bps/);
    }
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests WHERE user_id = ?").bind(user.id).first<{ n: number }>())!.n).toBe(before);
    expect((await uploadCsv(minuteBars(100, 3), { fee_bps: "2.5" })).status).toBe(201);
  });

  it("refuses a body declared larger than the upload allows before reading it", async () => {
    const res = await call(`/api/backtests/csv?${new URLSearchParams({ ...UNLISTED, timeframe: "1Min", template: "ma-cross" })}`, {
      rawBody: "timestamp,open,high,low,close,volume\n",
      headers: { "content-type": "text/csv", "content-length": String(97 * 1024 * 1024) },
      token: user.access,
      ip: user.ip,
    });
    expect((await expectError(res, 413)).message).toContain("too large");
  });

  it("refuses a streamed body that grows past the limit without declaring its length, and keeps nothing", async () => {
    // Valid rows padded with blanks (fields are trimmed) to about 3 KB, so the bytes run
    // out long before the rows would: 96 MiB is about 33,000 of them.
    const pad = " ".repeat(3_000);
    const start = Date.UTC(2025, 0, 1);
    let row = 0;
    let sent = 0;
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        const lines = row === 0 ? ["timestamp,open,high,low,close,volume"] : [];
        for (let i = 0; i < 100; i++, row++) lines.push(`${new Date(start + row * MINUTE).toISOString()},200.00,200.00,200.00,200.00,1${pad}`);
        const piece = new TextEncoder().encode(`${lines.join("\n")}\n`);
        sent += piece.byteLength;
        controller.enqueue(piece);
      },
    });
    const before = await json<View[]>(await get("/api/backtests?limit=500"));
    const res = await uploadCsv(streamed);
    expect((await expectError(res, 413)).message).toContain("too large");
    expect(sent).toBeGreaterThan(96 * 1024 * 1024);
    expect(await json<View[]>(await get("/api/backtests?limit=500"))).toEqual(before);
  }, 60_000);
});

describe("the API description", () => {
  it("lists every backtest route in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call("/openapi.json"));
    for (const [path, method] of [
      ["/api/backtests", "post"],
      ["/api/backtests", "get"],
      ["/api/backtests/csv", "post"],
      ["/api/backtests/{id}", "get"],
      ["/api/backtests/{id}/cancel", "post"],
      ["/api/backtests/{id}/result", "get"],
      ["/api/backtests/{id}/fills.csv", "get"],
      ["/api/backtests/{id}/equity.csv", "get"],
      ["/api/backtests/optimize", "post"],
      ["/api/backtests/optimize/{id}", "get"],
    ] as const) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });
});

describe("optimization", () => {
  it("a 3×3 grid runs nine backtests and ranks them by the metric, best first", async () => {
    const { bars } = seededBars(300, 11);
    const res = await post("/api/backtests/optimize", {
      template: "ma-cross",
      params: {},
      ranges: { fast: { values: [3, 5, 8] }, slow: { from: 20, to: 40, step: 10 } },
      metric: "total_return",
      ...UNLISTED,
      bars: asJsonBars(bars),
    });
    expect(res.status).toBe(201);
    const { id } = await json<{ id: string }>(res);
    type Ranked = { id: string; metric: string; runs: { rank: number; params: { fast: number; slow: number }; status: string; value: number | null }[] };
    await until(async () => {
      const rows = await env.DB.prepare("SELECT status FROM backtests WHERE optimization_id = ?").bind(id).all<{ status: string }>();
      return rows.results.length === 9 && rows.results.every((r) => r.status === "done");
    }, "nine runs to finish", 30_000);
    const ranked = await json<Ranked>(await get(`/api/backtests/optimize/${id}`));
    expect(ranked.metric).toBe("total_return");
    expect(ranked.runs.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(ranked.runs.map((r) => `${r.params.fast}/${r.params.slow}`)).size).toBe(9);
    const values = ranked.runs.map((r) => r.value);
    const numbers = values.filter((v): v is number => v !== null);
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
    expect(values.slice(numbers.length).every((v) => v === null)).toBe(true);
    // Each run is an ordinary backtest of its parameters.
    const best = ranked.runs[0]!;
    const alone = await inProcessWith(bars, best.params);
    expect(best.value).toBe(alone.metrics.totalReturn);
  });

  it("refuses a grid past the cap and a combination the template rejects", async () => {
    const { bars } = seededBars(40, 2);
    const base = { template: "ma-cross", ...UNLISTED, bars: asJsonBars(bars) };
    await expectError(await post("/api/backtests/optimize", { ...base, ranges: { fast: { from: 1, to: 20, step: 1 }, slow: { from: 21, to: 40, step: 1 } } }), 422);
    const bad = await expectError(await post("/api/backtests/optimize", { ...base, ranges: { fast: { values: [5, 50] }, slow: { values: [20] } } }), 422);
    expect(bad.message).toBe('combination 2 ({"slow":20,"fast":50}) does not fit template ma-cross');
    const tight = await expectError(await post("/api/backtests/optimize", { ...base, template: "grid", params: { lower: 100, upper: 100.05, qty: 1 }, ranges: { levels: { values: [6, 7] } } }), 422);
    expect(tight.message).toBe(`combination 2 (${JSON.stringify({ lower: 100, upper: 100.05, levels: 7, qty: 1 })}) does not fit ${COIN.symbol}'s tick ${COIN.tickSize}`);
    // samples and seed draw a random search: a grid given them ran every combination and ignored both.
    const ranges = { fast: { values: [3, 5, 7] } };
    const grid = await expectError(await post("/api/backtests/optimize", { ...base, ranges, samples: 2, seed: 7 }), 422);
    expect(grid.details.map((d) => d.path)).toEqual(["samples", "seed"]);
    expect(grid.details[0]?.message).toBe("samples applies to mode random; a grid runs every combination (set mode to random to draw a sample)");
    const unsized = await expectError(await post("/api/backtests/optimize", { ...base, ranges, mode: "random" }), 422);
    expect(unsized.details).toEqual([{ path: "samples", message: "mode random draws samples parameter sets: say how many (1 or more)" }]);
    // null is "not given", as clients send unset fields.
    expect((await expectError(await post("/api/backtests/optimize", { ...base, ranges, mode: "random", samples: null, seed: null }), 422)).details).toEqual(unsized.details);
    // A range in both forms: its steps were dropped without a word (found in QA).
    const both = await expectError(await post("/api/backtests/optimize", { ...base, ranges: { fast: { values: [3, 5], from: 1, to: 2, step: 1 } } }), 422);
    expect(both.details).toEqual([{ path: "ranges.fast", message: "a range is either values or from, to and step, not both" }]);
  });
});

function inProcessWith(bars: StrategyBar[], params: Record<string, unknown>): Promise<BacktestResult> {
  const { venue, limits } = tradingConfig(env);
  return runBacktest({ strategy: TEMPLATES.get("ma-cross")!.create(), bars, spec: COIN, params, cash: "100000", venue, limits, halfSpreadTicks: 0 });
}

describe("runs at once", () => {
  it("refuses a user's backtests past 200 queued or running (an optimization's runs each count), changing nothing, until one ends", async () => {
    const busy = await signUp();
    // 199 unfinished runs stand in the user's rows (as a flood of long uploads would leave them).
    const stand = Array.from({ length: 199 }, () => crypto.randomUUID());
    await env.DB.batch(stand.map((id) => env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'running')").bind(id, busy.id, COIN.symbol)));
    const rows = async () => (await env.DB.prepare("SELECT count(*) AS n FROM backtests WHERE user_id = ?").bind(busy.id).first<{ n: number }>())!.n;
    const one = { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Hour", bars: asJsonBars(seededBars(300, 11).bars) };
    const grid = { template: "ma-cross", params: {}, ranges: { fast: { values: [3, 5] } }, metric: "total_return", ...UNLISTED, bars: one.bars };
    // A two-run optimization would make 201.
    const tooMany = await expectError(await post("/api/backtests/optimize", grid, busy), 429);
    expect(tooMany.message).toBe("199 of your backtests are queued or running, and at most 200 may be at once: 2 more would pass that; wait for some to finish or cancel them (POST /api/backtests/{id}/cancel)");
    expect(await rows()).toBe(199);
    // The 200th runs (and, 300 bars, soon ends).
    const ran = await post("/api/backtests", one, busy);
    expect(ran.status).toBe(201);
    expect(await rows()).toBe(200);
    await finished((await json<View>(ran)).id);
    stand.push(crypto.randomUUID());
    await env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'queued')").bind(stand.at(-1), busy.id, COIN.symbol).run();
    // The 201st (a CSV upload, refused before its body is read) waits for one to end.
    const refused = await call(`/api/backtests/csv?${new URLSearchParams({ ...UNLISTED, timeframe: "1Min", template: "ma-cross", params: JSON.stringify(PARAMS) })}`, { rawBody: csvOf(minuteBars(100, 3)), headers: { "content-type": "text/csv" }, token: busy.access, ip: busy.ip });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("10");
    expect((await json<{ message: string }>(refused)).message).toContain("200 of your backtests are queued or running, and at most 200 may be at once: another would pass that");
    expect(await rows()).toBe(201);
    // A cancel makes room.
    expect((await post(`/api/backtests/${stand[0]}/cancel`, {}, busy)).status).toBe(200);
    expect((await post("/api/backtests", one, busy)).status).toBe(201);
    // Another user is not counted against.
    expect((await post("/api/backtests", one)).status).toBe(201);
  });
});

describe("the list of backtests", () => {
  it("pages back through every run, newest first, with no repeat or gap, whatever is added meanwhile", async () => {
    const owner = await signUp();
    // 7 runs, three in one millisecond (the id breaks the tie).
    const ids = Array.from({ length: 7 }, () => crypto.randomUUID());
    const at = [1000, 2000, 3000, 3000, 3000, 4000, 5000].map((ms) => Date.UTC(2025, 0, 1) + ms);
    await env.DB.batch(ids.map((id, i) => env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status, created_at) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'done', ?)").bind(id, owner.id, COIN.symbol, at[i])));
    const newestFirst = ids.map((id, i) => ({ id, t: at[i]! })).sort((a, b) => b.t - a.t || (a.id < b.id ? 1 : -1)).map((r) => r.id);
    const seen: string[] = [];
    let next: string | null = "/api/backtests?limit=3";
    while (next) {
      const res = await get(next, owner);
      expect(res.status).toBe(200);
      seen.push(...(await json<View[]>(res)).map((b) => b.id));
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "")?.[1] ?? null;
      // A run added meanwhile is newer than every page and changes none of them.
      if (seen.length === 3) await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Hour", bars: asJsonBars(seededBars(60, 13).bars) }, owner);
    }
    expect(seen).toEqual(newestFirst);
    // A page that is not full has no next; someone else's id is not a place to start.
    const other = await signUp();
    const refused = await expectError(await get(`/api/backtests?before=${ids[0]}`, other), 422);
    expect(refused.message).toBe("Invalid format for parameter before: not one of your backtests");
    await expectError(await get("/api/backtests?before=nope", owner), 422);
  });
});

describe("a run whose job never started", () => {
  it("is failed by the sweep once queued for five minutes, which frees its place among the runs at once; a started job and a fresh row are left alone", async () => {
    const owner = await signUp();
    const insert = (id: string, createdAt: number) =>
      env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status, created_at) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'queued', ?)").bind(id, owner.id, COIN.symbol, createdAt).run();
    const now = Date.now();
    // A row whose start died before its job heard of it, one just queued, and a started run whose row is old.
    const orphan = crypto.randomUUID();
    const fresh = crypto.randomUUID();
    await insert(orphan, now - UNSTARTED_AFTER_MS - 1_000);
    await insert(fresh, now - 1_000);
    const started = await json<View>(await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Hour", bars: asJsonBars(seededBars(300, 12).bars) }, owner));
    await finished(started.id);
    await env.DB.prepare("UPDATE backtests SET status = 'queued', created_at = ? WHERE id = ?").bind(now - UNSTARTED_AFTER_MS - 1_000, started.id).run();
    const active = async () => (await activeRuns(env, owner.id).get())!.active;
    const ownView = async (id: string) => json<View>(await get(`/api/backtests/${id}`, owner));
    expect(await active()).toBe(3);

    expect(await failUnstartedBacktests(env, now)).toEqual([orphan]);
    const swept = await ownView(orphan);
    expect(swept).toMatchObject({ status: "failed", error: "the backtest never started (the request that queued it ended first): run it again" });
    expect((await ownView(fresh)).status).toBe("queued");
    expect((await ownView(started.id)).status).toBe("queued");
    expect(await active()).toBe(2);
    // Again: nothing more to do.
    expect(await failUnstartedBacktests(env, now)).toEqual([]);
  });
});

/** A saved code strategy of `owner`'s that does nothing, written as the strategies API stores one. */
async function savedCodeStrategy(owner: TestUser): Promise<string> {
  const strategyId = crypto.randomUUID();
  const code = "export default { onBar() {} };\n";
  await env.DB.batch([
    env.DB.prepare("INSERT INTO strategies (id, user_id, name, kind, symbol, timeframe, params, current_version, updated_at) VALUES (?, ?, 'mine', 'code', ?, '1Hour', '{}', 1, ?)").bind(strategyId, owner.id, COIN.symbol, Date.now()),
    env.DB.prepare("INSERT INTO strategy_versions (strategy_id, version, params, source, compiled, language) VALUES (?, 1, '{}', ?, ?, 'js')").bind(strategyId, code, code),
  ]);
  return strategyId;
}

describe("code runs at once", () => {
  it("refuses a fifth backtest of the user's own code while four are queued or running, and still takes a template's", async () => {
    const busy = await signUp();
    await env.DB.batch(Array.from({ length: 4 }, () => env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status) VALUES (?, ?, 'code', NULL, ?, '1Hour', '{}', 'running')").bind(crypto.randomUUID(), busy.id, COIN.symbol)));
    const strategyId = await savedCodeStrategy(busy);
    const bars = asJsonBars(seededBars(60, 14).bars);
    const refused = await expectError(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, timeframe: "1Hour", bars }, busy), 429);
    expect(refused.message).toMatch(/^4 of your code strategies' backtests are queued or running, and at most 4 may be at once/);
    const uploadRefused = await call(`/api/backtests/csv?${new URLSearchParams({ ...UNLISTED, timeframe: "1Min", strategy_id: strategyId })}`, { rawBody: csvOf(minuteBars(100, 3)), headers: { "content-type": "text/csv" }, token: busy.access, ip: busy.ip });
    expect(uploadRefused.status).toBe(429);
    expect((await activeRuns(env, busy.id).get())!).toEqual({ active: 4, code: 4 });
    expect((await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Hour", bars }, busy)).status).toBe(201);
  });
});

describe("runs started together", () => {
  it("pass the caps no more than started one at a time: twelve code runs at once, four start; three optimizations of 80, two", async () => {
    // Found in QA: every start counted the user's runs before any of them had a row, so
    // twelve at once all started (the cap is four), and three optimizations of 100 made 300.
    const busy = await signUp();
    const strategyId = await savedCodeStrategy(busy);
    const bars = asJsonBars(seededBars(60, 14).bars);
    const starts = await Promise.all(Array.from({ length: 12 }, () => post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, timeframe: "1Hour", bars }, busy)));
    expect(starts.map((r) => r.status).sort()).toEqual([...Array(4).fill(201), ...Array(8).fill(429)]);
    for (const r of starts.filter((r) => r.status === 429)) expect((await json<{ message: string }>(r)).message).toMatch(/code strategies' backtests|left no room/);
    const rows = async () => (await env.DB.prepare("SELECT count(*) AS n FROM backtests WHERE user_id = ?").bind(busy.id).first<{ n: number }>())!.n;
    expect(await rows()).toBe(4);
    // 196 template runs of room left: of three optimizations of 80 sets, two fit.
    const grid = { template: "ma-cross", params: {}, ranges: { fast: { from: 2, to: 9, step: 1 }, slow: { from: 20, to: 29, step: 1 } }, metric: "total_return", ...UNLISTED, bars };
    const optimizations = await Promise.all([1, 2, 3].map(() => post("/api/backtests/optimize", grid, busy)));
    expect(optimizations.map((r) => r.status).sort()).toEqual([201, 201, 429]);
    expect(await rows()).toBe(164);
  });
});

describe("runs at once, while uploads stream", () => {
  it("counts a user's unfinished runs on the partial index, not every run they have had", async () => {
    const { sql, params } = activeRuns(env, user.id).toSQL();
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .bind(...params)
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join("; ")).toContain("backtests_active_idx");
    // The sweep of runs that never started reads the same index, not every run there has been.
    const sweep = longQueued(env, Date.now()).toSQL();
    const sweepPlan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sweep.sql}`)
      .bind(...sweep.params)
      .all<{ detail: string }>();
    expect(sweepPlan.results.map((r) => r.detail).join("; ")).toContain("backtests_active_idx");
  });

  it("counts an upload again once it is stored: runs that started while it streamed can take the room, and then nothing of it runs", async () => {
    const busy = await signUp();
    await env.DB.batch(Array.from({ length: 199 }, () => env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'running')").bind(crypto.randomUUID(), busy.id, COIN.symbol)));
    // The upload passes the first count (199) and streams; meanwhile another run starts (the 200th).
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const text = csvOf(minuteBars(100, 4));
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent) {
          await held;
          return controller.close();
        }
        sent = true;
        controller.enqueue(new TextEncoder().encode(text));
      },
    });
    const uploading = call(`/api/backtests/csv?${new URLSearchParams({ ...UNLISTED, timeframe: "1Min", template: "ma-cross", params: JSON.stringify(PARAMS) })}`, { rawBody: body, headers: { "content-type": "text/csv" }, token: busy.access, ip: busy.ip });
    await new Promise((r) => setTimeout(r, 300));
    await env.DB.prepare("INSERT INTO backtests (id, user_id, kind, template, symbol, timeframe, params, status) VALUES (?, ?, 'template', 'ma-cross', ?, '1Hour', '{}', 'queued')").bind(crypto.randomUUID(), busy.id, COIN.symbol).run();
    release();
    const refused = await uploading;
    expect(refused.status).toBe(429);
    expect((await json<{ message: string }>(refused)).message).toContain("200 of your backtests are queued or running");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM backtests WHERE user_id = ?").bind(busy.id).first<{ n: number }>())!.n).toBe(200);
  });
});

describe("bars in the body", () => {
  it("takes the 1,000 bars a body may carry, in a backtest and an optimization, and refuses more in words", async () => {
    // 1,000 bars as the app sends them are about 90 KB, over the 64 KiB other bodies get (QA: 413).
    const bars = asJsonBars(minuteBars(1_000, 21));
    const body = { ...UNLISTED, timeframe: "1Min", bars };
    expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
    const one = await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...body });
    expect(one.status).toBe(201);
    const grid = await post("/api/backtests/optimize", { template: "ma-cross", params: {}, ranges: { fast: { values: [3, 5] } }, metric: "total_return", ...body });
    expect(grid.status).toBe(201);
    const more = await expectError(await post("/api/backtests", { template: "ma-cross", params: PARAMS, ...UNLISTED, timeframe: "1Min", bars: asJsonBars(minuteBars(1_001, 21)) }), 422);
    expect(more.details.map((d) => d.message)).toContain("at most 1000 bars in a body; upload a CSV for more");
    // Other routes keep the 64 KiB limit.
    const big = await call("/api/strategies", { body: { name: "x".repeat(70 * 1024) }, token: user.access, ip: user.ip });
    expect((await expectError(big, 413)).message).toBe("request body is too large");
    await finished((await json<View>(one)).id);
  });
});
