import { log } from "../../platform/log";

/** Arms the feed of every active symbol (idempotent: a running feed is left alone). */
export async function startFeeds(env: Env): Promise<void> {
  const { results } = await env.DB.prepare("SELECT symbol FROM assets WHERE status = 'active'").all<{ symbol: string }>();
  const outcomes = await Promise.allSettled(results.map((r) => env.MARKET.getByName(r.symbol).ensureRunning()));
  for (const [i, o] of outcomes.entries()) {
    if (o.status === "rejected") log("error", "feed did not start", { symbol: results[i]?.symbol, error: String(o.reason) });
  }
}

let started = false;
/**
 * Starts the feeds once per isolate, so a fresh local platform streams demo data from
 * its first request without waiting for the cron trigger.
 */
export function startFeedsOnce(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): void {
  if (started) return;
  started = true;
  ctx.waitUntil(startFeeds(env).catch((error: unknown) => {
    started = false;
    log("error", "feed start failed", { error: String(error) });
  }));
}
