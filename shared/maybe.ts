// A value now or later. The engines' loops answer without a promise while every port they
// call answers at once (a backtest's in-process venues and strategy), and otherwise exactly
// as an async chain would: a backtest's order went through a score of async frames that
// awaited nothing, and their promises and garbage were a large share of its cost.

export type MaybePromise<T> = T | Promise<T>;

/**
 * Whether a value is still to come. Not `instanceof Promise`: what a call to another
 * Durable Object answers is workerd's RPC promise, a thenable of its own.
 */
export function isPending<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** `next(value)` once `value` is there: at once for a value, after it for a promise. */
export function after<T, U>(value: T | PromiseLike<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isPending(value) ? Promise.resolve(value).then(next) : next(value);
}

/**
 * `step` on each of `items` in turn, each once the one before it is done: at once while
 * every step answers at once, else a promise from the first step that gives one.
 */
export function inTurn<T>(items: readonly T[], step: (item: T) => unknown, from = 0): MaybePromise<void> {
  for (let i = from; i < items.length; i++) {
    const done = step(items[i]!);
    if (isPending(done)) {
      const next = i + 1;
      return Promise.resolve(done).then(() => inTurn(items, step, next));
    }
  }
}
