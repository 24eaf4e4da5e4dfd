import { transform } from "sucrase/dist/index";
import { parse } from "sucrase/dist/parser";
import { TokenType } from "sucrase/dist/parser/tokenizer/types";

// User code is compiled once, when it is saved, so a syntax error is refused with its line
// and column before anything runs it, and the sandbox only ever loads plain JavaScript.
// Sucrase strips TypeScript's types without checking them (it is small enough to ship in
// the Worker; tsc is not). The output stays an ES module: the sandbox loads it as its one
// module and calls its default export.

/**
 * Sources above this many bytes (UTF-8) are refused: D1 rows and the sandbox stay small,
 * and a source at the limit, escaped in a JSON body, still fits the gateway's 64 KiB
 * body limit (MAX_BODY_BYTES), so the size is refused with this message, not a bare 413.
 */
export const MAX_SOURCE_BYTES = 48 * 1024;

export type StrategyLanguage = "js" | "ts";

export interface CompileError {
  message: string;
  /** 1-based; absent when the problem is not at one place (size, no default export). */
  line?: number;
  column?: number;
}

export type CompileResult = { ok: true; js: string } | { ok: false; error: CompileError };

interface Located {
  pos: number;
  loc: { line: number; column: number };
}

const isLocated = (error: unknown): error is Error & Located =>
  error instanceof Error && typeof (error as Partial<Located>).loc?.line === "number" && typeof (error as Partial<Located>).loc?.column === "number";

/** The JavaScript to run for `source`, or why it cannot run (with its line and column). */
export function compileStrategy(source: string, language: StrategyLanguage): CompileResult {
  const bytes = new TextEncoder().encode(source).length;
  if (bytes > MAX_SOURCE_BYTES) {
    return { ok: false, error: { message: `source is ${bytes} bytes; at most ${MAX_SOURCE_BYTES} bytes (48 KiB) are accepted` } };
  }
  const typescript = language === "ts";
  let tokens: ReturnType<typeof parse>["tokens"];
  try {
    tokens = parse(source, false, typescript, false).tokens;
  } catch (error) {
    return { ok: false, error: syntaxError(error, source) };
  }
  const refusal = moduleShapeProblem(tokens, source);
  if (refusal) return { ok: false, error: refusal };
  try {
    // No "imports" transform: the module keeps `export default`. ES syntax is left as
    // written (workerd runs current JavaScript), so line numbers of errors at run time
    // stay close to the source's.
    const js = transform(source, { transforms: typescript ? ["typescript"] : [], disableESTransforms: true }).code;
    return { ok: true, js };
  } catch (error) {
    return { ok: false, error: syntaxError(error, source) };
  }
}

function syntaxError(error: unknown, source: string): CompileError {
  if (!isLocated(error)) return { message: `source does not compile: ${error instanceof Error ? error.message : String(error)}` };
  const { line, column } = error.loc;
  // Sucrase appends "(line:column)" to its message; say it in words instead.
  const reason = error.message.replace(/\s*\(\d+:\d+\)$/, "");
  const text = source.split("\n")[line - 1] ?? "";
  return { message: `syntax error at line ${line}, column ${column}: ${reason}${text.trim() ? ` near "${excerpt(text, column)}"` : ""}`, line, column };
}

const excerpt = (text: string, column: number) => text.slice(Math.max(0, column - 21), column + 19).trim();

function locationOf(source: string, index: number): { line: number; column: number } {
  const before = source.slice(0, index).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

/**
 * The sandbox has no modules besides the strategy itself, so any import (static, dynamic,
 * type-only, or a re-export from another module) is refused; and the runtime calls the
 * module's default export, so one must exist.
 */
function moduleShapeProblem(tokens: ReturnType<typeof parse>["tokens"], source: string): CompileError | undefined {
  const text = (i: number) => (tokens[i] ? source.slice(tokens[i].start, tokens[i].end) : "");
  let hasDefault = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.type === TokenType._import) {
      return {
        message: `imports are not available at line ${locationOf(source, token.start).line}: a strategy runs alone in its sandbox, with no modules besides itself; write what you need in the same file`,
        ...locationOf(source, token.start),
      };
    }
    if (token.type !== TokenType._export) continue;
    const next = tokens[i + 1];
    if (next?.type === TokenType._default) hasDefault = true;
    if (next?.type === TokenType.star) return reExport(source, token.start);
    if (next?.type !== TokenType.braceL) continue;
    let j = i + 2;
    for (; j < tokens.length && tokens[j]!.type !== TokenType.braceR; j++) {
      if (text(j) === "default" && text(j - 1) === "as") hasDefault = true;
    }
    if (text(j + 1) === "from") return reExport(source, token.start);
  }
  if (!hasDefault) {
    return { message: "the strategy has no default export: end it with `export default { onBar(bar, ctx) { … } }` (an object or a class instance)" };
  }
  return undefined;
}

const reExport = (source: string, index: number): CompileError => ({
  message: `re-exports from other modules are not available at line ${locationOf(source, index).line}: a strategy runs alone in its sandbox, with no modules besides itself`,
  ...locationOf(source, index),
});
