import type { AssetClass, InstrumentSpec } from "../market/instrument";
import type { TradingSession } from "./session";

// What an account needs to know of an instrument to take an order on it: its grids, whether
// it trades now, and its session. The gateway reads it from the asset registry and passes
// it with each order, so the account never reads the database.
export interface AssetInfo {
  id: string;
  spec: InstrumentSpec;
  tradable: boolean;
  active: boolean;
  session: TradingSession | null;
}

/** The one rule for an instrument's zone: equities live in New York, crypto in UTC. */
export const timeZoneOf = (assetClass: AssetClass): string => (assetClass === "crypto" ? "UTC" : "America/New_York");

export function instrumentSpec(symbol: string, assetClass: AssetClass, tickSize: string, lotSize: string): InstrumentSpec {
  return { symbol, assetClass, tickSize, lotSize, timeZone: timeZoneOf(assetClass) };
}
