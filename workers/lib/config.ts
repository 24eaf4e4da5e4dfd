import { z } from "zod";

// Vars are strings in wrangler.toml; parse them once per isolate and fail loudly on a
// misconfiguration instead of running with a silent default.
const RateLimits = z.object({
  windowSeconds: z.number().int().positive(),
  auth: z.number().int().positive(),
  trading: z.number().int().positive(),
  default: z.number().int().positive(),
});
export type RateLimitClass = "auth" | "trading" | "default";

const LoginThrottle = z.object({
  windowSeconds: z.number().int().positive(),
  perAccount: z.number().int().positive(),
  perClient: z.number().int().positive(),
  freeFailures: z.number().int().nonnegative(),
  maxDelayMs: z.number().int().nonnegative(),
});
export type LoginThrottle = z.infer<typeof LoginThrottle>;

export interface GatewayConfig {
  environment: string;
  corsOrigins: readonly string[];
  rateLimits: z.infer<typeof RateLimits>;
  loginThrottle: LoginThrottle;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  maxBodyBytes: number;
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
  };
  cache.set(env, config);
  return config;
}
