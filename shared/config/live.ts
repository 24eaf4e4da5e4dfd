import type { RiskLimits } from "../trading/risk";
import type { RateLimits } from "./keys";

/** What a running account object holds of the configuration: the values at its scope, and the store's version they come from. */
export interface AccountConfig {
  version: number;
  riskLimits: RiskLimits;
  rateLimits: RateLimits;
  featureFlags: Record<string, boolean>;
}

/** The name of the one configuration store of an environment. */
export const CONFIG_STORE = "config";

/** The scope an account object's values are read at. */
export const accountScope = (owner: string) => `account:${owner}`;
