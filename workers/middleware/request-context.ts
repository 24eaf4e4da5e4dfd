import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../context";
import { log } from "../../platform/log";
import { carriedSpan, formatTraceparent, headSampled, keepsSpans, parseTraceparent, randomHex, type SpanLine } from "../../platform/trace";
import { ApiError } from "../../shared/errors";
import { HTTP_DURATION, HTTP_REQUESTS, METRICS_STORE, ORDER_REJECTIONS, answeredRoute } from "../../shared/observability/catalog";
import { FlushGate, MetricsBuffer } from "../../shared/observability/registry";
import { gatewayConfig } from "../lib/config";
import { errorResponse } from "./errors";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The client's address for rate limits and login throttling. Cloudflare's edge always sets
 * CF-Connecting-IP; a request without it did not come through the edge (local tools do so
 * only in development). Outside development such a request gets no address (`undefined`,
 * refused) instead of sharing one bucket with every other such request.
 */
export function clientAddress(connectingIp: string | undefined, environment: string): string | undefined {
  if (connectingIp) return connectingIp;
  return environment === "development" ? "local" : undefined;
}

const missingAddress = () => new ApiError(400, "missing client address: requests must come through Cloudflare's edge (CF-Connecting-IP)", [], 10000);

/**
 * Request id, W3C trace context and the one JSON log line per request. An incoming
 * traceparent keeps its trace id (we are a new span in it); an invalid one is replaced.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const incomingId = c.req.header("x-request-id");
  const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : crypto.randomUUID();
  const incoming = parseTraceparent(c.req.header("traceparent"));
  const traceId = incoming?.traceId ?? randomHex(16);
  const spanId = randomHex(8);
  const isSampled = headSampled(incoming, traceId, gatewayConfig(c.env).traceSampleRate);
  const traceparent = formatTraceparent({ traceId, spanId, flags: isSampled ? "01" : "00" });
  c.set("requestId", requestId);
  c.set("traceId", traceId);
  c.set("spanId", spanId);
  c.set("traceparent", traceparent);
  c.set("principal", undefined);
  c.set("authFailure", undefined);
  c.set("spans", []);
  const address = clientAddress(c.req.header("cf-connecting-ip"), gatewayConfig(c.env).environment);
  // Refused here rather than thrown, so the answer still gets the headers and log line below.
  if (address === undefined) c.res = errorResponse(c, missingAddress());
  else {
    c.set("clientIp", address);
    await next();
  }

  c.header("X-Request-ID", requestId);
  c.header("traceparent", traceparent);
  // On a one-hop route the user's object admitted the caller without handing a principal back.
  const user = c.get("principal")?.userId ?? c.get("caller")?.userId ?? null;
  const durationMs = performance.now() - started;
  measure(c, durationMs);
  log(c.res.status >= 500 ? "error" : "info", "request", {
    method: c.req.method,
    path: c.req.path,
    route: c.req.routePath,
    status: c.res.status,
    durationMs: Math.round(durationMs * 100) / 100,
    user,
    requestId,
    traceId,
    spanId,
    // The client's span, when it sent a traceparent: the request's line joins its trace tree.
    parentSpanId: incoming?.spanId ?? null,
    ...spansOf({ sampled: isSampled, status: c.res.status, durationMs, spans: c.get("spans") }),
  });
});

/** The request's hops, in its line when the trace is sampled or the request went wrong or slow (keepsSpans): each span with the service that ran it and, when not info, its level. */
function spansOf(request: { sampled: boolean; status: number; durationMs: number; spans: SpanLine[] }): { spans?: Record<string, unknown>[] } {
  return keepsSpans(request) ? { spans: request.spans.map(carriedSpan) } : {};
}

/** Takes the spans a call answered with into the request's line. */
export function adoptSpans(c: Context<AppEnv>, answer: { spans?: SpanLine[] }): void {
  if (answer.spans) c.get("spans").push(...answer.spans);
}

// ---- request metrics (docs/observability.md) ----------------------------------------------
// Counted into this isolate's buffer as each request ends, and handed to the metrics object
// at most once a second per isolate, behind an answer (executionCtx.waitUntil): no request
// waits for it, and a busy isolate costs the object one call a second however many
// requests it serves. What a dying isolate had not flushed yet is lost.

const FLUSH_INTERVAL_MS = 1_000;
const buffer = new MetricsBuffer();
const gate = new FlushGate(FLUSH_INTERVAL_MS);
/** Longer than any schedule can wait, well within the 30 s a request's waitUntil may run. */
const STALE_SCHEDULE_MS = 10_000;
let scheduledAt: number | null = null;
let flushing: Promise<void> = Promise.resolve();

export const metricsEnabled = (env: Env) => env.REQUEST_METRICS !== "off";

/** The rule an order was refused by, as the account named it in the error's details. */
function refusedBy(error: unknown): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const rule = (error.details[0] as { rule?: unknown } | undefined)?.rule;
  return typeof rule === "string" ? rule : undefined;
}

function measure(c: Context<AppEnv>, durationMs: number): void {
  const route = answeredRoute(matchedRoutes(c), c.req.routeIndex);
  const method = c.req.method;
  const status = String(c.res.status);
  // In production only (the binding exists there): one data point per request.
  // (An index holds at most 96 bytes; route patterns are shorter, but a longer one must not throw.)
  c.env.ANALYTICS?.writeDataPoint({ indexes: [route.slice(0, 96)], blobs: [route, method, status], doubles: [durationMs / 1000, c.res.status] });
  if (!metricsEnabled(c.env)) return;
  const labels = { route, method, status };
  buffer.inc(HTTP_REQUESTS, labels);
  buffer.observe(HTTP_DURATION, labels, durationMs / 1000);
  // A refused order or replacement: its answer passes here anyway, so no extra hop.
  const rule = route.startsWith("/v2/orders") && (method === "POST" || method === "PATCH") ? refusedBy(c.error) : undefined;
  if (rule) buffer.inc(ORDER_REJECTIONS, { rule });
  deferFlush(c.env, executionContext(c));
}

/** The request's ExecutionContext; an app called without one (some tests) lets the flush run unowned. */
function executionContext(c: Context<AppEnv>): { waitUntil(work: Promise<unknown>): void } {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: (work) => void work };
  }
}

/**
 * At most one flush scheduled per isolate, on a timer (so after this answer is out, never
 * awaited by it) and no sooner than the interval allows. The schedule ends when the flush
 * takes the buffer, so what is counted while it is on its way gets a flush of its own.
 */
function deferFlush(env: Env, ctx: { waitUntil(work: Promise<unknown>): void }): void {
  const now = Date.now();
  // A schedule whose request context was torn down never ran: do not wait on it forever.
  if (scheduledAt !== null && now - scheduledAt < STALE_SCHEDULE_MS) return;
  scheduledAt = now;
  ctx.waitUntil(
    new Promise<void>((resolve) => setTimeout(resolve, gate.wait(now))).then(() => {
      scheduledAt = null;
      return flushMetrics(env);
    }),
  );
}

/**
 * Hands this isolate's counts to the metrics object (tests call it to see their requests
 * counted without waiting for the interval). Flushes run one after another, so one that
 * returns has also seen an earlier one land; a failed flush puts its counts back for the next.
 */
export function flushMetrics(env: Env): Promise<void> {
  flushing = flushing.then(() => flushNow(env));
  return flushing;
}

async function flushNow(env: Env): Promise<void> {
  if (buffer.empty) return;
  gate.mark(Date.now());
  const delta = buffer.take();
  try {
    await env.METRICS.getByName(METRICS_STORE).record(delta);
  } catch (error) {
    buffer.restore(delta);
    log("warn", "metrics flush failed; kept for the next", { error: String(error) });
  }
}
