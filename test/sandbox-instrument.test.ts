import { describe, expect, it } from "vitest";
import { guardLoops, userColumn } from "../sandbox/instrument";

const SUFFIX = `\nimport { spend as __redfireLoop, guardIteration as __redfireIter } from "./loop-budget.js";`;
const body = (code: string) => {
  const out = guardLoops(code);
  expect(out.endsWith(SUFFIX)).toBe(true);
  return out.slice(0, -SUFFIX.length);
};

describe("the loop budget wired into user code", () => {
  it("guards the condition of while, do-while and three-part for loops", () => {
    expect(body("while (a < b) a++;")).toBe("while (__redfireLoop() && (a < b)) a++;");
    expect(body("do { x() } while (more)")).toBe("do { x() } while (__redfireLoop() && (more))");
    expect(body("for (let i = 0; i < n; i++) {}")).toBe("for (let i = 0; __redfireLoop() && ( i < n); i++) {}");
    expect(body("for (;;) {}")).toBe("for (; __redfireLoop();) {}");
  });

  it("finds the header's own semicolons, not those of a function inside it", () => {
    expect(body("for (let i = 0; i < f(() => { a; b; }); i++) {}")).toBe("for (let i = 0; __redfireLoop() && ( i < f(() => { a; b; })); i++) {}");
  });

  it("walks what a for-of walks through the budget, its iterable whole (a call, a destructuring head)", () => {
    expect(body("for (const x of forever) {}")).toBe("for (const x of __redfireIter(forever)) {}");
    expect(body("for (const [a, b] of f(x, y)) s();")).toBe("for (const [a, b] of __redfireIter(f(x, y))) s();");
    expect(body("for (const of of ofs) {}")).toBe("for (const of of __redfireIter(ofs)) {}");
    expect(body("for (of of ofs) {}")).toBe("for (of of __redfireIter(ofs)) {}");
    expect(body("for (const x of of) {}")).toBe("for (const x of __redfireIter(of)) {}");
  });

  it("leaves for-in alone, and words in strings, comments and templates", () => {
    const code = `for (const k in o) {}\nconst s = "while (true) {}"; // for (;;)\nconst t = \`\${"for (;;)"}\`;\n`;
    expect(guardLoops(code)).toBe(code);
  });

  it("keeps every line where it was, the budget's import a line after the last", () => {
    const code = "export default {\n  onBar(bar, ctx) {\n    while (true) {\n      for (;;) {}\n    }\n  },\n};\n";
    const out = guardLoops(code);
    expect(out.split("\n").length).toBe(code.split("\n").length + 1);
    expect(out.split("\n")[2]).toBe("    while (__redfireLoop() && (true)) {");
    expect(out.split("\n").at(-1)).toBe(SUFFIX.slice(1));
  });

  it("keeps the columns of a line without a loop, the first line of a one-line file included", () => {
    const code = "export default { onBar(bar, ctx) { if (bar.close > 1) throw new Error(\"x\"); } }; function f() { while (g()) h(); }";
    const out = guardLoops(code);
    // Up to the loop, the line is the user's, character for character.
    expect(out.slice(0, code.indexOf("while"))).toBe(code.slice(0, code.indexOf("while")));
  });

  it("ends a last line that is a comment before the import, so the import still runs", () => {
    expect(guardLoops("while (x) y();\n// the end")).toBe(`while (__redfireLoop() && (x)) y();\n// the end${SUFFIX}`);
  });

  it("gives back the user's column of every place in a guarded line, and a guard's place for a place inside it", () => {
    // Names that appear once each, on lines with several loops of each kind.
    const code = [
      "export default { onBar(b, c) { let a1 = 0; while (a2 < 3) a3++; for (let a4 = 0; a4 < a5; a4++) a6(); for (const a7 of a8) a9(); do { b1() } while (b2); for (;;) { b3(); break; } b4(); } };",
      "const b5 = 1; for (const b6 of b7()) { while (b8) { b9() } } const c1 = 2;",
    ].join("\n");
    const guarded = guardLoops(code).split("\n");
    const lines = code.split("\n");
    let names = 0;
    lines.forEach((text, index) => {
      for (const match of text.matchAll(/\b[a-c][1-9]\b/g)) {
        const name = match[0];
        // The first place of each name on the line, in the user's code and in the guarded code.
        const written = text.indexOf(name) + 1;
        const ran = guarded[index]!.search(new RegExp(`\\b${name}\\b`)) + 1;
        expect(userColumn(code, index + 1, ran), `${name} on line ${index + 1}`).toBe(written);
        names += 1;
      }
    });
    expect(names).toBeGreaterThan(20);
    // A LoopBudgetError is thrown from the guard's call: it is placed at the loop's keyword.
    const line = guarded[1]!;
    expect(userColumn(code, 2, line.indexOf("__redfireLoop()") + 1)).toBe(lines[1]!.indexOf("while (b8)") + 1);
    expect(userColumn(code, 2, line.indexOf("__redfireIter(") + 3)).toBe(lines[1]!.indexOf("for (const b6") + 1);
    expect(userColumn(code, 1, guarded[0]!.indexOf(" __redfireLoop();") + 2)).toBe(lines[0]!.indexOf("for (;;)") + 1);
    // Lines past the code (the budget's import) and code that does not parse are left as they are.
    expect(userColumn("while (", 1, 5)).toBe(5);
    expect(userColumn(code, 9, 7)).toBe(7);
  });

  it("hands back code it cannot parse unchanged, for the loader to report", () => {
    expect(guardLoops("while (")).toBe("while (");
  });
});
