import { logger, type Logger, type Service } from "./log";

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

// Version 00 exactly; a later version may add fields after the flags, which are ignored
// (W3C: parse what version 00 defines); version ff is invalid. Hex in either case (headers
// may carry upper case; it is read as lower).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/** The context a `traceparent` names; null for anything that is not a valid header (all-zero ids, version ff, extra fields in version 00). */
export function parseTraceparent(header: string | null | undefined): TraceContext | null {
  const match = TRACEPARENT.exec(header?.trim().toLowerCase() ?? "");
  if (!match) return null;
  const [, version, traceId, spanId, flags, extra] = match;
  if (version === "ff" || (version === "00" && extra !== undefined) || ZEROS.test(traceId!) || ZEROS.test(spanId!)) return null;
  return { traceId: traceId!, spanId: spanId!, flags: flags! };
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
    durationMs: durationOf(span, endedAt),
    ...fields,
  };
}

const durationOf = (span: Span, endedAt: number): number => Math.round((endedAt - span.startedAt) * 100) / 100;

/** `bytes` random bytes as lower-case hex: a trace id (16) or a span id (8). */
export const randomHex = (bytes: number): string => {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of random) out += b.toString(16).padStart(2, "0");
  return out;
};

/** Starts a child span of `parent` (or a new trace without one), with ids from crypto and the time from performance.now(). */
export function startSpan(name: string, parent: string | null | undefined): Span {
  // A trace id is drawn only for a root span.
  const ids = { spanId: randomHex(8), traceId: parseTraceparent(parent) ? "" : randomHex(16) };
  return childSpan(name, parent, ids, performance.now());
}

/** Ends a span: one `span` line through the caller's logger (which names the service); none for a span that ended well in a trace not sampled (`sampled`). */
export function endSpan(span: Span, log: Logger, fields: Record<string, unknown> = {}, level: "info" | "warn" | "error" = "info"): void {
  if (level === "info" && !sampled(span.traceparent)) return;
  log(level, "span", spanFields(span, performance.now(), fields));
}

// ---- sampling (docs/tracing.md, "Sampling") -------------------------------------------------
// Every request logs its one line; the spans of its hops are logged for the traces that are
// sampled, and for any request that went wrong or slow whatever the sampling said. The
// decision is made once, where a trace starts, and travels in the traceparent's sampled
// flag to every hop, event and webhook delivery after it.

/** Whether a traceparent has W3C's sampled flag (bit 0 of the flags); false for anything that is not a valid traceparent. */
export function sampled(traceparent: string | null | undefined): boolean {
  const context = parseTraceparent(traceparent);
  return context !== null && sampledFlag(context);
}

const sampledFlag = (context: TraceContext): boolean => (Number.parseInt(context.flags, 16) & 1) === 1;

/**
 * The sampling decision for a request's trace. Parent-based: a caller that sent a valid
 * traceparent decided already, and its sampled flag is kept. Otherwise by trace id, at
 * `rate` (0 to 1): the id's last eight hex digits read as a fraction of 2³², so a trace id
 * always gets the same answer (OpenTelemetry's TraceIdRatioBased, on the random part of a
 * W3C id).
 */
export function headSampled(incoming: TraceContext | null, traceId: string, rate: number): boolean {
  if (incoming) return sampledFlag(incoming);
  return Number.parseInt(traceId.slice(-8), 16) < rate * 2 ** 32;
}

/** A request that takes this long logs its hops' spans, sampled or not: the API's p95 floor. */
export const SLOW_REQUEST_MS = 100;

/**
 * Whether a request's line carries the spans of its hops: always in a sampled trace;
 * otherwise only when it failed (a 5xx, or a hop that ended at warn or error) or took
 * SLOW_REQUEST_MS or more, so a request worth looking at is never missing its hops.
 */
export function keepsSpans(request: { sampled: boolean; status: number; durationMs: number; spans: readonly Pick<SpanLine, "level">[] }): boolean {
  if (request.spans.length === 0) return false;
  if (request.sampled || request.status >= 500 || request.durationMs >= SLOW_REQUEST_MS) return true;
  return request.spans.some((span) => span.level !== "info");
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

// ---- spans that ride back in the answer ---------------------------------------------------
// A call made inside a request need not log a line of its own: its span rides back in the
// answer, and the caller logs it in its own line (the gateway's request line holds the
// spans of the calls the request made, in a `spans` array). One line per request instead
// of one per hop; the trace is the same set of spans (docs/tracing.md, "Where spans are
// logged"). A span whose caller will not log it (no scope open for it) is logged at once.

/** A value a span line says of its hop (what an RPC answer can carry). */
export type SpanValue = string | number | boolean | null | string[];

/** A finished span, as its line's fields, with the service that ran it and the level. */
export interface SpanLine {
  service: Service;
  level: "info" | "warn" | "error";
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  durationMs: number;
  /** What the hop says of itself (account, symbol, order id and status…), as the line's own fields. */
  fields: Record<string, SpanValue>;
}

/** What an answer that carries the spans of a request's hops adds to its value. */
export interface Traced {
  spans?: SpanLine[];
}

/** What a call's answer that carries its own span adds to its value. */
export interface Spanned {
  span: SpanLine;
}

/** Ends a span without logging it: its line, for the caller to log. */
export function finishSpan(span: Span, service: Service, fields: Record<string, SpanValue> = {}, level: SpanLine["level"] = "info"): SpanLine {
  const { traceId, spanId, parentSpanId } = span;
  return { service, level, name: span.name, traceId, spanId, parentSpanId, durationMs: durationOf(span, performance.now()), fields };
}

/**
 * `traced` for a call whose answer carries its span to its caller: the work in a child span
 * of `parent`, answered with the span's line instead of logging it. A failed call has no
 * answer to carry it, so its span is logged here, at `error`. `fields` go on the span
 * either way, what `describe` says of the value only on success.
 */
export async function spanned<T>(
  log: Logger,
  service: Service,
  name: string,
  parent: string | null | undefined,
  fields: Record<string, SpanValue>,
  work: (span: Span) => Promise<T>,
  describe: (value: T) => Record<string, SpanValue>,
): Promise<{ value: T; span: SpanLine }> {
  const span = startSpan(name, parent);
  try {
    const value = await work(span);
    return { value, span: finishSpan(span, service, { ...fields, ...describe(value) }) };
  } catch (error) {
    endSpan(span, log, { ...fields, error: String(error) }, "error");
    throw error;
  }
}

/** A span line's fields as its own log line has them (the logger adds time, level and service). */
export function spanLineFields({ name, traceId, spanId, parentSpanId, durationMs, fields }: SpanLine): Record<string, unknown> {
  return { name, traceId, spanId, parentSpanId, durationMs, ...fields };
}

/** A span as a line that carries it holds it in its `spans`: with the service that ran it and, when not info, its level. */
export function carriedSpan(line: SpanLine): Record<string, unknown> {
  return { service: line.service, ...(line.level === "info" ? {} : { level: line.level }), ...spanLineFields(line) };
}

/** Logs spans nobody else will: each its own `span` line, under the service that ran it. */
export function logSpanLines(lines: readonly SpanLine[]): void {
  for (const line of lines) logger(line.service)(line.level, "span", spanLineFields(line));
}

/** Spans one scope gathers for its line; a line stays a few kilobytes. */
export const MAX_CARRIED_SPANS = 16;

/**
 * The spans the calls of an open span answer with, gathered until it ends. Keyed by the
 * traceparent the span hands to its calls, so commands that interleave (an object's input
 * gate opens at each await) keep theirs apart; a span arriving for no open scope (its
 * caller ended already, or never opened one) is logged at once rather than lost.
 */
export class SpanScopes {
  readonly #open = new Map<string, SpanLine[]>();

  /** At most this many spans ride in one scope (a cancel-all's venue calls): the rest are logged at once, so no line grows without bound. */
  constructor(readonly carried = MAX_CARRIED_SPANS) {}

  open(traceparent: string): void {
    this.#open.set(traceparent, []);
  }

  add(traceparent: string | null, line: SpanLine | undefined): void {
    if (!line) return;
    const scope = traceparent === null ? undefined : this.#open.get(traceparent);
    if (scope && scope.length < this.carried) scope.push(line);
    else logSpanLines([line]);
  }

  /** The spans gathered for a scope, which closes. */
  close(traceparent: string): SpanLine[] {
    const lines = this.#open.get(traceparent) ?? [];
    this.#open.delete(traceparent);
    return lines;
  }
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
