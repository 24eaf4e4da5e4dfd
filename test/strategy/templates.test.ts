import { describe, expect, it } from "vitest";
import type { Strategy } from "../../shared/strategy/runtime";
import { checkTemplateParams, TEMPLATES, templateJsonSchema, templateParams } from "../../shared/strategy/templates";
import { instrumentSpec } from "../../shared/trading/asset";
import { seededBars } from "./helpers";
import { backtest } from "./templates-harness";

const NAMES = ["ma-cross", "rsi-reversion", "bollinger", "donchian", "macd", "dual-thrust", "grid", "dca"];

describe("the template registry", () => {
  it("has the eight built-in templates, each with a title and a short description", () => {
    expect([...TEMPLATES.keys()]).toEqual(NAMES);
    for (const t of TEMPLATES.values()) {
      expect(t.title.length).toBeGreaterThan(3);
      expect(t.description.length).toBeGreaterThan(40);
      expect(t.description.length).toBeLessThan(320);
      expect(t.description.split(/\.\s/).length).toBeLessThanOrEqual(3);
    }
  });

  it.each(NAMES)("%s: its defaults validate and are the strategy's own defaults", (name) => {
    const t = TEMPLATES.get(name)!;
    const checked = templateParams(t, {});
    expect(checked).toEqual({ ok: true, params: t.create().params });
    expect(templateParams(t, undefined)).toEqual(checked);
  });

  it.each(NAMES)("%s: create() gives a fresh strategy object every time", (name) => {
    const t = TEMPLATES.get(name)!;
    expect(t.create()).not.toBe(t.create());
  });

  it.each(NAMES)("%s: the JSON Schema has every field, each with a default and a description", (name) => {
    const t = TEMPLATES.get(name)!;
    const schema = templateJsonSchema(t) as { type: string; properties: Record<string, { default?: unknown; description?: string }>; required?: string[] };
    expect(schema.type).toBe("object");
    const defaults = t.create().params as Record<string, unknown>;
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(defaults).sort());
    for (const [key, field] of Object.entries(schema.properties)) {
      expect(field.default, key).toEqual(defaults[key]);
      expect(field.description?.length ?? 0, key).toBeGreaterThan(10);
    }
    expect(schema.required ?? []).toEqual([]);
  });
});

describe("bad parameters are refused with the path of the field at fault", () => {
  it.each([
    ["ma-cross", { fast: 30, slow: 10 }, "fast", /less than slow/],
    ["ma-cross", { fast: 30, slow: 30 }, "fast", /less than slow/],
    ["ma-cross", { kind: "wma" }, "kind", /./],
    ["ma-cross", { fast: 0 }, "fast", /./],
    ["ma-cross", { fast: 2.5 }, "fast", /^must be a whole number, not the number 2.5$/],
    ["ma-cross", { sizing: "half" }, "sizing", /./],
    ["ma-cross", { sizing: "qty", qty: -1 }, "qty", /./],
    ["ma-cross", { notional: 0 }, "notional", /./],
    ["rsi-reversion", { oversold: 70, overbought: 30 }, "oversold", /below overbought/],
    ["rsi-reversion", { oversold: 50, overbought: 50 }, "oversold", /below overbought/],
    ["rsi-reversion", { overbought: 100 }, "overbought", /./],
    ["rsi-reversion", { oversold: 0 }, "oversold", /./],
    ["rsi-reversion", { period: 1 }, "period", /./],
    ["bollinger", { multiplier: -1 }, "multiplier", /./],
    ["bollinger", { mode: "squeeze" }, "mode", /./],
    ["bollinger", { period: 1 }, "period", /./],
    ["donchian", { entry: 10, exit: 20 }, "exit", /not be longer/],
    ["donchian", { atrStop: -1 }, "atrStop", /./],
    ["donchian", { entry: 0 }, "entry", /./],
    ["macd", { fast: 26, slow: 12 }, "fast", /less than slow/],
    ["macd", { threshold: -0.1 }, "threshold", /./],
    ["macd", { signal: 0 }, "signal", /./],
    ["dual-thrust", { k1: 0 }, "k1", /./],
    ["dual-thrust", { k2: -0.5 }, "k2", /./],
    ["dual-thrust", { lookback: 0 }, "lookback", /./],
    ["grid", { lower: -5 }, "lower", /./],
    ["grid", { lower: 110, upper: 90 }, "lower", /below upper/],
    ["grid", { lower: 100, upper: 100 }, "lower", /below upper/],
    ["grid", { upper: 0 }, "upper", /./],
    ["grid", { levels: 1 }, "levels", /./],
    ["grid", { qty: 0 }, "qty", /./],
    ["dca", { every: 0 }, "every", /./],
    ["dca", { notional: -100 }, "notional", /./],
    ["dca", { takeProfitPct: -1 }, "takeProfitPct", /./],
    ["dca", { every: "24" }, "every", /./],
    // A misspelt name is refused, not run with the default in its place.
    ["ma-cross", { fats: 5, slow: 20 }, "fats", /^unknown parameter "fats"; ma-cross takes kind, fast, slow, sizing, qty, notional$/],
    ["grid", { level: 5 }, "level", /^unknown parameter "level"/],
  ] as const)("%s %j → %s", (name, input, path, message) => {
    const checked = templateParams(TEMPLATES.get(name)!, input);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.issues.map((i) => i.path)).toContain(path);
    expect(checked.issues.find((i) => i.path === path)!.message).toMatch(message);
  });

  it("reports every problem at once", () => {
    const checked = templateParams(TEMPLATES.get("grid")!, { levels: 0, qty: -1, upper: "high" });
    expect(checked.ok ? [] : checked.issues.map((i) => i.path).sort()).toEqual(["levels", "qty", "upper"]);
  });

  it.each(NAMES)("%s: a backtest with unchecked bad parameters stops at onStart with the field's name", async (name) => {
    const bad: Record<string, Record<string, unknown>> = {
      "ma-cross": { fast: 40 },
      "rsi-reversion": { oversold: 80 },
      bollinger: { multiplier: 0 },
      donchian: { exit: 50 },
      macd: { slow: 5 },
      "dual-thrust": { k1: -1 },
      grid: { lower: 200 },
      dca: { every: 0 },
    };
    const { bars } = seededBars(5, 1);
    const field = Object.keys(bad[name]!)[0]!;
    await expect(backtest(TEMPLATES.get(name)!.create(), bars, bad[name]!)).rejects.toThrow(new RegExp(`${name}: .*(${field}|lower)`));
  });

  it("one check answers a save and a run alike: the schema, then the instrument, each problem under the prefix", () => {
    const coin = instrumentSpec("BTC/USD", "crypto", "0.01", "0.0001");
    expect(checkTemplateParams("astrology", {})).toEqual({ ok: false, refusal: { message: 'unknown template "astrology"', details: [{ path: "template", message: `must be one of ${[...TEMPLATES.keys()].join(", ")}` }] } });
    const schema = checkTemplateParams("ma-cross", { fast: 30, slow: 10 }, coin, 'combination 2 ({"fast":30})');
    expect(schema.ok ? null : [schema.refusal.message, schema.refusal.details.map((d) => d.path)]).toEqual(['combination 2 ({"fast":30}) does not fit template ma-cross', ['combination 2 ({"fast":30}).fast']]);
    // Valid by the schema, but 11 lines over five cents cannot stand a cent apart: refused only when the instrument is given.
    const tight = { lower: 100, upper: 100.05, levels: 11 };
    expect(checkTemplateParams("grid", tight).ok).toBe(true);
    const onCoin = checkTemplateParams("grid", tight, coin);
    expect(onCoin.ok ? null : [onCoin.refusal.message, onCoin.refusal.details.map((d) => d.path)]).toEqual(["params do not fit BTC/USD's tick 0.01", ["params.levels"]]);
    const fine = checkTemplateParams("ma-cross", { fast: 5 }, coin);
    expect(fine.ok && fine.params).toMatchObject({ fast: 5, slow: 30, sizing: "all_in" });
  });

  it("a grid whose lines fall less than one tick apart is refused when it starts", async () => {
    const { bars } = seededBars(5, 1);
    await expect(backtest(TEMPLATES.get("grid")!.create(), bars, { lower: 100, upper: 100.05, levels: 11 })).rejects.toThrow(/one tick/);
  });
});

describe("onStart and a saved state", () => {
  it("starts fresh when the saved state was made for other parameters, and says so in the log", async () => {
    const { bars } = seededBars(600, 3);
    const template = TEMPLATES.get("rsi-reversion")!;
    const fresh = await backtest(template.create(), bars, {});
    const inner = template.create();
    const stale: Strategy<Record<string, unknown>> = {
      ...inner,
      onStart(ctx) {
        ctx.state = { params: '{"period":5}', rsi: null, last: 12 };
        inner.onStart!(ctx);
      },
    };
    const result = await backtest(stale, bars, {});
    expect(result.fills).toEqual(fresh.fills);
    expect(result.state).toEqual(fresh.state);
    expect(result.logs.map((l) => l.text)).toEqual(["parameters changed since the saved state: starting from a fresh state"]);
  });
});
