import type { SocketLimits } from "../stream/limits";
import type { RiskLimits } from "../trading/risk";
import type { VenueConfig } from "../venue/venue";
import type { ConfigKey, LoginThrottle, RateLimits } from "./keys";

/** What a running account object holds of the configuration: the values at its scope, and the store's version they come from. */
export interface AccountConfig {
  version: number;
  riskLimits: RiskLimits;
  rateLimits: RateLimits;
  featureFlags: Record<string, boolean>;
  /** Absent from a copy kept before the key existed. */
  socketLimits?: SocketLimits;
}

/** What a running stream hub holds: the socket limits. */
export interface HubConfig {
  version: number;
  socketLimits: SocketLimits;
}

/** What a running symbol object holds: its venue's settings at its scope. */
export interface SymbolConfig {
  version: number;
  venue: VenueConfig;
}

/**
 * The global values the gateway applies itself, to callers no account object counts:
 * requests without a credential (or with a refused one) and sign-in failures.
 */
export interface GatewayLiveConfig {
  version: number;
  rateLimits: RateLimits;
  loginThrottle: LoginThrottle;
  /** What the `trade_updates` relay applies to the messages it answers before authentication. */
  socketLimits: SocketLimits;
}

/** The name of the one configuration store of an environment. */
export const CONFIG_STORE = "config";

/** The scope an account object's values are read at. */
export const accountScope = (owner: string) => `account:${owner}`;

/** The scope a symbol object's values are read at. */
export const symbolScope = (symbol: string) => `symbol:${symbol}`;

/** How a stream hub registers: hubs have no scope of their own, they read the global values. */
export const hubSubscriber = (hub: string) => `hub:${hub}`;

/** The keys each kind of registered object applies: a change to another key is not pushed to it. */
export const APPLIED_BY: Record<"account" | "symbol" | "hub", readonly ConfigKey[]> = {
  account: ["risk_limits", "rate_limits", "feature_flags", "socket_limits"],
  symbol: ["venue"],
  hub: ["socket_limits"],
};
