import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError, forbidden, permissionDenied, tooManyRequests, unauthorized } from "../../shared/errors";
import type { GateOutcome, GateRefusal, GateRequest, Gated } from "../../shared/identity/gate";
import type { Permission } from "../../shared/rbac";
import type { Decision } from "../../shared/sliding-window";
import type { Caller } from "../../platform/credentials";
import type { AppEnv } from "../context";
import { accountOf } from "../lib/accounts";
import { gatewayConfig, liveGatewayConfig, type RateLimitClass } from "../lib/config";
import { errorResponse } from "./errors";
import { log } from "../../platform/log";
import { tracedStub, type Traced } from "../../platform/trace";
import { adoptSpans } from "./request-context";

export function routeClass(path: string): RateLimitClass {
  if (path.startsWith("/api/auth/")) return "auth";
  if (/^\/v2\/(orders|positions)(\/|:|$)/.test(path) || path.startsWith("/api/trading/")) return "trading";
  // Market data has its own budget (found in QA: a history walk used up the account's).
  if (path.startsWith("/v2/stocks/") || path.startsWith("/v1beta3/crypto/")) return "data";
  return "default";
}

/**
 * Routes whose command goes to the caller's own object with the gate in the same call
 * (docs/identity.md): placing, reading and cancelling orders, the account, positions,
 * watchlists and the profile. Every other route with a caller costs one `admit` call before it runs. A
 * route listed here must send its command through `oneHop` (or `gateOf` and `passed`).
 */
const ONE_HOP: readonly (readonly [string, RegExp])[] = [
  ["POST", /^\/v2\/orders$/],
  ["GET", /^\/v2\/orders(:by_client_order_id|\/[^/]+)?$/],
  ["DELETE", /^\/v2\/orders(\/[^/]+)?$/],
  ["GET", /^\/v2\/(account|positions(\/[^/]+){0,2})$/], // a pair's position may come as BASE/QUOTE
  ["GET", /^\/api\/users\/me$/],
  ["GET", /^\/v2\/account\/configurations$/],
  ["PATCH", /^\/v2\/account\/configurations$/],
  // Watchlists live in the account object too (a pair's symbol may come as BASE/QUOTE).
  ["GET", /^\/v2\/watchlists(:by_name|\/[^/]+)?$/],
  ["POST", /^\/v2\/watchlists(:by_name|\/[^/]+)?$/],
  ["PUT", /^\/v2\/watchlists(:by_name|\/[^/]+)$/],
  ["DELETE", /^\/v2\/watchlists(:by_name|(\/[^/]+){1,3})$/],
];
// A HEAD runs its GET route (Hono answers it with the GET handler, body dropped), so it is one-hop where the GET is.
const isOneHop = (method: string, path: string) => {
  const asked = method === "HEAD" ? "GET" : method;
  return ONE_HOP.some(([m, pattern]) => m === asked && pattern.test(path));
};

/** A one-hop route's gate: its permission (set by requirePermission) and the answer of the user's object. */
export interface DeferredGate {
  permission: Permission | null;
  sessionOnly: boolean;
  answer: GateOutcome | Gated<unknown> | undefined;
}

/**
 * Admission, for every request: a caller's requests are admitted by the caller's own object
 * (shared/identity/gate.ts: does the credential still stand, does the request fit the
 * user's limit), which also counts them, so every isolate agrees and no database is read;
 * requests without a caller, and credentials the object refuses, are counted per address
 * in a rate-limiter object. `X-RateLimit-*` headers go on every answer, the 429 included.
 */
export const admission = createMiddleware<AppEnv>(async (c, next) => {
  const caller = c.get("caller");
  if (!caller) return byAddress(c, next);
  if (isOneHop(c.req.method, c.req.path)) {
    const deferred: DeferredGate = { permission: null, sessionOnly: false, answer: undefined };
    c.set("deferredGate", deferred);
    await next();
    return settle(c, caller, deferred);
  }
  const outcome = (await accountOf(c.env, caller.userId).admit(gateRequest(c, caller, null, false))) as GateOutcome & Traced;
  adoptSpans(c, outcome);
  if (!outcome.admitted) {
    if (outcome.refusal.status === 401) {
      c.set("authFailure", outcome.refusal.message);
      return byAddress(c, next);
    }
    throw refusalError(outcome);
  }
  c.set("principal", outcome.principal);
  await next();
  setRateHeaders(c, outcome.rate);
});

/** What a one-hop route sends to the user's object with its command. */
export function gateOf(c: Context<AppEnv>): { userId: string; request: GateRequest } {
  const caller = c.get("caller");
  const deferred = c.get("deferredGate");
  if (!caller || !deferred) throw unauthorized(c.get("authFailure") ?? "request is not authorized");
  return { userId: caller.userId, request: gateRequest(c, caller, deferred.permission, deferred.sessionOnly) };
}

/** Sends a one-hop route's command with its gate to the caller's object; its value, or the gate's refusal as the request's error. */
export async function oneHop<T>(c: Context<AppEnv>, send: (account: ReturnType<typeof accountOf>, request: GateRequest) => Promise<unknown>): Promise<T> {
  const gate = gateOf(c);
  return passed(c, (await send(accountOf(c.env, gate.userId), gate.request)) as Gated<T>);
}

/** A one-hop command's value; a refusal of the gate becomes the request's 401/403/429. */
export function passed<T>(c: Context<AppEnv>, answer: Gated<T> & Traced): T {
  adoptSpans(c, answer);
  const deferred = c.get("deferredGate");
  if (deferred) deferred.answer = answer;
  if (!answer.admitted) throw refusalError(answer);
  return answer.value;
}

// After a one-hop route: a request that never reached the user's object (its body was
// invalid, its symbol unknown) is admitted now, so it is counted, and a refused
// credential or permission still answers before the route's own error, as everywhere.
async function settle(c: Context<AppEnv>, caller: Caller, deferred: DeferredGate): Promise<void> {
  const answer: GateOutcome | Gated<unknown> = deferred.answer ?? (await admitted(c, caller, deferred));
  if (answer.admitted) return setRateHeaders(c, answer.rate);
  if (answer.refusal.status !== 401) {
    if (!deferred.answer) c.res = errorResponse(c, refusalError(answer));
    return;
  }
  // A credential that does not stand is counted against its address, as without one.
  const decision = await addressDecision(c);
  const error = decision.allowed ? unauthorized(answer.refusal.message) : limitedError(c, decision);
  c.res = errorResponse(c, withRateHeaders(error, decision));
}

async function admitted(c: Context<AppEnv>, caller: Caller, deferred: DeferredGate): Promise<GateOutcome> {
  const outcome = (await accountOf(c.env, caller.userId).admit(gateRequest(c, caller, deferred.permission, deferred.sessionOnly))) as GateOutcome & Traced;
  adoptSpans(c, outcome);
  return outcome;
}

function gateRequest(c: Context<AppEnv>, caller: Caller, permission: Permission | null, sessionOnly: boolean): GateRequest {
  const { rateLimits } = gatewayConfig(c.env);
  const bucket = routeClass(c.req.path);
  return { credential: caller.credential, permission, sessionOnly, bucket, limit: rateLimits[bucket], windowMs: rateLimits.windowSeconds * 1000, traceparent: c.get("traceparent") };
}

async function byAddress(c: Context<AppEnv>, next: () => Promise<void>): Promise<void> {
  const decision = await addressDecision(c);
  if (!decision.allowed) throw withRateHeaders(limitedError(c, decision), decision);
  await next();
  setRateHeaders(c, decision);
}

async function addressDecision(c: Context<AppEnv>): Promise<Decision> {
  // The run-time configuration's global rate limits, at most half a second old (workers/lib/config.ts).
  const { rateLimits } = await liveGatewayConfig(c.env);
  const bucket = routeClass(c.req.path);
  return tracedStub(c.env.RATE_LIMITER.getByName(`ip:${c.get("clientIp")}`), log, "call.rateLimiter", c.get("traceparent")).hit(bucket, rateLimits[bucket], rateLimits.windowSeconds * 1000);
}

function refusalError(answer: { refusal: GateRefusal; rate: Decision | null }): ApiError {
  const error = gateError(answer.refusal, answer.rate);
  return answer.rate ? withRateHeaders(error, answer.rate) : error;
}

function gateError({ status, message, permission }: GateRefusal, rate: Decision | null): ApiError {
  if (status === 429 && rate) return tooManyRequests(message, rate.retryAfterMs / 1000);
  if (status === 403) return permission ? permissionDenied(permission) : forbidden(message);
  if (status === 401) return unauthorized(message);
  return new ApiError(status, message);
}

const limitedError = (c: Context<AppEnv>, decision: Decision): ApiError =>
  tooManyRequests(`rate limit exceeded for ${routeClass(c.req.path)} requests; retry later`, decision.retryAfterMs / 1000);

const rateHeaders = (decision: Decision): Record<string, string> => ({
  "X-RateLimit-Limit": String(decision.limit),
  "X-RateLimit-Remaining": String(decision.remaining),
  "X-RateLimit-Reset": String(Math.ceil(decision.resetAt / 1000)),
});

function withRateHeaders(error: ApiError, decision: Decision): ApiError {
  Object.assign(error.headers, rateHeaders(decision));
  return error;
}

function setRateHeaders(c: Context<AppEnv>, decision: Decision): void {
  for (const [name, value] of Object.entries(rateHeaders(decision))) c.header(name, value);
}
