import { z } from "zod";
import { DEFAULT_VENUE, type VenueConfig } from "../venue/venue";
import { parseMoney } from "./money";
import { DEFAULT_LIMITS, RiskLimits } from "./risk";

// Trading configuration from the environment's vars (wrangler.toml): starting cash of a
// new paper account, the global risk limits (an account may override them) and the
// venue's fee and liquidity model. Parsed once per isolate; a bad value fails loudly.

const Fee = z.number().min(0).max(1000).multipleOf(0.01);
export const VenueSettings = z.object({
  makerBps: Fee,
  takerBps: Fee,
  minFee: z.string().regex(/^\d{1,6}(\.\d{1,2})?$/),
  depthLevels: z.number().int().min(1).max(100),
  slippageTicks: z.number().int().min(0).max(10_000),
  crossUsers: z.boolean(),
}) satisfies z.ZodType<VenueConfig>;

export interface TradingConfig {
  startingCash: bigint;
  limits: RiskLimits;
  venue: VenueConfig;
}

const cache = new WeakMap<object, TradingConfig>();

export function tradingConfig(env: { STARTING_CASH?: string; RISK_LIMITS?: string; VENUE?: string }): TradingConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const startingCash = parseMoney(env.STARTING_CASH ?? "100000");
  if (startingCash === undefined || startingCash < 0n) throw new RangeError(`STARTING_CASH is not an amount: ${env.STARTING_CASH}`);
  const config: TradingConfig = {
    startingCash,
    limits: RiskLimits.parse({ ...DEFAULT_LIMITS, ...(env.RISK_LIMITS ? (JSON.parse(env.RISK_LIMITS) as object) : {}) }),
    venue: VenueSettings.parse({ ...DEFAULT_VENUE, ...(env.VENUE ? (JSON.parse(env.VENUE) as object) : {}) }),
  };
  cache.set(env, config);
  return config;
}

/** The most a backtest may start with, in USD: fifteen digits, far inside money's range. */
export const MAX_STARTING_CASH = "1000000000000000";

/**
 * What is wrong with a backtest's starting cash (the API's `cash`, the CLI's `--cash`), or
 * null: a positive amount in USD of at most two decimals (cents), at most MAX_STARTING_CASH.
 */
export function startingCashProblem(text: string): string | null {
  if (!/^\d+(\.\d{1,2})?$/.test(text) || !/[1-9]/.test(text)) {
    // A positive number in another notation (found in QA: "1e30" was "not a positive amount").
    const written = Number(text) > 0 ? `; write it in digits, like 100000 or 2500.50` : "";
    return `"${text.slice(0, 40)}" is not a positive amount in USD with at most two decimals${written}`;
  }
  // Past money's twenty whole digits parseMoney answers nothing: too large as well.
  const amount = parseMoney(text);
  return amount === undefined || amount > parseMoney(MAX_STARTING_CASH)! ? `"${text.slice(0, 40)}" is more than the most a backtest may start with, ${MAX_STARTING_CASH}` : null;
}
