import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { MAX_CODE_STARTS } from "../durable-objects/backtest/backtest-job";
import type { JobState } from "../durable-objects/backtest/store";
import { beforeAll, describe, expect, it } from "vitest";
import { metricsView } from "../shared/schemas/backtests";
import { runBacktest } from "../shared/strategy/backtest";
import type { Strategy, StrategyBar } from "../shared/strategy/runtime";
import { TEMPLATES } from "../shared/strategy/templates";
import { tradingConfig } from "../shared/trading/config";
import { instrumentSpec } from "../shared/trading/asset";
import { call, expectError, json, signUp, until, type TestUser } from "./helpers";
import { createInstrument } from "./market-helpers";
import { COIN, seededBars } from "./strategy/helpers";

// The other ways into a backtest: a saved strategy (user code, run in the sandbox) and the
// symbol's stored history.

interface View {
  id: string;
  status: string;
  error: string | null;
  bars_done: number;
  bars_total: number;
  metrics: Record<string, unknown> | null;
}

let user: TestUser;
beforeAll(async () => {
  user = await signUp();
});

const UNLISTED = { symbol: COIN.symbol, tick_size: COIN.tickSize, lot_size: COIN.lotSize };
const post = (path: string, body: unknown) => call(path, { body, token: user.access, ip: user.ip });
const get = (path: string) => call(path, { token: user.access, ip: user.ip });
async function finished(id: string): Promise<View> {
  await until(async () => !["queued", "running"].includes((await env.BACKTEST.getByName(id).status()).status), `backtest ${id}`, 20_000);
  return until(async () => {
    const v = await json<View>(await get(`/api/backtests/${id}`));
    return v.status !== "queued" && v.status !== "running" ? v : undefined;
  }, "its row");
}
const asJsonBars = (bars: StrategyBar[]) => bars.map((b) => ({ ...b, t: new Date(b.t).toISOString() }));

// Buys one unit on the third bar, sells it on the tenth: written once as code, once as an object.
const CODE = `export default {
  onBar(bar, ctx) {
    const n = (ctx.state.n ?? 0) + 1;
    ctx.state = { n };
    if (n === 3) ctx.buy({ qty: 1 });
    if (n === 10) ctx.sell({ qty: 1 });
  },
};
`;
const sameInProcess: Strategy<Record<string, unknown>> = {
  onBar(_bar, ctx) {
    const n = ((ctx.state.n as number | undefined) ?? 0) + 1;
    ctx.state = { n };
    if (n === 3) ctx.buy({ qty: 1 });
    if (n === 10) ctx.sell({ qty: 1 });
  },
};

/** A saved code strategy, written as the strategies API stores one. */
async function savedStrategy(code: string): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO strategies (id, user_id, name, kind, symbol, timeframe, params, current_version, updated_at) VALUES (?, ?, ?, 'code', ?, '1Hour', '{}', 1, ?)").bind(id, user.id, `s-${id}`, COIN.symbol, Date.now()),
    env.DB.prepare("INSERT INTO strategy_versions (strategy_id, version, params, source, compiled, language) VALUES (?, 1, '{}', ?, ?, 'js')").bind(id, code, code),
  ]);
  return id;
}

describe("a saved code strategy", () => {
  it("runs in the sandbox and gives the in-process result of the same rules", async () => {
    const { bars } = seededBars(200, 4);
    const strategyId = await savedStrategy(CODE);
    const res = await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(bars) });
    expect(res.status).toBe(201);
    const created = await json<View & { kind: string; strategy_version: number }>(res);
    expect(created).toMatchObject({ kind: "code", strategy_version: 1 });
    const done = await finished(created.id);
    expect(done.status).toBe("done");
    const { venue, limits } = tradingConfig(env);
    const expected = await runBacktest({ strategy: sameInProcess, bars, spec: COIN, cash: "100000", venue, limits, halfSpreadTicks: 0 });
    expect(expected.fills).toHaveLength(2);
    expect(done.metrics).toEqual(metricsView(expected.metrics));
    const report = await json<{ fills: unknown[] }>(await get(`/api/backtests/${created.id}/result`));
    expect(report.fills).toEqual(expected.fills);
  });

  it("a strategy that throws ends failed, with its message", async () => {
    const strategyId = await savedStrategy(`export default { onBar(bar, ctx) { if (ctx.state.n) throw new Error("out of ideas"); ctx.state = { n: 1 }; } };\n`);
    const { id } = await json<View>(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(20, 1).bars) }));
    const done = await finished(id);
    expect(done.status).toBe("failed");
    // As the same failure live reads (found in QA: "StrategyCodeError: Error: out of ideas …").
    expect(done.error).toMatch(/^Error: out of ideas \(line 1, column \d+\)$/);
    // Its progress is where it failed (the first bar played, the second threw), not its last report (none).
    expect(done.bars_done).toBe(1);
  });

  it("a failed run keeps its log up to the failure, the failed callback's own lines last, readable while its results are not", async () => {
    // Found in QA: a failed backtest's result is a 409, and its log went with it.
    const strategyId = await savedStrategy(`export default { onBar(bar, ctx) { ctx.log("bar " + ctx.state.n); if (ctx.state.n === 2) { ctx.log("giving up"); throw new Error("out of ideas"); } ctx.state = { n: (ctx.state.n ?? 0) + 1 }; } };\n`);
    const { id } = await json<View>(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(20, 1).bars) }));
    expect((await finished(id)).status).toBe("failed");
    await expectError(await get(`/api/backtests/${id}/result`), 409);
    const log = await json<{ status: string; error: string; logs: { t: string; text: string }[]; logs_dropped: number }>(await get(`/api/backtests/${id}/logs`));
    expect([log.status, log.logs.map((l) => l.text), log.logs_dropped]).toEqual(["failed", ["bar undefined", "bar 1", "bar 2", "giving up"], 0]);
    expect(log.error).toContain("out of ideas");
    // A finished run's log is its report's; another user's run is not found.
    const fine = await savedStrategy(`export default { onBar(bar, ctx) { ctx.log("seen " + bar.close); } };\n`);
    const run = await json<View>(await post("/api/backtests", { strategy_id: fine, ...UNLISTED, bars: asJsonBars(seededBars(3, 1).bars) }));
    expect((await finished(run.id)).status).toBe("done");
    const done = await json<{ status: string; logs: { text: string }[] }>(await get(`/api/backtests/${run.id}/logs`));
    const report = await json<{ logs: { text: string }[] }>(await get(`/api/backtests/${run.id}/result`));
    expect([done.status, done.logs]).toEqual(["done", report.logs]);
    expect(done.logs).toHaveLength(3);
    const other = await signUp();
    await expectError(await call(`/api/backtests/${id}/logs`, { token: other.access, ip: other.ip }), 404);
  });

  it("keeps the first 1,000 lines a strategy logs and says how many more it dropped", async () => {
    const strategyId = await savedStrategy(`export default { onBar(bar, ctx) { for (let i = 0; i < 30; i++) ctx.log("line " + i); } };\n`);
    const { id } = await json<View>(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(50, 4).bars) }));
    expect((await finished(id)).status).toBe("done");
    const report = await json<{ logs: { text: string }[]; logs_dropped: number }>(await get(`/api/backtests/${id}/result`));
    expect(report.logs).toHaveLength(1000);
    expect(report.logs_dropped).toBe(50 * 30 - 1000);
  });

  it("a code run its worker kept dying under is failed after a few starts, not started again after every restart", async () => {
    // Found in QA: a strategy that ran its worker out of memory took local workerd down, and
    // the job's armed alarm ran it again after each restart. Each start is stored before the
    // code runs; a job found already started MAX_CODE_STARTS times fails instead.
    const strategyId = await savedStrategy(CODE);
    const { id } = await json<View>(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(50, 2).bars) }));
    expect((await finished(id)).status).toBe("done");
    const stub = env.BACKTEST.getByName(id);
    const replay = async (starts: number) => {
      // As a process that died mid-run leaves it: running (the row too), its alarm still armed.
      await env.DB.prepare("UPDATE backtests SET status = 'running' WHERE id = ?").bind(id).run();
      await runInDurableObject(stub, async (_o, state) => {
        expect(state.storage.kv.get<JobState>("state")!.codeStarts).toBeGreaterThanOrEqual(1);
        state.storage.kv.put("state", { ...state.storage.kv.get<JobState>("state")!, status: "running", metrics: null, finishedAt: null, reported: false, codeStarts: starts });
        await state.storage.setAlarm(Date.now());
      });
      // The alarm may already have fired on its own; if not, it runs now.
      await runDurableObjectAlarm(stub);
      const stored = () => runInDurableObject(stub, (_o, state) => state.storage.kv.get<JobState>("state")!);
      await until(async () => (await stored()).status !== "running", "the replayed run to end");
      return stored();
    };
    // Within the allowance, a restarted run plays to its end again.
    expect(await replay(MAX_CODE_STARTS - 1)).toMatchObject({ status: "done", codeStarts: MAX_CODE_STARTS });
    const failed = await replay(MAX_CODE_STARTS);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain(`stopped its worker ${MAX_CODE_STARTS} times`);
  });

  it("a cancel marked in the row while the run made its final write still wins: no results, the job agrees", async () => {
    // Found in QA (3 in 50 races): the row said cancelled while /result answered 200.
    const strategyId = await savedStrategy(CODE);
    const { id } = await json<View>(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(50, 3).bars) }));
    expect((await finished(id)).status).toBe("done");
    const stub = env.BACKTEST.getByName(id);
    // The moment of the race: the job has stored its result, its final report not yet made,
    // and the gateway has marked the row cancelled.
    await env.DB.prepare("UPDATE backtests SET status = 'cancelled' WHERE id = ?").bind(id).run();
    await runInDurableObject(stub, async (_o, state) => {
      state.storage.kv.put("state", { ...state.storage.kv.get<JobState>("state")!, reported: false });
      await state.storage.setAlarm(Date.now());
    });
    await runDurableObjectAlarm(stub);
    await until(async () => (await stub.status()).status === "cancelled", "the job to agree with the row");
    expect((await expectError(await get(`/api/backtests/${id}/result`), 409)).message).toContain("cancelled");
    expect((await get(`/api/backtests/${id}`)).status).toBe(200);
  });

  it("posted bars' times must be RFC 3339 instants that exist, or epoch ms as numbers", async () => {
    const strategyId = await savedStrategy(CODE);
    const bars = asJsonBars(seededBars(3, 1).bars);
    const backtests = async () => (await env.DB.prepare("SELECT count(*) AS n FROM backtests WHERE user_id = ?").bind(user.id).first<{ n: number }>())?.n;
    const before = await backtests();
    for (const [t, index] of [["Dec 2 2025 10:00", 0], ["2025-02-30T00:00:00Z", 1], ["1735689600000", 2]] as const) {
      const sent = bars.map((b, i) => (i === index ? { ...b, t } : b));
      const body = await expectError(await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: sent }), 422);
      expect(JSON.stringify(body.details)).toContain(`bars.${index}.t`);
    }
    expect(await backtests()).toBe(before);
    const ok = await post("/api/backtests", { strategy_id: strategyId, ...UNLISTED, bars: bars.map((b, i) => (i === 0 ? { ...b, t: Date.parse(b.t) } : b)) });
    expect(ok.status).toBe(201);
  });

  it("someone else's strategy cannot be backtested", async () => {
    const strategyId = await savedStrategy(CODE);
    const other = await signUp();
    await expectError(await call("/api/backtests", { body: { strategy_id: strategyId, ...UNLISTED, bars: asJsonBars(seededBars(20, 1).bars) }, token: other.access, ip: other.ip }), 404);
  });
});

describe("the symbol's stored history", () => {
  // 12,345 bars: the job stores them as the history's pages come (10,000, then the rest) in
  // rows of 5,000, and plays them back a row at a time.
  it.each([150, 12_345])("a range of %i imported bars plays like the same bars posted", async (count) => {
    const admin = await signUp("admin");
    const asset = await createInstrument(admin);
    const spec = instrumentSpec(asset.symbol, "us_equity", "0.01", "1");
    const start = Date.UTC(2025, 0, 6);
    const bars = seededBars(count, 9).bars.map((b, i) => ({ ...b, t: start + i * 3_600_000 }));
    const csv = ["timestamp,open,high,low,close,volume", ...bars.map((b) => `${new Date(b.t).toISOString()},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");
    const imported = await call(`/api/admin/assets/${asset.id}/history?timeframe=1Hour`, { rawBody: csv, headers: { "content-type": "text/csv" }, token: admin.access });
    expect(imported.status).toBe(200);

    const res = await post("/api/backtests", { template: "ma-cross", params: { fast: 5, slow: 20 }, symbol: asset.symbol, timeframe: "1Hour", start: new Date(start).toISOString(), end: new Date(bars.at(-1)!.t).toISOString() });
    expect(res.status).toBe(201);
    const done = await finished((await json<View>(res)).id);
    expect(done).toMatchObject({ status: "done", bars_total: count, bars_done: count });
    const { venue, limits } = tradingConfig(env);
    const expected = await runBacktest({ strategy: TEMPLATES.get("ma-cross")!.create(), bars, spec, params: { fast: 5, slow: 20 }, cash: "100000", venue, limits, halfSpreadTicks: 0 });
    expect(done.metrics).toEqual(metricsView(expected.metrics));
  });

  it("a saved strategy runs on its own symbol and timeframe unless the request names others", async () => {
    // Found in QA: without a symbol it was refused, and with one it ran on 1Hour bars whatever the strategy's timeframe.
    const admin = await signUp("admin");
    const asset = await createInstrument(admin);
    const start = Date.UTC(2025, 0, 6, 14, 30);
    const bars = seededBars(90, 5).bars.map((b, i) => ({ ...b, t: start + i * 60_000 }));
    const csv = ["timestamp,open,high,low,close,volume", ...bars.map((b) => `${new Date(b.t).toISOString()},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");
    expect((await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { rawBody: csv, headers: { "content-type": "text/csv" }, token: admin.access })).status).toBe(200);
    const saved = await json<{ id: string }>(await post("/api/strategies", { name: `minutes-${asset.symbol}`, kind: "template", template: "ma-cross", symbol: asset.symbol, timeframe: "1Min", params: { fast: 3, slow: 8 } }));
    const range = { start: new Date(start).toISOString(), end: new Date(bars.at(-1)!.t).toISOString() };
    const res = await post("/api/backtests", { strategy_id: saved.id, ...range });
    expect(res.status).toBe(201);
    const own = await json<View>(res);
    expect(own).toMatchObject({ symbol: asset.symbol, timeframe: "1Min" });
    expect(await finished(own.id)).toMatchObject({ status: "done", bars_total: 90 });
    // Named in the request, another timeframe is used (here 5Min: 18 bars of the same minutes).
    const other = await json<View & { timeframe: string }>(await post("/api/backtests", { strategy_id: saved.id, timeframe: "5Min", ...range }));
    expect(other.timeframe).toBe("5Min");
    // A template still needs its symbol.
    expect((await expectError(await post("/api/backtests", { template: "ma-cross", ...range }), 422)).details.map((d) => d.path)).toContain("symbol");
    // The CSV upload likewise (found in QA: it required a symbol even with a strategy_id).
    const upload = (query: Record<string, string>) => call(`/api/backtests/csv?${new URLSearchParams(query)}`, { rawBody: csv, headers: { "content-type": "text/csv" }, token: user.access, ip: user.ip });
    const uploaded = await upload({ strategy_id: saved.id });
    expect(uploaded.status).toBe(201);
    expect(await json<View>(uploaded)).toMatchObject({ symbol: asset.symbol, timeframe: "1Min" });
    expect((await expectError(await upload({ template: "ma-cross", timeframe: "1Min" }), 422)).details.map((d) => d.path)).toContain("symbol");
  });

  it("a range reaching into the bar now forming stops before it: its close is not known yet", async () => {
    const admin = await signUp("admin");
    const asset = await createInstrument(admin);
    const HOUR = 3_600_000;
    const hourNow = () => Math.floor(Date.now() / HOUR) * HOUR;
    const current = hourNow();
    // 30 hourly bars, the last one this hour's (still forming).
    const bars = seededBars(30, 4).bars.map((b, i) => ({ ...b, t: current - (29 - i) * HOUR }));
    const csv = ["timestamp,open,high,low,close,volume", ...bars.map((b) => `${new Date(b.t).toISOString()},${b.open},${b.high},${b.low},${b.close},${b.volume}`)].join("\n");
    expect((await call(`/api/admin/assets/${asset.id}/history?timeframe=1Hour`, { rawBody: csv, headers: { "content-type": "text/csv" }, token: admin.access })).status).toBe(200);
    const res = await post("/api/backtests", { template: "ma-cross", params: { fast: 3, slow: 5 }, symbol: asset.symbol, timeframe: "1Hour", start: new Date(bars[0]!.t).toISOString(), end: new Date(current + 10 * HOUR).toISOString() });
    expect(res.status).toBe(201);
    const done = await finished((await json<View>(res)).id);
    expect(done.status).toBe("done");
    // (Should the hour have turned while the request ran, that bar was complete by then.)
    expect(done.bars_total).toBe(hourNow() === current ? 29 : 30);
  });

  it("a range without bars is refused with 422, saying so, and queues nothing (QA: it was queued, then failed)", async () => {
    const admin = await signUp("admin");
    const asset = await createInstrument(admin);
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests").first<{ n: number }>())!.n;
    const refused = await expectError(await post("/api/backtests", { template: "ma-cross", symbol: asset.symbol, timeframe: "1Hour", start: "2020-01-01", end: "2020-02-01" }), 422);
    expect(refused.message).toBe(`no 1Hour bars of ${asset.symbol} from 2020-01-01T00:00:00.000Z to 2020-02-01T00:00:00.000Z; choose a range the symbol's history covers, or another timeframe`);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM backtests").first<{ n: number }>())!.n).toBe(before);
  });
});
