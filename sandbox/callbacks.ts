import type { Strategy } from "../shared/strategy/runtime";
import { resetLoopBudget, setEventClock } from "./loop-budget.js";

// How user code's callbacks are run wherever it runs (inside the Worker Loader's isolate,
// and in Node by the researchers' backtest command): each callback starts with the whole
// loop budget and the clock at its event's time, and runs as a method of the user's own
// object (its `this` and helpers intact).

export const CALLBACKS = ["onStart", "onBar", "onTrade", "onQuote", "onOrderUpdate", "onStop"] as const;

/** The user's strategy as the runtime sees it: each callback with a fresh loop budget and the event's clock. */
export function withLoopBudget(user: Strategy): Strategy {
  const wrapped: Strategy = { params: user.params };
  for (const name of CALLBACKS) {
    if (typeof user[name] !== "function") continue;
    const callback = (...args: unknown[]) => {
      resetLoopBudget();
      // The context is the last argument (onStart and onStop have no event); its now is the event's time.
      setEventClock((args[args.length - 1] as { now: number }).now);
      return (user[name] as (...a: unknown[]) => void).apply(user, args);
    };
    (wrapped as Record<string, unknown>)[name] = callback;
  }
  return wrapped;
}
