// Runs INSIDE the sandbox: the loop budget that sandbox/instrument.ts wires into every loop
// of the user's module (the condition of each `for`/`while`/`do … while` calls `spend`, and
// each step of a `for … of` through `guardIteration`),
// reset by the entry before each callback. It stops a runaway loop deterministically (the
// same backtest stops at the same iteration everywhere) and where the Worker Loader's CPU
// limit is not enforced: local workerd runs every isolate on one thread and enforces no
// CPU limit, so a loop that never ends would hang the whole process, host included. It
// is a guard against mistakes, not the security boundary: code that shadows the name or
// spins without a loop (deep recursion ends in a RangeError) is left to the CPU limit.

// The same module fixes the clock and the randomness user code sees (./determinism.ts):
// the user's module imports this one first, so that runs before any line of it.
export { setEventClock } from "./determinism";

/** Loop iterations one callback may run: far beyond any indicator or order loop over a bar. */
export const LOOP_BUDGET = 10_000_000;

let spent = 0;
/** Iterations since the host's call began (`resetStepWork`): what a backtest step has run. */
let stepSpent = 0;

export class LoopBudgetError extends Error {
  override name = "LoopBudgetError";
}

/** Called by every loop iteration of the user's code; true, so `spend() && (cond)` keeps the condition's meaning. */
export function spend(): true {
  spent += 1;
  stepSpent += 1;
  if (spent > LOOP_BUDGET) throw new LoopBudgetError(`more than ${LOOP_BUDGET.toLocaleString("en-US")} loop iterations in one callback: a loop that never ends?`);
  return true;
}

/**
 * What a `for … of` of the user's code walks, one step at a time, each spending from the
 * budget: an iterator object that never says done ends as a loop that never ends does.
 * Breaking out of the loop closes the iterator underneath, as a plain `for … of` would.
 */
export function* guardIteration<T>(iterable: Iterable<T>): Generator<T, void, undefined> {
  for (const item of iterable) {
    spend();
    yield item;
  }
}

/** A new callback starts with the whole budget. */
export function resetLoopBudget(): void {
  spent = 0;
}

/**
 * Loop iterations a backtest step may run before it hands back to the host, which plays the
 * rest of its bars in its next call: local workerd runs the sandbox and the whole platform
 * on one thread, so a chunk of 2,000 bars whose every callback stays just inside the
 * callback's budget held everything else for seconds (found in QA). Checked between bars,
 * so a step runs at most this plus one callback's budget; deterministic, like the budget.
 */
export const STEP_LOOP_BUDGET = 20_000_000;

/** Iterations since the step began. */
export const stepWork = (): number => stepSpent;

/** A host's call starts counting from zero. */
export function resetStepWork(): void {
  stepSpent = 0;
}
