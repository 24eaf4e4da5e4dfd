import { and, eq } from "drizzle-orm";
import { database, schema } from "../../platform/db";
import { logger } from "../../platform/log";
import { domainEvent } from "../../shared/events";
import type { LiveStrategyConfig, LiveStrategyStatus } from "../../shared/strategy/live-host";

const log = logger("market-symbol");

/**
 * A live strategy's status on its D1 row, where the API lists it. The symbol object writes
 * it for every change (start, stop, errored) inside the section that makes the change, so
 * the row's writes come in the order the object made them and the last one is its state:
 * two requests racing each other cannot leave the row saying otherwise. Answers false when
 * the row is gone or names another symbol or timeframe (the strategy was deleted or moved
 * after its start was asked for); true when it was written, or when the write failed and
 * whether it exists is not known.
 */
export async function recordLiveStatus(env: Env, config: LiveStrategyConfig, status: LiveStrategyStatus): Promise<boolean> {
  let exists = true;
  let name: string | null = null;
  try {
    const written = await database(env)
      .update(schema.strategies)
      .set({ status: status.status, statusMessage: status.message, runningVersion: status.status === "running" ? config.version : null, lastRun: status.run })
      // Only a row that still names this symbol and the timeframe the run hears: one moved
      // (PATCH, while this start ran) answers as a deleted one does, and the start stops
      // rather than run where its record does not say.
      .where(and(eq(schema.strategies.id, config.id), eq(schema.strategies.symbol, status.symbol), eq(schema.strategies.timeframe, config.timeframe)))
      .returning({ id: schema.strategies.id, name: schema.strategies.name });
    exists = written.length > 0;
    name = written[0]?.name ?? null;
  } catch (error) {
    log("error", "recording a strategy's status failed", { strategy: config.id, error: String(error) });
  }
  // A stop its owner asked for is published by the gateway; one the strategy's errors caused only here.
  if (status.status === "errored") await publishErrored(env, config, status, name);
  return exists;
}

async function publishErrored(env: Env, config: LiveStrategyConfig, status: LiveStrategyStatus, name: string | null): Promise<void> {
  const event = domainEvent("strategy.errored", `user:${config.owner}`, { user_id: config.owner, strategyId: config.id, name, run: config.run, symbol: status.symbol, message: status.message }, null);
  try {
    await env.EVENTS.send(event, { contentType: "json" });
  } catch (error) {
    log("error", "event publish failed", { eventId: event.id, type: event.type, strategy: config.id, error: String(error) });
  }
}
