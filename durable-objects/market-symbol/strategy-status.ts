import { and, eq } from "drizzle-orm";
import { database, schema } from "../../platform/db";
import { logger } from "../../platform/log";
import type { LiveStrategyConfig, LiveStrategyStatus } from "../../shared/strategy/live-host";

const log = logger("market-symbol");

/**
 * A live strategy that stopped on its own (errored) is recorded on its D1 row, where the
 * API lists it. Only a row still marked running changes, so a late report cannot undo a
 * stop the owner asked for.
 */
export async function recordLiveStatus(env: Env, config: LiveStrategyConfig, status: LiveStrategyStatus): Promise<void> {
  try {
    await database(env)
      .update(schema.strategies)
      .set({ status: status.status, statusMessage: status.message, updatedAt: Date.now() })
      .where(and(eq(schema.strategies.id, config.id), eq(schema.strategies.status, "running")));
  } catch (error) {
    log("error", "recording a strategy's status failed", { strategy: config.id, error: String(error) });
  }
}
