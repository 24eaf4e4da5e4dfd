import type { CounterSpec, HistogramSpec } from "./registry";

// RedFire's metric names. They are a contract: the admin dashboard and any scraper's rules
// chart them by these names and labels.

export const HTTP_REQUESTS: CounterSpec = { kind: "counter", name: "redfire_http_requests_total", help: "Requests the gateway answered, by matched route pattern, method and status." };

export const HTTP_DURATION: HistogramSpec = {
  kind: "histogram",
  name: "redfire_http_request_duration_seconds",
  help: "How long the gateway took to answer, by matched route pattern, method and status.",
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
};

export const ORDER_REJECTIONS: CounterSpec = { kind: "counter", name: "redfire_order_rejections_total", help: "Orders the account refused, by the rule that refused them." };

export const MESSAGES_SENT: CounterSpec = {
  kind: "counter",
  name: "redfire_messages_sent_total",
  help: "Frames sent to client sockets, by kind: market (the hubs, reset when a hub restarts) and trade (trade_updates and the other user streams).",
};

export const DEAD_LETTERS: CounterSpec = { kind: "counter", name: "redfire_dead_letters_total", help: "Messages the queue consumer gave up on, by the dead-letter queue that received them." };

/** Counted by the gateway into its isolate's buffer. */
export const GATEWAY_METRICS = [HTTP_REQUESTS, HTTP_DURATION, ORDER_REJECTIONS] as const;

/** The route label of a request no route matched: one value, whatever the path, so the label set stays bounded. */
export const UNMATCHED_ROUTE = "(unmatched)";

/**
 * A route label from what the router matched: the pattern of the handler that answered,
 * or UNMATCHED_ROUTE when only catch-all middleware ran (its pattern ends in `*`).
 */
export function routeLabel(pattern: string | undefined, method: string | undefined): string {
  if (!pattern || ((method === "ALL" || method === undefined) && pattern.endsWith("*"))) return UNMATCHED_ROUTE;
  return pattern;
}

/**
 * The label of the route a request was for: the handler the router matched, also when
 * middleware before it answered (a 429, 413 or 415 of a route that exists was counted as
 * unmatched, found in QA); UNMATCHED_ROUTE only when no handler matched at all (a 404, or a
 * 405: no route takes that method). `matched` is what the router matched, in order; `index`
 * the entry that answered.
 */
export function answeredRoute(matched: readonly { path: string; method: string }[], index: number): string {
  const answered = routeLabel(matched[index]?.path, matched[index]?.method);
  if (answered !== UNMATCHED_ROUTE) return answered;
  for (const route of matched) {
    const label = routeLabel(route.path, route.method);
    if (label !== UNMATCHED_ROUTE) return label;
  }
  return UNMATCHED_ROUTE;
}

/** The one MetricsStore object of an environment. */
export const METRICS_STORE = "metrics";
