import { tooManyRequests } from "../../shared/errors";
import { gatewayConfig } from "./config";

// Failed logins are counted per account (its email) and per client (IP), in the same
// Durable Objects the rate limiter uses, so an attacker spreading guesses across isolates
// or accounts is still counted. After a few failures each attempt is slowed; past the
// limit it is refused with 429 until the window has slid on.
const BUCKET = "login-failures";

const accountLimiter = (env: Env, email: string) => env.RATE_LIMITER.getByName(`login:${email}`);
const clientLimiter = (env: Env, ip: string) => env.RATE_LIMITER.getByName(`ip:${ip}`);

/** Delay before answering an attempt that follows `failures` recent failures. */
export function loginDelayMs(failures: number, policy: { freeFailures: number; maxDelayMs: number }): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxDelayMs, 250 * 2 ** (failures - policy.freeFailures));
}

/** Refuses a locked-out account or client; otherwise waits in proportion to recent failures. */
export async function throttleLogin(env: Env, email: string, ip: string): Promise<void> {
  const policy = gatewayConfig(env).loginThrottle;
  const windowMs = policy.windowSeconds * 1000;
  const [account, client] = await Promise.all([
    accountLimiter(env, email).peek(BUCKET, policy.perAccount, windowMs),
    clientLimiter(env, ip).peek(BUCKET, policy.perClient, windowMs),
  ]);
  for (const d of [account, client]) {
    if (!d.allowed) throw tooManyRequests("too many failed sign-in attempts; try again later", d.retryAfterMs / 1000);
  }
  // peek() reports what would remain after one more failure.
  const failures = Math.max(policy.perAccount - account.remaining - 1, policy.perClient - client.remaining - 1);
  const delay = loginDelayMs(failures, policy);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
}

export async function recordLoginFailure(env: Env, email: string, ip: string): Promise<void> {
  const policy = gatewayConfig(env).loginThrottle;
  const windowMs = policy.windowSeconds * 1000;
  await Promise.all([
    accountLimiter(env, email).hit(BUCKET, policy.perAccount, windowMs),
    clientLimiter(env, ip).hit(BUCKET, policy.perClient, windowMs),
  ]);
}

export async function clearLoginFailures(env: Env, email: string): Promise<void> {
  await accountLimiter(env, email).clear(BUCKET);
}
