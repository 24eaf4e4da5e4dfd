import { createMiddleware } from "hono/factory";
import { tooManyRequests } from "../../shared/errors";
import type { AppEnv } from "../context";
import { gatewayConfig, type RateLimitClass } from "../lib/config";

export function routeClass(path: string): RateLimitClass {
  if (path.startsWith("/api/auth/")) return "auth";
  if (/^\/v2\/(orders|positions)(\/|:|$)/.test(path) || path.startsWith("/api/trading/")) return "trading";
  return "default";
}

/**
 * Sliding-window limits per client and route class, counted in a Durable Object per
 * client so every isolate agrees. The client is the authenticated user, otherwise the
 * connecting IP. Headers go on every response, the 429 included.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const { rateLimits } = gatewayConfig(c.env);
  const routeKind = routeClass(c.req.path);
  const principal = c.get("principal");
  const client = principal ? `user:${principal.userId}` : `ip:${c.get("clientIp")}`;
  const limiter = c.env.RATE_LIMITER.getByName(client);
  const decision = await limiter.hit(routeKind, rateLimits[routeKind], rateLimits.windowSeconds * 1000);
  const headers = {
    "X-RateLimit-Limit": String(decision.limit),
    "X-RateLimit-Remaining": String(decision.remaining),
    "X-RateLimit-Reset": String(Math.ceil(decision.resetAt / 1000)),
  };
  if (!decision.allowed) {
    const error = tooManyRequests(`rate limit exceeded for ${routeKind} requests; retry later`, decision.retryAfterMs / 1000);
    Object.assign(error.headers, headers);
    throw error;
  }
  await next();
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
});
