import { env } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, createKey, expectError, json, signUp, until, type TestUser } from "./helpers";
import { createInstrument } from "./market-helpers";
import { appendVersion, moveStrategy, ownStrategy } from "../workers/lib/strategies";

interface Strategy {
  id: string;
  name: string;
  kind: "template" | "code";
  template: string | null;
  symbol: string;
  timeframe: string;
  params: Record<string, unknown>;
  current_version: number;
  status: string;
  status_message: string | null;
  running_version: number | null;
  notice?: string | null;
}

interface Version {
  strategy_id: string;
  version: number;
  template: string | null;
  params: Record<string, unknown>;
  language: string | null;
  source?: string | null;
  compiled?: string | null;
}

const TS_SOURCE = `interface Bar { close: number }
export default {
  onBar(bar: Bar, ctx: { log(...a: unknown[]): void }) {
    ctx.log(bar.close);
  },
};
`;

let names = 0;
const uniqueName = (what: string) => `${what} ${++names}`;

const as = (user: TestUser) => ({ token: user.access, ip: user.ip });

async function createStrategy(user: TestUser, body: Record<string, unknown>): Promise<Strategy> {
  const res = await call("/api/strategies", { body: { name: uniqueName("strategy"), symbol: "AAPL", ...body }, ...as(user) });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return json<Strategy>(res);
}

describe("saving strategies from templates", () => {
  it("fills the template's defaults, defaults the timeframe to 1Min and starts at version 1, stopped", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross", params: { fast: 5 }, symbol: "aapl" });
    expect(created).toMatchObject({
      kind: "template",
      template: "ma-cross",
      symbol: "AAPL",
      timeframe: "1Min",
      params: { fast: 5, slow: 30, sizing: "all_in" },
      current_version: 1,
      status: "stopped",
      running_version: null,
      last_run: null,
    });
    const version = await json<Version>(await call(`/api/strategies/${created.id}/versions/1`, as(trader)));
    expect(version).toMatchObject({ version: 1, template: "ma-cross", params: { fast: 5, slow: 30 }, source: null, compiled: null });
    // A pair without its slash is the pair, as orders read it (found in QA: "not a listed asset").
    expect((await createStrategy(trader, { kind: "template", template: "ma-cross", symbol: "btcusd" })).symbol).toBe("BTC/USD");
    // An id in capitals is the same id.
    expect((await json<Strategy>(await call(`/api/strategies/${created.id.toUpperCase()}`, as(trader)))).id).toBe(created.id);
    // Never started: its statistics and a stop are 409 (it exists; 404 is "not found or not
    // yours"), its log is empty.
    expect((await expectError(await call(`/api/strategies/${created.id}/stats`, as(trader)), 409)).message).toBe("the strategy has never run: start it first");
    await expectError(await call(`/api/strategies/${created.id}/stop`, { method: "POST", ...as(trader) }), 409);
    expect(await json(await call(`/api/strategies/${created.id}/logs`, as(trader)))).toEqual({ lines: [], next_after: 0 });
  });

  it("stores the canonical spelling of the timeframe and refuses frames the live feed does not make", async () => {
    const trader = await signUp();
    expect((await createStrategy(trader, { kind: "template", template: "ma-cross", timeframe: "5min" })).timeframe).toBe("5Min");
    const refused = await expectError(await call("/api/strategies", { body: { name: "weekly", symbol: "AAPL", kind: "template", template: "ma-cross", timeframe: "1Week" }, ...as(trader) }), 422);
    expect(refused.details.map((d) => d.path)).toEqual(["timeframe"]);
  });

  it("refuses bad parameters with 422 naming each one under params", async () => {
    const trader = await signUp();
    const res = await call("/api/strategies", { body: { name: "bad", symbol: "AAPL", kind: "template", template: "ma-cross", params: { fast: 40, slow: "x" } }, ...as(trader) });
    const error = await expectError(res, 422);
    expect(error.details.map((d) => d.path)).toContain("params.slow");
    const fastOverSlow = await expectError(await call("/api/strategies", { body: { name: "bad2", symbol: "AAPL", kind: "template", template: "ma-cross", params: { fast: 40, slow: 30 } }, ...as(trader) }), 422);
    expect(fastOverSlow.details).toEqual([expect.objectContaining({ path: "params.fast", message: "fast must be less than slow" })]);
    // A grid closer than the symbol's tick (AAPL's is 0.01) could never start: refused when saved, and when edited.
    const tight = { lower: 100, upper: 100.05, levels: 11, qty: 1 };
    const refusedGrid = await expectError(await call("/api/strategies", { body: { name: "tight", symbol: "AAPL", kind: "template", template: "grid", params: tight }, ...as(trader) }), 422);
    expect(refusedGrid.details).toEqual([{ path: "params.levels", message: "11 lines from 100 to 100.05 are not one tick 0.01 apart: at most 6 lines fit between them" }]);
    expect(await json<Strategy[]>(await call("/api/strategies", as(trader)))).toEqual([]);
    const grid = await json<Strategy>(await call("/api/strategies", { body: { name: "grid", symbol: "AAPL", kind: "template", template: "grid", params: { ...tight, levels: 6 } }, ...as(trader) }));
    const edit = await expectError(await call(`/api/strategies/${grid.id}`, { method: "PATCH", body: { params: { levels: 7 } }, ...as(trader) }), 422);
    expect(edit.details.map((d) => d.path)).toEqual(["params.levels"]);
    expect((await json<Strategy>(await call(`/api/strategies/${grid.id}`, as(trader)))).current_version).toBe(1);
  });

  it("refuses an unknown template, an unknown symbol, and a template strategy with source", async () => {
    const trader = await signUp();
    const unknownTemplate = await expectError(await call("/api/strategies", { body: { name: "x", symbol: "AAPL", kind: "template", template: "astrology" }, ...as(trader) }), 422);
    expect(unknownTemplate.details[0]).toMatchObject({ path: "template" });
    const unknownSymbol = await expectError(await call("/api/strategies", { body: { name: "x", symbol: "NOPE", kind: "template", template: "ma-cross" }, ...as(trader) }), 422);
    expect(unknownSymbol.details[0]).toMatchObject({ path: "symbol" });
    const mixed = await expectError(await call("/api/strategies", { body: { name: "x", symbol: "AAPL", kind: "template", template: "ma-cross", source: TS_SOURCE }, ...as(trader) }), 422);
    expect(mixed.details.map((d) => d.path)).toEqual(["source"]);
    // A name is shown to its owner and in notifications: no control characters or text-direction marks.
    const spoofed = await expectError(await call("/api/strategies", { body: { name: "\u202e\u0000x", symbol: "AAPL", kind: "template", template: "ma-cross" }, ...as(trader) }), 422);
    expect(spoofed.details.map((d) => d.path)).toEqual(["name"]);
    // A name that is there but empty (or only spaces) is not "required": it must not be empty.
    for (const name of ["", "   "]) {
      const empty = await expectError(await call("/api/strategies", { body: { name, symbol: "AAPL", kind: "template", template: "ma-cross" }, ...as(trader) }), 422);
      expect(empty.details).toMatchObject([{ path: "name", message: "must not be empty" }]);
    }
    expect((await call("/api/strategies", { body: { name: "🚀 SPY trend — été", symbol: "AAPL", kind: "template", template: "ma-cross" }, ...as(trader) })).status).toBe(201);
  });

  it("refuses a second strategy of the same name with 409, and a 51st strategy with 409", async () => {
    const trader = await signUp();
    await createStrategy(trader, { kind: "template", template: "ma-cross", name: "trend" });
    const duplicate = await expectError(await call("/api/strategies", { body: { name: "trend", symbol: "SPY", kind: "template", template: "ma-cross" }, ...as(trader) }), 409);
    expect(duplicate.details[0]).toMatchObject({ path: "name" });
    // 48 more straight into D1 (the API's rate limit would make 50 requests slow), then the 50th and 51st through the API.
    const now = Date.now();
    await env.DB.batch(
      Array.from({ length: 48 }, (_, i) =>
        env.DB.prepare("INSERT INTO strategies (id, user_id, name, kind, template, symbol, timeframe, params, current_version, status, created_at, updated_at) VALUES (?, ?, ?, 'template', 'ma-cross', 'AAPL', '1Min', '{}', 1, 'stopped', ?, ?)").bind(
          crypto.randomUUID(),
          trader.id,
          `filler ${i}`,
          now,
          now,
        ),
      ),
    );
    await createStrategy(trader, { kind: "template", template: "ma-cross", name: "fiftieth" });
    const tooMany = await expectError(await call("/api/strategies", { body: { name: "fifty-first", symbol: "AAPL", kind: "template", template: "ma-cross" }, ...as(trader) }), 409);
    expect(tooMany.message).toContain("at most 50");
  });

  it("lists every template with its parameters' JSON Schema and defaults", async () => {
    const user = await signUp("user");
    const templates = await json<{ name: string; params_schema: { properties: Record<string, unknown> }; defaults: Record<string, unknown> }[]>(await call("/api/strategies/templates", as(user)));
    const maCross = templates.find((t) => t.name === "ma-cross");
    expect(maCross?.defaults).toMatchObject({ fast: 10, slow: 30, sizing: "all_in" });
    expect(Object.keys(maCross?.params_schema.properties ?? {})).toEqual(expect.arrayContaining(["fast", "slow", "sizing"]));
  });
});

describe("saving strategies as code", () => {
  it("compiles TypeScript at save: the version keeps the source and the JavaScript without types", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "code", source: TS_SOURCE, language: "ts", params: { threshold: 3 } });
    expect(created).toMatchObject({ kind: "code", template: null, params: { threshold: 3 }, current_version: 1 });
    const version = await json<Version>(await call(`/api/strategies/${created.id}/versions/1`, as(trader)));
    expect(version.source).toBe(TS_SOURCE);
    expect(version.language).toBe("ts");
    expect(version.compiled).toContain("export default");
    expect(version.compiled).not.toContain("interface Bar");
  });

  it("refuses a syntax error with 422 giving its line and column", async () => {
    const trader = await signUp();
    const source = "export default {\n  onBar(bar) {\n    if (bar.close > ) {}\n  },\n};\n";
    const error = await expectError(await call("/api/strategies", { body: { name: "broken", symbol: "AAPL", kind: "code", language: "js", source }, ...as(trader) }), 422);
    // "    if (bar.close > ) {}": the ")" where an operand belongs is the 21st character.
    expect(error.message).toContain("line 3, column 21");
    expect(error.details).toEqual([expect.objectContaining({ path: "source", line: 3, column: 21 })]);
    expect(await json<Strategy[]>(await call("/api/strategies", as(trader)))).toEqual([]);
  });

  it("refuses what the compiler passes but the runtime cannot load, with its line, on create and on edit", async () => {
    const trader = await signUp();
    // Columns count from 1, as the compiler's do (found in QA: the runtime's syntax errors counted from 0).
    const cases: [string, string, number, number][] = [
      ["a let declared twice", "export default {\n  onBar() {\n    let a = 1;\n    let a = 2;\n  },\n};\n", 4, 9],
      ["break outside a loop", "export default {\n  onBar() {\n    break;\n  },\n};\n", 3, 5],
      ["a throw at module scope", "const x = null;\nx.y;\nexport default { onBar() {} };\n", 2, 3],
    ];
    for (const [name, source, line, column] of cases) {
      const error = await expectError(await call("/api/strategies", { body: { name, symbol: "AAPL", kind: "code", language: "js", source }, ...as(trader) }), 422);
      expect(error.message, name).toMatch(/^the module does not load: /);
      expect(error.details, name).toEqual([expect.objectContaining({ path: "source", line, column })]);
      expect(error.message, name).toMatch(new RegExp(`^the module does not load: \\w*Error: [^\\n]+ \\(line ${line}, column ${column}\\)$`));
    }
    // A module that loads but has no callback (found in QA: it saved and did nothing).
    for (const source of ["export default 42;\n", "export default function () {}\n", "export default { onBar: 5 };\n", "export default {};\n"]) {
      const error = await expectError(await call("/api/strategies", { body: { name: "nothing", symbol: "AAPL", kind: "code", language: "js", source }, ...as(trader) }), 422);
      expect(error.message, source).toContain("none of the callbacks");
    }
    expect(await json<Strategy[]>(await call("/api/strategies", as(trader)))).toEqual([]);
    // An edit that breaks a saved strategy is refused the same way, and the saved version stays.
    const saved = await createStrategy(trader, { kind: "code", language: "js", source: "export default { onBar() {} };\n" });
    const edit = await call(`/api/strategies/${saved.id}`, { method: "PATCH", body: { source: cases[0]![1] }, ...as(trader) });
    await expectError(edit, 422);
    expect((await json<Strategy>(await call(`/api/strategies/${saved.id}`, as(trader)))).current_version).toBe(1);
  });

  it("refuses imports: the sandbox has no modules besides the strategy", async () => {
    const trader = await signUp();
    const source = 'import { x } from "lib";\nexport default {};\n';
    const error = await expectError(await call("/api/strategies", { body: { name: "imports", symbol: "AAPL", kind: "code", source }, ...as(trader) }), 422);
    expect(error.message).toContain("no modules besides itself");
  });

  it("refuses a source over 48 KiB with 422 saying the limit, not a bare 413", async () => {
    const trader = await signUp();
    const source = `export default { onBar() {} };\n${"// a line of commentary that pads the strategy\n".repeat(1100)}`; // about 52 KB
    const error = await expectError(await call("/api/strategies", { body: { name: "long", symbol: "AAPL", kind: "code", language: "js", source }, ...as(trader) }), 422);
    expect(error.message).toContain("48 KiB");
    const fits = source.slice(0, 48 * 1024 - 100);
    expect((await call("/api/strategies", { body: { name: "long enough", symbol: "AAPL", kind: "code", language: "js", source: fits }, ...as(trader) })).status).toBe(201);
  });
});

describe("editing strategies", () => {
  it("saves new params as version 2 and keeps version 1 readable", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    const res = await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { params: { fast: 3 } }, ...as(trader) });
    expect(res.status).toBe(200);
    const updated = await json<Strategy>(res);
    expect(updated).toMatchObject({ current_version: 2, params: { fast: 3, slow: 30, sizing: "all_in" }, notice: null });
    const versions = await json<Version[]>(await call(`/api/strategies/${created.id}/versions`, as(trader)));
    expect(versions.map((v) => [v.version, v.params.fast])).toEqual([
      [2, 3],
      [1, 10],
    ]);
    expect((await json<Version>(await call(`/api/strategies/${created.id}/versions/1`, as(trader)))).params).toEqual({ ...created.params, fast: 10 });
    await expectError(await call(`/api/strategies/${created.id}/versions/3`, as(trader)), 404);
    // An edit that changes nothing (no params, the same params in another order) makes no version.
    for (const params of [{}, { slow: 30, fast: 3 }]) {
      const same = await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { params }, ...as(trader) });
      expect(same.status).toBe(200);
      expect((await json<Strategy>(same)).current_version).toBe(2);
    }
    expect(await json<Version[]>(await call(`/api/strategies/${created.id}/versions`, as(trader)))).toHaveLength(2);
  });

  it("recompiles new source as a new version; a bad edit changes nothing", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "code", source: TS_SOURCE });
    const broken = await expectError(await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { source: "export default {" }, ...as(trader) }), 422);
    expect(broken.details[0]).toMatchObject({ path: "source", line: 1 });
    const edited = await json<Strategy>(await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { source: "export default { onBar() {} };" }, ...as(trader) }));
    expect(edited.current_version).toBe(2);
    const v2 = await json<Version>(await call(`/api/strategies/${created.id}/versions/2`, as(trader)));
    expect(v2).toMatchObject({ source: "export default { onBar() {} };", language: "ts" });
    expect((await json<Version>(await call(`/api/strategies/${created.id}/versions/1`, as(trader)))).source).toBe(TS_SOURCE);
  });

  it("renames without a new version, and refuses a name the user already has", async () => {
    const trader = await signUp();
    const a = await createStrategy(trader, { kind: "template", template: "ma-cross", name: "alpha" });
    await createStrategy(trader, { kind: "template", template: "ma-cross", name: "beta" });
    const renamed = await json<Strategy>(await call(`/api/strategies/${a.id}`, { method: "PATCH", body: { name: "gamma" }, ...as(trader) }));
    expect(renamed).toMatchObject({ name: "gamma", current_version: 1 });
    await expectError(await call(`/api/strategies/${a.id}`, { method: "PATCH", body: { name: "beta" }, ...as(trader) }), 409);
    await expectError(await call(`/api/strategies/${a.id}`, { method: "PATCH", body: { name: "beta", params: { fast: 2 } }, ...as(trader) }), 409);
    expect(await json<Strategy>(await call(`/api/strategies/${a.id}`, as(trader)))).toMatchObject({ name: "gamma", current_version: 1 });
  });

  it("gives concurrent edits distinct consecutive versions, without a server error", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    const fasts = [2, 3, 4, 5, 6, 7];
    const responses = await Promise.all(fasts.map((fast) => call(`/api/strategies/${created.id}`, { method: "PATCH", body: { params: { fast } }, ...as(trader) })));
    expect(responses.map((r) => r.status)).toEqual(fasts.map(() => 200));
    const saved = await Promise.all(responses.map((r) => json<Strategy>(r)));
    expect(saved.map((s) => s.current_version).sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7]);
    const versions = await json<Version[]>(await call(`/api/strategies/${created.id}/versions`, as(trader)));
    expect(versions.map((v) => v.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    // Each response describes the version it saved.
    for (const s of saved) expect(versions.find((v) => v.version === s.current_version)?.params.fast).toBe(s.params.fast);
    expect(new Set(versions.slice(0, 6).map((v) => v.params.fast))).toEqual(new Set(fasts));
  });

  it("lets a running strategy keep its version and says so", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    await env.DB.prepare("UPDATE strategies SET status = 'running', running_version = 1 WHERE id = ?").bind(created.id).run();
    const updated = await json<Strategy>(await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { params: { fast: 4 } }, ...as(trader) }));
    expect(updated).toMatchObject({ status: "running", running_version: 1, current_version: 2 });
    expect(updated.notice).toContain("still running version 1");
  });
});

describe("who sees and changes a strategy", () => {
  it("answers 404 to another user, for reads, edits and deletes alike", async () => {
    const [owner, other, admin] = await Promise.all([signUp(), signUp(), signUp("admin")]);
    const created = await createStrategy(owner, { kind: "code", source: TS_SOURCE });
    for (const path of [`/api/strategies/${created.id}`, `/api/strategies/${created.id}/versions`, `/api/strategies/${created.id}/versions/1`]) {
      await expectError(await call(path, as(other)), 404);
    }
    await expectError(await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { name: "mine now" }, ...as(other) }), 404);
    await expectError(await call(`/api/strategies/${created.id}`, { method: "DELETE", ...as(admin) }), 404);
    expect(await json<Strategy[]>(await call("/api/strategies", as(other)))).toEqual([]);
    expect(await json<Strategy>(await call(`/api/strategies/${created.id}`, as(owner)))).toMatchObject({ name: created.name, current_version: 1 });
  });

  it("lets a user role and a read-only key list strategies but not create them", async () => {
    const [user, trader] = await Promise.all([signUp("user"), signUp()]);
    await createStrategy(trader, { kind: "template", template: "ma-cross" });
    const readKey = await createKey(trader, ["read"]);
    expect((await call("/api/strategies", as(user))).status).toBe(200);
    expect(await json<Strategy[]>(await call("/api/strategies", { apiKey: readKey }))).toHaveLength(1);
    const body = { name: "nope", symbol: "AAPL", kind: "template", template: "ma-cross" };
    await expectError(await call("/api/strategies", { body, ...as(user) }), 403);
    await expectError(await call("/api/strategies", { body, apiKey: readKey }), 403);
  });

  it("moves a stopped strategy to another symbol or timeframe: checked like a new one, without a new version, and refused whole", async () => {
    const [trader, admin] = await Promise.all([signUp(), signUp("admin")]);
    // A grid whose lines are one AAPL tick (0.01) apart, and a symbol whose tick is 0.05.
    const grid = await createStrategy(trader, { kind: "template", template: "grid", params: { lower: 100, upper: 100.05, levels: 6, qty: 1 } });
    const coarse = await createInstrument(admin, { tick_size: "0.05" });
    const patch = (id: string, body: Record<string, unknown>) => call(`/api/strategies/${id}`, { method: "PATCH", body, ...as(trader) });
    const stored = async (id: string) => json<Strategy>(await call(`/api/strategies/${id}`, as(trader)));

    const unknown = await expectError(await patch(grid.id, { symbol: "NOPE" }), 422);
    expect(unknown.details).toEqual([{ path: "symbol", message: "is not a listed asset" }]);
    const frame = await expectError(await patch(grid.id, { timeframe: "2Min" }), 422);
    expect(frame.details.map((d) => d.path)).toEqual(["timeframe"]);
    // The parameters must hold on the instrument it moves to; the refusal changes nothing, the rename with it included.
    const tight = await expectError(await patch(grid.id, { symbol: coarse.symbol, name: "renamed" }), 422);
    expect(tight.details).toEqual([{ path: "params.levels", message: "6 lines from 100 to 100.05 are not one tick 0.05 apart: at most 2 lines fit between them" }]);
    expect(await stored(grid.id)).toMatchObject({ name: grid.name, symbol: "AAPL", timeframe: "1Min", current_version: 1 });
    // With parameters that fit, in the same edit: one new version, moved.
    const moved = await json<Strategy>(await patch(grid.id, { symbol: coarse.symbol, timeframe: "1H", params: { levels: 2 } }));
    expect(moved).toMatchObject({ symbol: coarse.symbol, timeframe: "1Hour", current_version: 2, params: { levels: 2 } });

    // A code strategy moves without being compiled again: the same version, the timeframe unchanged when not named.
    const code = await createStrategy(trader, { kind: "code", source: "export default { onBar() {} };", language: "js", timeframe: "5Min" });
    expect(await json<Strategy>(await patch(code.id, { symbol: coarse.symbol.toLowerCase() }))).toMatchObject({ symbol: coarse.symbol, timeframe: "5Min", current_version: 1 });
    // An edit that names neither keeps both.
    expect(await json<Strategy>(await patch(code.id, { name: "still there" }))).toMatchObject({ symbol: coarse.symbol, timeframe: "5Min", name: "still there" });
    // Its own symbol, delisted since, is not a move: the edit stands (found in QA).
    expect((await call(`/api/admin/assets/${coarse.id}`, { method: "PATCH", token: admin.access, body: { status: "inactive" } })).status).toBe(200);
    expect(await json<Strategy>(await patch(code.id, { symbol: coarse.symbol, name: "kept" }))).toMatchObject({ symbol: coarse.symbol, name: "kept" });
    // Moving another strategy there is refused.
    const other = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    expect((await expectError(await patch(other.id, { symbol: coarse.symbol }), 422)).details).toEqual([{ path: "symbol", message: "is not active" }]);
  });

  it("lands a move, a parameter edit and a rename made at once each whole, or checks it again (found in QA)", async () => {
    const [trader, admin] = await Promise.all([signUp(), signUp("admin")]);
    // Lines 5 apart fit a tick of 5; lines 1 apart do not. Each edit alone is accepted; both together would not be.
    const coarse = await createInstrument(admin, { tick_size: "5" });
    const patch = (id: string, body: Record<string, unknown>) => call(`/api/strategies/${id}`, { method: "PATCH", body, ...as(trader) });
    // The writes themselves, each given the row as it was read before another landed:
    // an edit checked on AAPL is not saved once the strategy is on another symbol, and a move writes no stale name.
    const raced = await createStrategy(trader, { kind: "template", template: "grid", params: { lower: 50, upper: 100, levels: 11, qty: 1 } });
    const read = (await ownStrategy(env, trader.id, raced.id))!;
    expect((await patch(raced.id, { name: "renamed meanwhile" })).status).toBe(200);
    const moved = await moveStrategy(env, read, { symbol: coarse.symbol, timeframe: read.timeframe }, undefined, Date.now());
    expect(moved).toMatchObject({ symbol: coarse.symbol, name: "renamed meanwhile" });
    const content = { template: "grid", params: { lower: 90, upper: 100, levels: 11, qty: 1 }, source: null, compiled: null, language: null };
    expect(await appendVersion(env, read, content, undefined, Date.now())).toBeUndefined();
    expect((await ownStrategy(env, trader.id, raced.id))!).toMatchObject({ symbol: coarse.symbol, currentVersion: 1 });

    // And through the API, at once.
    for (let round = 0; round < 6; round++) {
      const grid = await createStrategy(trader, { kind: "template", template: "grid", params: { lower: 50, upper: 100, levels: 11, qty: 1 } });
      const [edit, move, rename] = await Promise.all([patch(grid.id, { params: { lower: 90 } }), patch(grid.id, { symbol: coarse.symbol }), patch(grid.id, { name: `renamed ${round}` })]);
      for (const res of [edit, move, rename]) expect([200, 409, 422], await res.clone().text()).toContain(res.status);
      expect(rename.status).toBe(200);
      const stored = await json<Strategy>(await call(`/api/strategies/${grid.id}`, as(trader)));
      // Never the edit's parameters on the symbol they do not fit, and never the rename undone.
      expect(stored.name).toBe(`renamed ${round}`);
      if (stored.symbol === coarse.symbol) expect(stored.params.lower).toBe(50);
      expect(stored.symbol === coarse.symbol).toBe(move.status === 200);
      expect(stored.params.lower === 90).toBe(edit.status === 200);
    }
  });

  it("deletes a stopped strategy with its versions, and refuses while it runs", async () => {
    const admin = await signUp("admin");
    const created = await createStrategy(admin, { kind: "template", template: "ma-cross" });
    await env.DB.prepare("UPDATE strategies SET status = 'running', running_version = 1 WHERE id = ?").bind(created.id).run();
    const running = await expectError(await call(`/api/strategies/${created.id}`, { method: "DELETE", ...as(admin) }), 409);
    expect(running.message).toContain("stop it");
    await env.DB.prepare("UPDATE strategies SET status = 'stopped', running_version = NULL WHERE id = ?").bind(created.id).run();
    expect((await call(`/api/strategies/${created.id}`, { method: "DELETE", ...as(admin) })).status).toBe(204);
    await expectError(await call(`/api/strategies/${created.id}`, as(admin)), 404);
    const versions = await env.DB.prepare("SELECT count(*) AS n FROM strategy_versions WHERE strategy_id = ?").bind(created.id).first<{ n: number }>();
    expect(versions?.n).toBe(0);
  });

  it("needs strategy:delete to delete: a trader's own strategy stays", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    await expectError(await call(`/api/strategies/${created.id}`, { method: "DELETE", ...as(trader) }), 403);
    expect((await call(`/api/strategies/${created.id}`, as(trader))).status).toBe(200);
  });

  it("records each save in the audit log as a strategy event", async () => {
    const trader = await signUp();
    const created = await createStrategy(trader, { kind: "template", template: "ma-cross" });
    await call(`/api/strategies/${created.id}`, { method: "PATCH", body: { params: { fast: 4 } }, ...as(trader) });
    const types = await until(async () => {
      const rows = await env.DB.prepare("SELECT type FROM audit_log WHERE subject = ? ORDER BY occurred_at").bind(`strategy:${created.id}`).all<{ type: string }>();
      return rows.results.length >= 2 && rows.results.map((r) => r.type);
    }, "two strategy events in the audit log");
    expect(types).toEqual(["strategy.created", "strategy.updated"]);
  });
});

describe("the strategies API contract", () => {
  it("is in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } }>(await call("/openapi.json"));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/strategies", "/api/strategies/templates", "/api/strategies/{id}", "/api/strategies/{id}/versions", "/api/strategies/{id}/versions/{version}"]),
    );
    expect(Object.keys(doc.paths["/api/strategies/{id}"] ?? {})).toEqual(expect.arrayContaining(["get", "patch", "delete"]));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Strategy", "CreateStrategyRequest", "UpdateStrategyRequest", "StrategyVersionDetail", "StrategyTemplate"]));
  });

  it("answers random saves and edits with 2xx or the 4xx envelope, never a server error", async () => {
    const trader = await signUp();
    const target = await createStrategy(trader, { kind: "code", source: "export default { onBar() {} };" });
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 2 }), fc.constantFrom("ma-cross", "AAPL", "5Min", "ts", "js", "code", "template", "__proto__"));
    // Sources: random text, and valid code with random damage at a random place.
    const source = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(fc.nat({ max: 60 }), fc.string({ maxLength: 3 })).map(([at, junk]) => { const s = "export default { onBar(bar: { close: number }, ctx) { ctx.log(bar.close); } };"; return s.slice(0, at) + junk + s.slice(at); }),
    );
    const body = fc.record(
      { name: fc.oneof(fc.string({ maxLength: 70 }), value), symbol: fc.oneof(fc.constantFrom("AAPL", "SPY", "nope"), value), kind: fc.oneof(fc.constantFrom("template", "code"), value), template: value, params: value, source, language: fc.oneof(fc.constantFrom("js", "ts"), value), timeframe: value },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (b, edit) => {
        const res = edit ? await call(`/api/strategies/${target.id}`, { method: "PATCH", body: b, ...as(trader) }) : await call("/api/strategies", { body: b, ...as(trader) });
        expect(res.status, await res.clone().text()).toBeLessThan(500);
        if (res.status >= 400) await expectError(res, res.status);
      }),
      { numRuns: 60 },
    );
  });
});
