import { describe, expect, it } from "vitest";
import { guardLoops } from "../sandbox/instrument";

const PREFIX = `import { spend as __redfireLoop, guardIteration as __redfireIter } from "./loop-budget.js"; `;
const body = (code: string) => {
  const out = guardLoops(code);
  expect(out.startsWith(PREFIX)).toBe(true);
  return out.slice(PREFIX.length);
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

  it("keeps every line where it was", () => {
    const code = "export default {\n  onBar(bar, ctx) {\n    while (true) {\n      for (;;) {}\n    }\n  },\n};\n";
    const out = guardLoops(code);
    expect(out.split("\n").length).toBe(code.split("\n").length);
    expect(out.split("\n")[2]).toBe("    while (__redfireLoop() && (true)) {");
  });

  it("hands back code it cannot parse unchanged, for the loader to report", () => {
    expect(guardLoops("while (")).toBe("while (");
  });
});
