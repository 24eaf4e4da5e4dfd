import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { openStrategySandbox, runCodeBacktest, StrategyCodeError, type CodeBacktestRequest } from "../platform/sandbox";
import { backtestReport, runBacktest, type BacktestPart } from "../shared/strategy/backtest";
import { compileStrategy } from "../shared/strategy/compile";
import type { InvokeRequest } from "../shared/strategy/invoke";
import type { Strategy } from "../shared/strategy/runtime";
import { COIN, START, seededBars } from "./strategy/helpers";

// The canonical moving-average cross as a user would write it: exact sums of closes in
// ticks, all in on a cross up, flat on a cross down, state as JSON. One object serves both
// runs: in-process as it is, in the sandbox as the source text of its methods.
type MaState = { closes: number[]; fastSum: number; slowSum: number; above: boolean | null };
type MaParams = { fast: number; slow: number };
const userMaCross: Strategy<MaParams> = {
  params: { fast: 10, slow: 30 },
  onStart(ctx) {
    ctx.state = { closes: [], fastSum: 0, slowSum: 0, above: null };
  },
  onBar(bar, ctx) {
    const { fast, slow } = ctx.params;
    const s = ctx.state as unknown as MaState;
    const [whole = "", frac = ""] = String(bar.close).split(".");
    const digits = ctx.instrument.tickSize.split(".")[1]?.length ?? 0;
    const close = Number(whole + frac.padEnd(digits, "0").slice(0, digits));
    s.closes.push(close);
    s.slowSum += close;
    s.fastSum += close;
    const n = s.closes.length;
    if (n > fast) s.fastSum -= s.closes[n - 1 - fast]!;
    if (n > slow) s.slowSum -= s.closes.shift()!;
    if (s.closes.length < slow) return;
    const above = slow * s.fastSum > fast * s.slowSum;
    const before = s.above;
    s.above = above;
    if (before === null) return;
    const long = ctx.position.qty !== "0";
    if (!before && above && !long) {
      const qty = ctx.maxBuyQty();
      if (qty !== "0") ctx.buy({ qty, tag: "cross_up" });
    } else if (before && !above && long) {
      ctx.sell({ qty: ctx.position.qty, tag: "cross_down" });
    }
  },
};
const USER_MA_CROSS = `export default {\n  params: ${JSON.stringify(userMaCross.params)},\n  ${userMaCross.onStart!.toString()},\n  ${userMaCross.onBar!.toString()},\n};\n`;

function compiled(source: string, language: "js" | "ts" = "js"): string {
  const result = compileStrategy(source, language);
  if (!result.ok) throw new Error(`test strategy does not compile: ${result.error.message}`);
  return result.js;
}

const venue = { makerBps: 7, takerBps: 7, minFee: "0.01", depthLevels: 1, slippageTicks: 0 };
const limits = { maxOrderQty: "100000000", maxOrderNotional: "100000000", maxPositionNotional: "100000000", dailyLossLimit: "100000000" };

function request(code: string, barCount: number, params: Record<string, unknown> = {}): CodeBacktestRequest {
  return { code, bars: seededBars(barCount, 7).bars, spec: COIN, params, cash: "100000", venue, limits, halfSpreadTicks: 1, maxSeriesPoints: SERIES_POINTS };
}

/** Fewer than the longest run's bars, so the sandbox's thinning of the curve is compared too. */
const SERIES_POINTS = 500;
const keepGoing = { chunkBars: 250, onProgress: async () => true };

function invokeRequest(callback: "onStart" | "onStop", nextId = 0): InvokeRequest {
  return {
    callback,
    event: null,
    instrument: COIN,
    params: {},
    state: {},
    view: { position: { qty: "0", qtyAvailable: "0", avgPrice: null, unrealizedPl: "0", realizedPl: "0" }, account: { cash: "1000.00", buyingPower: "1000.00", equity: "1000.00" }, openOrders: [], maxBuyQty: "9.5", maxSellQty: "0" },
    now: START,
    idPrefix: "run-",
    nextId,
  };
}

async function codeError(run: Promise<unknown>): Promise<StrategyCodeError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof StrategyCodeError) return error;
    throw error;
  }
  throw new Error("expected a StrategyCodeError");
}

describe("backtests of user code in the sandbox", () => {
  it("give byte for byte the result of the same strategy run in-process", async () => {
    const req = request(compiled(USER_MA_CROSS), 1500, { fast: 5, slow: 20 });
    const sandboxed = await runCodeBacktest(env, req, keepGoing);
    const inProcess = await runBacktest({ ...req, strategy: userMaCross });
    expect(inProcess.fills.length).toBeGreaterThan(10);
    expect(JSON.stringify(sandboxed)).toBe(JSON.stringify(backtestReport(inProcess, SERIES_POINTS)));
    expect("series" in sandboxed && sandboxed.series).toMatchObject({ total: 1500, downsampled: true });

    // Handing settled orders and fills over after every chunk (as a job stores them) loses none.
    const parts: BacktestPart[] = [];
    const streamed = await runCodeBacktest(env, req, { ...keepGoing, onSettled: (part) => parts.push(part) });
    expect(parts.length).toBe(Math.ceil(1500 / keepGoing.chunkBars));
    expect(parts.flatMap((p) => p.fills)).toEqual(inProcess.fills);
    expect(parts.flatMap((p) => p.orders).sort((a, b) => a.seq - b.seq).map((o) => o.order)).toEqual(inProcess.orders);
    expect(JSON.stringify({ ...streamed, orders: inProcess.orders, fills: inProcess.fills })).toBe(JSON.stringify(backtestReport(inProcess, SERIES_POINTS)));
  });

  it("start every run from a fresh module, so state kept at module scope cannot leak between runs", async () => {
    const code = `let bars = 0;\nexport default { onBar(bar, ctx) { bars += 1; ctx.state = { bars }; } };\n`;
    const first = await runCodeBacktest(env, request(code, 40), keepGoing);
    const second = await runCodeBacktest(env, request(code, 40), keepGoing);
    expect("state" in first && first.state).toEqual({ bars: 40 });
    expect("state" in second && second.state).toEqual({ bars: 40 });
  });

  it("see the event's clock and seeded randomness, so two runs of the same bars trade alike", async () => {
    // Reads every clock and source of randomness a module could reach, at module scope and
    // in each callback, and trades on a coin flip.
    const code = [
      "const loaded = [Date.now(), Math.random()];",
      "export default {",
      "  onBar(bar, ctx) {",
      "    if (bar.t === ctx.now && bar.t !== Date.now()) throw new Error('Date.now() is not the event time');",
      "    if (new Date().constructor.now() !== ctx.now) throw new Error('a date\\'s constructor reads another clock');",
      "    const bytes = crypto.getRandomValues(new Uint8Array(2));",
      "    ctx.log([Date.now(), new Date().toISOString(), Date(), performance.now(), Math.random(), crypto.randomUUID(), bytes.join(','), loaded.join(',')].join('|'));",
      "    if (Math.random() < 0.2) ctx.buy({ qty: 0.01 }); else if (ctx.position.qty !== '0' && Math.random() < 0.5) ctx.sell({ qty: ctx.position.qty });",
      "  },",
      "};",
    ].join("\n");
    const first = await runCodeBacktest(env, request(compiled(code), 120), keepGoing);
    const second = await runCodeBacktest(env, request(compiled(code), 120), keepGoing);
    if (!("logs" in first) || !("logs" in second)) throw new Error("no result");
    expect(first.fills.length).toBeGreaterThan(5);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    const t0 = request(code, 120).bars.at(0)!.t;
    const [now, iso, text, perf, random, uuid, bytes, loaded] = first.logs[0]!.text.split("|");
    expect(Number(now)).toBe(t0);
    expect(iso).toBe(new Date(t0).toISOString());
    expect(text).toBe(new Date(t0).toString());
    expect(Number(perf)).toBe(t0);
    expect(Number(random)).toBeGreaterThanOrEqual(0);
    expect(Number(random)).toBeLessThan(1);
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(bytes).toMatch(/^\d+,\d+$/);
    // Before any event the clock is 0.
    expect(loaded!.split(",")[0]).toBe("0");
  });

  it("report progress after every chunk of bars, and stop when progress answers false", async () => {
    const code = `export default { onBar(bar, ctx) { ctx.log(bar.close); } };\n`;
    const seen: [number, number][] = [];
    const done = await runCodeBacktest(env, request(code, 100), { chunkBars: 30, onProgress: async (d, t) => (seen.push([d, t]), true) });
    expect(seen).toEqual([[30, 100], [60, 100], [90, 100], [100, 100]]);
    expect("logs" in done && done.logs).toHaveLength(100);

    const asked: number[] = [];
    const cancelled = await runCodeBacktest(env, request(code, 100), { chunkBars: 25, onProgress: async (d) => (asked.push(d), d < 50) });
    expect(cancelled).toEqual({ cancelled: true });
    expect(asked).toEqual([25, 50]);
  });

  it("hand back to the host within a step's loop work, however many bars it was sent, with the same result", async () => {
    // Found in QA: callbacks each just inside their loop budget made one chunk of bars one
    // call of many seconds, and local workerd served nothing else meanwhile (the platform
    // answered 503s). A step stops after the bar that passes STEP_LOOP_BUDGET (20 million
    // iterations); the host sends the rest again. Each bar here runs 7 million: three a call.
    const code = `export default { onBar(bar, ctx) { let s = 0; for (let i = 0; i < 7e6; i++) s += i; ctx.state = { bars: ((ctx.state.bars ?? 0) + 1), s }; } };\n`;
    const seen: number[] = [];
    const done = await runCodeBacktest(env, request(code, 10), { chunkBars: 2_000, onProgress: async (d) => (seen.push(d), true) });
    expect(seen).toEqual([3, 6, 9, 10]);
    expect("state" in done && done.state).toEqual({ bars: 10, s: 7e6 * (7e6 - 1) / 2 });
    // Light callbacks still play a whole chunk a call.
    const light: number[] = [];
    await runCodeBacktest(env, request(`export default { onBar(bar, ctx) { for (let i = 0; i < 1000; i++); } };\n`, 100), { chunkBars: 60, onProgress: async (d) => (light.push(d), true) });
    expect(light).toEqual([60, 100]);
  });

  it("hand back to the host after a step's orders too, however few loops they take, with the same result", async () => {
    // Found in QA: a strategy placing 500 resting limits a bar held local workerd's one
    // thread for minutes in one call (its loop is short; the orders are the work). A step
    // stops after the bar that passes STEP_COMMAND_BUDGET (250) orders sent: 120 a bar, sent
    // at the next bar's first print (onBar's orders wait for it), so the first call plays four.
    const code = `export default { onBar(bar, ctx) { for (let i = 0; i < 120; i++) ctx.buy({ qty: 1, type: "limit", limit: 1 + i / 100 }); } };\n`;
    const seen: number[] = [];
    const done = await runCodeBacktest(env, request(code, 8), { chunkBars: 2_000, onProgress: async (d) => (seen.push(d), true) });
    expect(seen).toEqual([4, 7, 8]);
    // The same run one bar a call (the budget never reached) ends the same, field by field.
    const barByBar = await runCodeBacktest(env, request(code, 8), { chunkBars: 1, onProgress: async () => true });
    expect("orders" in done && done.orders.length).toBeGreaterThan(200);
    expect(JSON.stringify(done)).toBe(JSON.stringify(barByBar));
  });

  it("turn a throwing callback into a StrategyCodeError with the message and the line in the user's TypeScript", async () => {
    const source = `interface Memo {\n  seen: number;\n}\n\nexport default {\n  onBar(bar: { close: number }, ctx: { state: Memo }) {\n    if (bar.close > 0) throw new RangeError("no bars today");\n  },\n};\n`;
    const error = await codeError(runCodeBacktest(env, request(compiled(source, "ts"), 10), keepGoing));
    expect(error.reason).toBe("threw");
    expect(error.message).toContain("RangeError: no bars today");
    expect(error.line).toBe(7);
    expect(error.column).toBe(30);
  });

  it("stop a loop that never ends, at its line, without hanging the host", async () => {
    const code = `export default {\n  onBar(bar, ctx) {\n    let n = 0;\n    while (true) { n += 1; }\n  },\n};\n`;
    const error = await codeError(runCodeBacktest(env, request(code, 5), keepGoing));
    expect(error.reason).toBe("loop_budget");
    expect(error.line).toBe(4);
    expect(error.message).toMatch(/loop iterations in one callback/);
  });

  it("name a one-line file's loop by its keyword's own column, past the guards and the budget's import", async () => {
    const code = `export default { onBar(bar, ctx) { for (let i = 0; i < 3; i++) {} let n = 0; while (n >= 0) { n += 1; } } };`;
    const error = await codeError(runCodeBacktest(env, request(code, 5), keepGoing));
    expect(error.reason).toBe("loop_budget");
    expect([error.line, error.column]).toEqual([1, code.indexOf("while (") + 1]);
    expect(error.message).toContain(`(line 1, column ${error.column})`);
  });

  it("stop a for-of over an iterator of the code's own that never ends (found in QA: it hung the host)", async () => {
    const code = `const forever = { [Symbol.iterator]() { return { next: () => ({ done: false, value: 1 }) }; } };\nexport default {\n  onBar(bar, ctx) {\n    for (const x of forever) {}\n  },\n};\n`;
    const error = await codeError(runCodeBacktest(env, request(code, 5), keepGoing));
    expect(error.reason).toBe("loop_budget");
    expect(error.line).toBe(4);
  });

  it("report a module that throws while loading as a crash", async () => {
    const error = await codeError(runCodeBacktest(env, request(`throw new Error("top level");\nexport default {};\n`, 5), keepGoing));
    expect(error.reason).toBe("crashed");
    expect(error.message).toContain("top level");
  });

  it("cannot change the built-ins the engine computes its results with (found in QA: Math.sqrt replaced its Sharpe)", async () => {
    const atLoad = await codeError(runCodeBacktest(env, request(`Math.sqrt = () => -1;\nexport default { onBar() {} };\n`, 5), keepGoing));
    expect(atLoad.reason).toBe("crashed");
    expect(atLoad.message).toMatch(/TypeError: Cannot assign to read only property 'sqrt'/);
    const inCallback = await codeError(runCodeBacktest(env, request(`export default {\n  onBar() {\n    JSON.stringify = () => "{}";\n  },\n};\n`, 5), keepGoing));
    expect(inCallback.reason).toBe("threw");
    expect(inCallback.line).toBe(3);
    // Reading them, and giving objects of its own their own methods, work as ever.
    const plain = await runCodeBacktest(env, request(`const o = { toString() { return "mine"; } };\nexport default { onBar(bar, ctx) { ctx.state = { r: Math.sqrt(bar.close) > 0, s: String(o) }; } };\n`, 5), keepGoing);
    expect("state" in plain && plain.state).toEqual({ r: true, s: "mine" });
  });
});

describe("live callbacks in the sandbox", () => {
  it("return the callback's commands, state and logs", async () => {
    const code = `export default {\n  onStart(ctx) {\n    ctx.log("starting", ctx.params.size);\n    ctx.state = { started: ctx.now };\n    ctx.buy({ qty: ctx.maxBuyQty(), tag: "in" });\n    ctx.cancel("run-0");\n  },\n  params: { size: 3 },\n};\n`;
    using sandbox = openStrategySandbox(env, "live-commands", code);
    const result = await sandbox.invoke(invokeRequest("onStart", 4));
    expect(result.state).toEqual({ started: START });
    expect(result.logs).toEqual([{ t: START, text: "starting 3" }]);
    expect(result.nextId).toBe(5);
    expect(result.commands).toEqual([
      { kind: "place", id: "run-5", tag: "in", fields: { side: "buy", type: "market", time_in_force: "gtc", client_order_id: "run-5", qty: "9.5" } },
      { kind: "cancel", id: "run-0" },
    ]);
  });

  it("reuse one isolate for the callbacks of one code version", async () => {
    const code = `let calls = 0;\nexport default { onStart(ctx) { calls += 1; ctx.log(calls); } };\n`;
    using sandbox = openStrategySandbox(env, "live-warm", code);
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push((await sandbox.invoke(invokeRequest("onStart"))).logs[0]!.text);
    expect(texts).toEqual(["1", "2", "3"]);
  });

  it("have no network and no bindings", async () => {
    const code = `import { env } from "cloudflare:workers";\nlet outcome = "pending";\nexport default {\n  onStart(ctx) {\n    try {\n      fetch("https://example.com").then(() => (outcome = "reached the network"), (e) => (outcome = "refused: " + e.message));\n    } catch (e) {\n      outcome = "threw: " + e.message;\n    }\n    ctx.log(JSON.stringify(Object.keys(env)) + " " + typeof caches);\n  },\n  onStop(ctx) { ctx.log(outcome); },\n};\n`;
    using sandbox = openStrategySandbox(env, "live-offline", code);
    const started = await sandbox.invoke(invokeRequest("onStart"));
    // No bindings, and no Cache API (a store shared beyond the isolate).
    expect(started.logs[0]!.text).toBe("[] undefined");
    let outcome = "pending";
    for (let i = 0; i < 50 && outcome === "pending"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      outcome = (await sandbox.invoke(invokeRequest("onStop"))).logs[0]!.text;
    }
    expect(outcome).toMatch(/^(refused|threw): /);
  });

  it("stop an endless loop in a callback and keep serving the next one", async () => {
    const code = `export default {\n  onStart(ctx) { for (;;) {} },\n  onStop(ctx) { ctx.log("still here"); },\n};\n`;
    using sandbox = openStrategySandbox(env, "live-loop", code);
    const error = await codeError(sandbox.invoke(invokeRequest("onStart")));
    expect(error.reason).toBe("loop_budget");
    expect(error.line).toBe(2);
    expect((await sandbox.invoke(invokeRequest("onStop"))).logs).toEqual([{ t: START, text: "still here" }]);
  });
});

describe("sandbox throughput (printed for the report)", () => {
  it("measures callbacks per second and bars per second against in-process", async () => {
    // Best of two runs each: the figures are for the report, on a machine shared with other work.
    const best = async (run: () => Promise<unknown>) => {
      let fastest = Infinity;
      for (let round = 0; round < 2; round++) {
        const t0 = Date.now();
        await run();
        fastest = Math.min(fastest, Math.max(1, Date.now() - t0));
      }
      return fastest;
    };
    using sandbox = openStrategySandbox(env, "bench", `export default { onBar(bar, ctx) { ctx.state = { n: 1 }; } };\n`);
    const calls = 1000;
    const onBar = { ...invokeRequest("onStart"), callback: "onBar" as const, event: { t: START, open: 1, high: 1, low: 1, close: 1, volume: 1 } };
    const callsMs = await best(async () => {
      for (let i = 0; i < calls; i++) await sandbox.invoke(onBar);
    });
    const req = request(compiled(USER_MA_CROSS), 3000);
    const sandboxMs = await best(() => runCodeBacktest(env, req, { chunkBars: 1000, onProgress: async () => true }));
    const inProcessMs = await best(() => runBacktest({ ...req, strategy: userMaCross }));
    const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
    console.log(`sandbox: ${rate(calls, callsMs)} onBar invoke calls/s; backtest ${rate(req.bars.length, sandboxMs)} bars/s in the sandbox (load included) vs ${rate(req.bars.length, inProcessMs)} bars/s in-process`);
    expect(callsMs).toBeGreaterThan(0);
  }, 120_000);
});
