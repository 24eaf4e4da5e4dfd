import { tooManyRequests } from "../../shared/errors";
import { liveGatewayConfig } from "./config";

// Failed logins are counted per account (its email) and per client (IP), in the same
// Durable Objects the rate limiter uses, so an attacker spreading guesses across isolates
// or accounts is still counted. After a few failures each attempt is slowed; past the
// limit it is refused with 429 until the window has slid on.
//
// The account's window is charged before the password is checked: every attempt takes
// a slot with one hit() (a read-check-write inside the object, so concurrent attempts
// cannot all see the same free count), and a correct password then clears the window.
// Counting only after the hash would let any number of simultaneous guesses through.
// The client's window still counts failures only (a successful sign-in must not use up a
// shared address's budget); its race is bounded by the auth route class's own limit.
//
// The policy is the run-time configuration's login_throttle (the vars' LOGIN_THROTTLE
// unless an admin changed it), as this isolate last read it: at most half a second old.
const BUCKET = "login-failures";

const accountLimiter = (env: Env, email: string) => env.RATE_LIMITER.getByName(`login:${email}`);
const clientLimiter = (env: Env, ip: string) => env.RATE_LIMITER.getByName(`ip:${ip}`);

/** Delay before answering an attempt that follows `failures` recent failures. */
export function loginDelayMs(failures: number, policy: { freeFailures: number; maxDelayMs: number }): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxDelayMs, 250 * 2 ** (failures - policy.freeFailures));
}

const lockedOut = (retryAfterMs: number) => tooManyRequests("too many failed sign-in attempts; try again later", retryAfterMs / 1000);

/**
 * Admits one sign-in attempt before its password is checked, or refuses it with 429:
 * refuses a client past its failure limit, then takes the attempt's slot in the account's
 * window, then waits in proportion to the failures already counted.
 */
export async function admitLoginAttempt(env: Env, email: string, ip: string): Promise<void> {
  const policy = (await liveGatewayConfig(env)).loginThrottle;
  const windowMs = policy.windowSeconds * 1000;
  // The client first, so a client that is already refused cannot spend an account's slots.
  const client = await clientLimiter(env, ip).peek(BUCKET, policy.perClient, windowMs);
  if (!client.allowed) throw lockedOut(client.retryAfterMs);
  const account = await accountLimiter(env, email).hit(BUCKET, policy.perAccount, windowMs);
  if (!account.allowed) throw lockedOut(account.retryAfterMs);
  // Both decisions report what remains with this attempt counted.
  const failures = Math.max(policy.perAccount - account.remaining - 1, policy.perClient - client.remaining - 1);
  const delay = loginDelayMs(failures, policy);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
}

/** Counts a failed attempt against its client (the account's slot was taken on admission). */
export async function recordLoginFailure(env: Env, ip: string): Promise<void> {
  const policy = (await liveGatewayConfig(env)).loginThrottle;
  await clientLimiter(env, ip).hit(BUCKET, policy.perClient, policy.windowSeconds * 1000);
}

/** A correct password ends the account's lockout count, the attempt's own slot included. */
export async function clearLoginFailures(env: Env, email: string): Promise<void> {
  await accountLimiter(env, email).clear(BUCKET);
}
