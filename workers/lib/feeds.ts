import { activeSymbols } from "../../platform/assets";
import { log } from "../../platform/log";

/** Arms the feed of every active symbol (idempotent: a running feed is left alone). */
export async function startFeeds(env: Env): Promise<void> {
  const symbols = [...(await activeSymbols(env)).keys()];
  const outcomes = await Promise.allSettled(symbols.map((symbol) => env.MARKET.getByName(symbol).ensureRunning()));
  for (const [i, o] of outcomes.entries()) {
    if (o.status === "rejected") log("error", "feed did not start", { symbol: symbols[i], error: String(o.reason) });
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
