// How the history endpoints page through a symbol's stored trades, quotes and bars: the
// gateway builds the query from Alpaca's parameters, the symbol object answers a page.

export interface HistoryQuery {
  start: number;
  end: number;
  limit: number;
  /** Resume strictly after (asc) or before (desc) this point: [t, tie-breaker]. */
  cursor?: [number, number];
  sort: "asc" | "desc";
}

export interface HistoryPage<T> {
  items: T[];
  /** Where the next page starts, or null when this one was the last. */
  next: [number, number] | null;
}

/**
 * Whether a page token's cursor is one a page could have ended at, for a query whose bounds
 * are fixed by the client (undefined where a default applies): a time to the millisecond
 * and a tie-breaker (a trade's id, a quote's sequence, 0 for bars), each a safe integer
 * and the tie-breaker never negative. The time lies within the bounds the client sent, and
 * is never before 1970 when `start` is the default (the start of some day since); the
 * default end (now) is not checked, since it moves on between pages.
 */
export function issuableCursor(cursor: unknown, bounds: { start?: number; end?: number }): cursor is [number, number] {
  if (!Array.isArray(cursor) || cursor.length !== 2) return false;
  const [t, tieBreaker] = cursor as unknown[];
  if (!Number.isSafeInteger(t) || !Number.isSafeInteger(tieBreaker) || (tieBreaker as number) < 0) return false;
  return (t as number) >= (bounds.start ?? 0) && (bounds.end === undefined || (t as number) <= bounds.end);
}

/** Why a query's bounds are out of order, said of the bound the client sent. */
export interface BoundsProblem {
  parameter: "start" | "end";
  detail: string;
}

/**
 * The problem with bounds whose end is before their start, or undefined when they are in
 * order. A bound the client did not send is a default (`end`: now; `start`: the start of
 * today, described by `defaultStart`), so the message names the one it did send and the
 * default it ran into, not a parameter the client never gave.
 */
export function boundsProblem(q: { start: number; end: number; startGiven: boolean; endGiven: boolean; defaultStart: string }): BoundsProblem | undefined {
  if (q.end >= q.start) return undefined;
  if (q.startGiven && q.endGiven) return { parameter: "end", detail: "must not be before start" };
  if (q.startGiven) return { parameter: "start", detail: "is after end (now, when end is not given)" };
  return { parameter: "end", detail: `is before start (${q.defaultStart}, when start is not given)` };
}
