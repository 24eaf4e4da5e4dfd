import type { Logger } from "./log";

// W3C trace context (https://www.w3.org/TR/trace-context/) across RedFire's hops: every
// Durable Object call, queue message and webhook delivery is a span, a child of the
// traceparent its caller handed over, and logs one line when it ends (docs/tracing.md).
// A span is a log line, nothing else: no storage, no calls, no awaits of its own.

export interface TraceContext {
  traceId: string;
  spanId: string;
  /** The trace flags byte, as two hex digits ("01": sampled). */
  flags: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZEROS = /^0+$/;

/** The context a `traceparent` names; null for anything that is not a valid version-00 header (all-zero ids are invalid). */
export function parseTraceparent(header: string | null | undefined): TraceContext | null {
  const match = TRACEPARENT.exec(header?.trim().toLowerCase() ?? "");
  if (!match || ZEROS.test(match[1]!) || ZEROS.test(match[2]!)) return null;
  return { traceId: match[1]!, spanId: match[2]!, flags: match[3]! };
}

export const formatTraceparent = (context: TraceContext): string => `00-${context.traceId}-${context.spanId}-${context.flags}`;

export interface Span {
  name: string;
  traceId: string;
  spanId: string;
  /** The caller's span; null for the root of a new trace (nothing, or nothing valid, was handed over). */
  parentSpanId: string | null;
  /** What this span hands to the next hop. */
  traceparent: string;
  /** When it started, in the clock `end` is given (milliseconds). */
  startedAt: number;
}

/**
 * A child span of `parent`, pure: its own id, the trace id a root span takes when there is
 * no valid parent, and the time come in.
 */
export function childSpan(name: string, parent: string | null | undefined, ids: { spanId: string; traceId: string }, startedAt: number): Span {
  const context = parseTraceparent(parent);
  const traceId = context?.traceId ?? ids.traceId;
  const flags = context?.flags ?? "01";
  return { name, traceId, spanId: ids.spanId, parentSpanId: context?.spanId ?? null, traceparent: formatTraceparent({ traceId, spanId: ids.spanId, flags }), startedAt };
}

/** The span's log line's fields (the logger adds time, level and service). */
export function spanFields(span: Span, endedAt: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: span.name,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    durationMs: Math.round((endedAt - span.startedAt) * 100) / 100,
    ...fields,
  };
}

const hex = (bytes: number): string => {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of random) out += b.toString(16).padStart(2, "0");
  return out;
};

/** Starts a child span of `parent` (or a new trace without one), with ids from crypto and the time from performance.now(). */
export function startSpan(name: string, parent: string | null | undefined): Span {
  // A trace id is drawn only for a root span.
  const ids = { spanId: hex(8), traceId: parseTraceparent(parent) ? "" : hex(16) };
  return childSpan(name, parent, ids, performance.now());
}

/** Ends a span: one `span` line through the caller's logger (which names the service). */
export function endSpan(span: Span, log: Logger, fields: Record<string, unknown> = {}, level: "info" | "warn" | "error" = "info"): void {
  log(level, "span", spanFields(span, performance.now(), fields));
}

/** Runs `work` inside a span of `name` and ends it when `work` settles, with what `describe` says of the result. */
export function traced<T>(log: Logger, name: string, parent: string | null | undefined, work: (span: Span) => Promise<T>, describe?: (value: T) => Record<string, unknown>): Promise<T> {
  const span = startSpan(name, parent);
  return work(span).then(
    (value) => {
      endSpan(span, log, describe?.(value));
      return value;
    },
    (error: unknown) => {
      endSpan(span, log, { error: String(error) }, "error");
      throw error;
    },
  );
}

// Methods a stub answers that are not calls to log: the promise protocol, and fetch (a
// socket upgrade, which lives as long as the socket).
const NOT_CALLS = new Set(["then", "catch", "finally", "fetch", "dup", "constructor"]);

/**
 * A Durable Object stub whose every call logs a client-side span, `<name>.<method>`, a
 * child of `traceparent`: for the calls whose methods take no traceparent of their own
 * (the object then logs nothing itself, and the caller's span says how long it took).
 */
export function tracedStub<T extends object>(stub: T, log: Logger, name: string, traceparent: string | null | undefined, fields: Record<string, unknown> = {}): T {
  return new Proxy(stub, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof prop !== "string" || NOT_CALLS.has(prop) || typeof value !== "function") return value;
      // Called as a method of the stub itself: an RPC method applied to another `this` would try to send it.
      const call = (...args: unknown[]) => (target as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args);
      return (...args: unknown[]) => traced(log, `${name}.${prop}`, traceparent, () => Promise.resolve(call(...args)), () => ({ ...fields, client: true }));
    },
  });
}
