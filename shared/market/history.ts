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
