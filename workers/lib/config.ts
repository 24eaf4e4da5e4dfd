import { z } from "zod";
import { LoginThrottle, RateLimits } from "../../shared/config/keys";
import { CONFIG_STORE, type GatewayLiveConfig } from "../../shared/config/live";
import { logger } from "../../platform/log";
import { socketLimits } from "../../shared/stream/limits";

// Vars are strings in wrangler.toml; parse them once per isolate and fail loudly on a
// misconfiguration instead of running with a silent default.
export type RateLimitClass = "auth" | "trading" | "data" | "default";
export type { LoginThrottle };

export interface GatewayConfig {
  environment: string;
  corsOrigins: readonly string[];
  rateLimits: RateLimits;
  loginThrottle: LoginThrottle;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  maxBodyBytes: number;
  /** The share of requests without a caller's trace decision whose hops' spans are logged (docs/tracing.md, "Sampling"). */
  traceSampleRate: number;
}

const positiveInt = z.coerce.number().int().positive();
const cache = new WeakMap<object, GatewayConfig>();

export function gatewayConfig(env: Env): GatewayConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const config: GatewayConfig = {
    environment: env.ENVIRONMENT,
    corsOrigins: env.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean),
    rateLimits: RateLimits.parse(JSON.parse(env.RATE_LIMITS)),
    loginThrottle: LoginThrottle.parse(JSON.parse(env.LOGIN_THROTTLE)),
    accessTokenTtlSeconds: positiveInt.parse(env.ACCESS_TOKEN_TTL_SECONDS),
    refreshTokenTtlSeconds: positiveInt.parse(env.REFRESH_TOKEN_TTL_SECONDS),
    maxBodyBytes: positiveInt.parse(env.MAX_BODY_BYTES),
    traceSampleRate: z.coerce.number().min(0).max(1).parse(env.TRACE_SAMPLE_RATE),
  };
  cache.set(env, config);
  return config;
}

const log = logger("gateway");

/**
 * How long an isolate trusts its copy of the gateway's live values, counted from when it
 * asked: a change the ConfigStore committed at T is applied by every isolate from T + 0.5 s
 * at the latest (docs/config.md), inside the one second the configuration promises.
 */
export const LIVE_FRESH_MS = 500;

interface Held {
  /** When the copy was asked for: anything committed before then is in it. */
  askedAt: number;
  value: GatewayLiveConfig;
  pending?: Promise<GatewayLiveConfig>;
}
const live = new WeakMap<object, Held>();

/**
 * The global rate limits and login throttle as configured at run time, for the callers no
 * object counts by its own pushed copy: requests without a credential (or with a refused
 * one) and sign-in failures, counted in rate-limiter objects too many to push to. One
 * ConfigStore call per isolate per half second of such traffic, never D1; concurrent
 * requests share it, and a failed call keeps the last values (the vars' at first) for
 * another half second.
 */
export async function liveGatewayConfig(env: Env): Promise<GatewayLiveConfig> {
  const held = live.get(env);
  const now = Date.now();
  if (held && now - held.askedAt < LIVE_FRESH_MS) return held.value;
  if (held?.pending) return held.pending;
  const last = held?.value ?? fromVars(env);
  const pending = env.CONFIG.getByName(CONFIG_STORE)
    .gateway()
    .catch((error: unknown) => {
      log("warn", "live config unavailable; the last values stand", { error: String(error) });
      return last;
    })
    .then((value) => {
      live.set(env, { askedAt: now, value });
      return value;
    });
  live.set(env, { askedAt: held?.askedAt ?? 0, value: last, pending });
  return pending;
}

/** After a write through this isolate: its next request asks again, so the admin's own isolate applies the change at once. */
export function forgetLiveGatewayConfig(env: Env): void {
  live.delete(env);
}

function fromVars(env: Env): GatewayLiveConfig {
  const { rateLimits, loginThrottle } = gatewayConfig(env);
  return { version: 0, rateLimits, loginThrottle, socketLimits: socketLimits(env) };
}
