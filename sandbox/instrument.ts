import { parse } from "sucrase/dist/parser";
import { TokenType } from "sucrase/dist/parser/tokenizer/types";

// Runs on the HOST, before the user's module is handed to the loader: wires the loop
// budget (sandbox/loop-budget.ts) into every loop. The condition of each `while` and
// `do … while` becomes `__redfireLoop() && (cond)`, and of each three-part `for`
// `__redfireLoop() && (cond)` (or just `__redfireLoop()` when empty); what a `for … of`
// walks becomes `__redfireIter(iterable)`, each step spending from the same budget (an
// iterator object of the code's own never needs a loop to run forever). `for … in` walks
// an object's keys, always finite. Text is only
// inserted, never a line break, so every line of the user's code keeps its number (a
// column on a line with a loop shifts by the inserted text, which userColumn takes off);
// the budget's import is a line added after the last.

/** The module the loaded worker serves the budget as, and the name the user's code calls it by. */
export const LOOP_BUDGET_MODULE = "loop-budget.js";
const GUARD = "__redfireLoop";
const ITER_GUARD = "__redfireIter";

const OPENERS = new Set([TokenType.parenL, TokenType.bracketL, TokenType.braceL, TokenType.braceBarL, TokenType.dollarBraceL]);
const DECLARES = new Set([TokenType._const, TokenType._let, TokenType._var]);
const CLOSERS = new Set([TokenType.parenR, TokenType.bracketR, TokenType.braceR, TokenType.braceBarR]);

/** Text guardLoops inserts into the user's code, at an offset of the code as written. */
interface Insert {
  at: number;
  text: string;
  /** Where the loop's keyword (`while`, `for`) starts. */
  loop: number;
}

/** The user's module with its loops guarded; unchanged if it does not parse (the loader then reports the syntax error). */
export function guardLoops(code: string): string {
  const inserts = loopInserts(code);
  if (inserts.length === 0) return code;
  // In the order userColumn reads them (two at one place keep the order they were found in).
  let out = "";
  let from = 0;
  for (const { at, text } of inOrder(inserts)) {
    out += code.slice(from, at) + text;
    from = at;
  }
  out += code.slice(from);
  // On a line of its own after the code (an import is hoisted wherever it stands), so no
  // line moves and the first line's columns stay the user's (found in QA: on a one-line
  // file every column was off by this import's length).
  return `${out}\nimport { spend as ${GUARD}, guardIteration as ${ITER_GUARD} } from "./${LOOP_BUDGET_MODULE}";`;
}

/**
 * The column (1-based) in the user's code of a place the runtime names at `column` of
 * `line` in guardLoops's output: the guards inserted before it on the line are taken off,
 * and a place inside a guard (the loop budget's call, where a LoopBudgetError is thrown)
 * is the loop's keyword (found in QA: errors named columns of the guarded code).
 */
export function userColumn(code: string, line: number, column: number): number {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const next = code.indexOf("\n", start);
    if (next < 0) return column;
    start = next + 1;
  }
  const end = code.indexOf("\n", start) < 0 ? code.length : code.indexOf("\n", start);
  let added = 0;
  for (const insert of inOrder(loopInserts(code))) {
    if (insert.at < start || insert.at > end) continue;
    const from = insert.at - start + 1 + added;
    if (column < from) break;
    // Inside a guard: the loop it guards, by its keyword when that is on this line (found in QA: the column named the condition).
    if (column < from + insert.text.length) return (insert.loop >= start ? insert.loop : insert.at) - start + 1;
    added += insert.text.length;
  }
  return column - added;
}

const inOrder = (inserts: Insert[]): Insert[] => [...inserts].sort((a, b) => a.at - b.at);

/** Where guardLoops inserts its guards, in no particular order; none if the code does not parse. */
function loopInserts(code: string): Insert[] {
  let tokens: ReturnType<typeof parse>["tokens"];
  try {
    tokens = parse(code, false, false, false).tokens;
  } catch {
    return [];
  }
  const inserts: Insert[] = [];
  /** Index of the token closing the group opened at `open`. */
  const closing = (open: number): number => {
    let depth = 0;
    for (let i = open; i < tokens.length; i++) {
      if (OPENERS.has(tokens[i]!.type)) depth += 1;
      else if (CLOSERS.has(tokens[i]!.type) && --depth === 0) return i;
    }
    return -1;
  };
  for (let i = 0; i < tokens.length; i++) {
    const type = tokens[i]!.type;
    if (type !== TokenType._while && type !== TokenType._for) continue;
    const open = i + 1;
    if (tokens[open]?.type !== TokenType.parenL) continue; // `for await (…)`: left alone
    const close = closing(open);
    if (close < 0) continue;
    if (type === TokenType._while) {
      inserts.push({ at: tokens[open]!.end, text: `${GUARD}() && (`, loop: tokens[i]!.start }, { at: tokens[close]!.start, text: ")", loop: tokens[i]!.start });
      continue;
    }
    // The header's own semicolons: those at its top level, not inside a nested function.
    const semis: number[] = [];
    for (let j = open + 1, depth = 0; j < close; j++) {
      const t = tokens[j]!.type;
      if (OPENERS.has(t)) depth += 1;
      else if (CLOSERS.has(t)) depth -= 1;
      else if (t === TokenType.semi && depth === 0) semis.push(j);
    }
    if (semis.length === 0) {
      // `for (… of iterable)`: the `of` at the header's top level; what follows it to the close is the iterable.
      for (let j = open + 1, depth = 0; j < close; j++) {
        const t = tokens[j]!;
        if (OPENERS.has(t.type)) depth += 1;
        else if (CLOSERS.has(t.type)) depth -= 1;
        // The keyword, not a binding named `of` (`for (const of of xs)`, `for (of of xs)`).
        else if (depth === 0 && t.type === TokenType.name && code.slice(t.start, t.end) === "of" && j > open + 1 && !DECLARES.has(tokens[j - 1]!.type) && j + 1 < close) {
          inserts.push({ at: tokens[j + 1]!.start, text: `${ITER_GUARD}(`, loop: tokens[i]!.start }, { at: tokens[close]!.start, text: ")", loop: tokens[i]!.start });
          break;
        }
      }
      continue;
    }
    if (semis.length !== 2) continue;
    const [first, second] = semis as [number, number];
    if (second === first + 1) inserts.push({ at: tokens[first]!.end, text: ` ${GUARD}()`, loop: tokens[i]!.start });
    else inserts.push({ at: tokens[first]!.end, text: ` ${GUARD}() && (`, loop: tokens[i]!.start }, { at: tokens[second]!.start, text: ")", loop: tokens[i]!.start });
  }
  return inserts;
}
