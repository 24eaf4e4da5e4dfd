import { env, runDurableObjectAlarm } from "cloudflare:test";
import { call, json, type TestUser } from "./helpers";

let counter = 0;
/** A fresh ticker for one test (Durable Object storage is shared within a file). */
export function freshSymbol(prefix = "T"): string {
  counter += 1;
  return `${prefix}${(Date.now() % 1e6).toString(36).toUpperCase()}${counter}`.slice(0, 12);
}

export interface InstrumentOptions {
  symbol?: string;
  class?: "us_equity" | "crypto";
  tick_size?: string;
  lot_size?: string;
  feed?: Record<string, unknown>;
}

/**
 * Creates an instrument through the admin API. The default feed is a simulator that
 * prints a trade on every step and steps only when a test runs its alarm.
 */
export async function createInstrument(admin: TestUser, options: InstrumentOptions = {}) {
  const crypto = options.class === "crypto";
  const symbol = options.symbol ?? (crypto ? `${freshSymbol("C")}/USD` : freshSymbol());
  const res = await call("/api/admin/assets", {
    token: admin.access,
    body: {
      symbol,
      name: `Test ${symbol}`,
      class: options.class ?? "us_equity",
      exchange: crypto ? "CRYPTO" : "NASDAQ",
      tick_size: options.tick_size ?? "0.01",
      lot_size: options.lot_size ?? (crypto ? "0.0001" : "1"),
      feed: options.feed ?? { kind: "sim", params: { seed: 7, startPrice: "100.00", tradeProbability: 1, tickIntervalMs: 3_600_000 } },
    },
  });
  if (res.status !== 201) throw new Error(`instrument creation failed: ${res.status} ${await res.text()}`);
  return json<{ id: string; symbol: string }>(res);
}

/** Runs the symbol's pending alarm `times` times: one feed step each. */
export async function step(symbol: string, times = 1): Promise<void> {
  const stub = env.MARKET.getByName(symbol);
  for (let i = 0; i < times; i++) {
    await stub.ensureRunning();
    await runDurableObjectAlarm(stub);
  }
}
