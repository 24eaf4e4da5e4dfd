import { tooManyRequests } from "../../shared/errors";

// Failed logins are counted per account (its email) and per client (IP), in the same
// Durable Objects the rate limiter uses, so an attacker spreading guesses across isolates
// or accounts is still counted. After a few failures each attempt is slowed; past the
// limit it is refused with 429 until the window has slid on.
const WINDOW_MS = 15 * 60 * 1000;
const ACCOUNT_LIMIT = 10;
const CLIENT_LIMIT = 30;
const FREE_FAILURES = 3;
const MAX_DELAY_MS = 2000;
const BUCKET = "login-failures";

const accountLimiter = (env: Env, email: string) => env.RATE_LIMITER.getByName(`login:${email}`);
const clientLimiter = (env: Env, ip: string) => env.RATE_LIMITER.getByName(`ip:${ip}`);

/** Refuses a locked-out account or client; otherwise waits in proportion to recent failures. */
export async function throttleLogin(env: Env, email: string, ip: string): Promise<void> {
  const [account, client] = await Promise.all([
    accountLimiter(env, email).peek(BUCKET, ACCOUNT_LIMIT, WINDOW_MS),
    clientLimiter(env, ip).peek(BUCKET, CLIENT_LIMIT, WINDOW_MS),
  ]);
  for (const d of [account, client]) {
    if (!d.allowed) throw tooManyRequests("too many failed sign-in attempts; try again later", d.retryAfterMs / 1000);
  }
  const failures = Math.max(ACCOUNT_LIMIT - account.remaining - 1, CLIENT_LIMIT - client.remaining - 1);
  if (failures >= FREE_FAILURES) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_DELAY_MS, 250 * 2 ** (failures - FREE_FAILURES))));
  }
}

export async function recordLoginFailure(env: Env, email: string, ip: string): Promise<void> {
  await Promise.all([
    accountLimiter(env, email).hit(BUCKET, ACCOUNT_LIMIT, WINDOW_MS),
    clientLimiter(env, ip).hit(BUCKET, CLIENT_LIMIT, WINDOW_MS),
  ]);
}

export async function clearLoginFailures(env: Env, email: string): Promise<void> {
  await accountLimiter(env, email).clear(BUCKET);
}
