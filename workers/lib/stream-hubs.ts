import { logger } from "../../platform/log";

const log = logger("gateway");

// The market-data hub objects: `STREAM_HUBS` of them, named hub-0 … hub-(n-1). A socket
// lands on one at random; whatever must reach every socket (a revocation) asks them all.

export const hubCount = (env: Env): number => Math.max(1, Math.floor(Number(env.STREAM_HUBS)) || 1);

export const randomHub = (env: Env): string => `hub-${Math.floor(Math.random() * hubCount(env))}`;

export const allHubs = (env: Env): string[] => Array.from({ length: hubCount(env) }, (_, i) => `hub-${i}`);

/**
 * Tells every hub the listed symbols changed, so "*" subscriptions take them (answers once
 * all are registered). The asset is written by then: a hub that cannot be reached is logged,
 * not answered as a 5xx of a change that succeeded; its "*" subscribers get the symbol at
 * their hub's next registration.
 */
export async function assetsChanged(env: Env): Promise<void> {
  const hubs = allHubs(env);
  const outcomes = await Promise.allSettled(hubs.map((hub) => env.STREAM_HUB.getByName(hub).assetsChanged()));
  outcomes.forEach((o, i) => o.status === "rejected" && log("warn", "a hub did not hear the listed symbols change", { hub: hubs[i], error: String(o.reason) }));
}
