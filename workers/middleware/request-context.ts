import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { log } from "../../platform/log";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Request id, W3C trace context and the one JSON log line per request. An incoming
 * traceparent keeps its trace id (we are a new span in it); an invalid one is replaced.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const incomingId = c.req.header("x-request-id");
  const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : crypto.randomUUID();
  const parent = TRACEPARENT.exec(c.req.header("traceparent") ?? "");
  const traceId = parent && !/^0+$/.test(parent[1]!) ? parent[1]! : hex(16);
  const spanId = hex(8);
  const traceparent = `00-${traceId}-${spanId}-01`;
  c.set("requestId", requestId);
  c.set("traceId", traceId);
  c.set("spanId", spanId);
  c.set("traceparent", traceparent);
  c.set("clientIp", c.req.header("cf-connecting-ip") ?? "local");
  c.set("principal", undefined);
  c.set("authFailure", undefined);

  await next();

  c.header("X-Request-ID", requestId);
  c.header("traceparent", traceparent);
  const principal = c.get("principal");
  log(c.res.status >= 500 ? "error" : "info", "request", {
    method: c.req.method,
    path: c.req.path,
    route: c.req.routePath,
    status: c.res.status,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    user: principal?.userId ?? null,
    requestId,
    traceId,
    spanId,
  });
});
