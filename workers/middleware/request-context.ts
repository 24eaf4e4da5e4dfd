import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context";
import { log } from "../../platform/log";
import { ApiError } from "../../shared/errors";
import { gatewayConfig } from "../lib/config";
import { errorResponse } from "./errors";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
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
  c.set("principal", undefined);
  c.set("authFailure", undefined);
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
  log(c.res.status >= 500 ? "error" : "info", "request", {
    method: c.req.method,
    path: c.req.path,
    route: c.req.routePath,
    status: c.res.status,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    user,
    requestId,
    traceId,
    spanId,
  });
});
