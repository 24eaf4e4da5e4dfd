import type { z } from "zod";
import type { Asset } from "../../shared/schemas/assets";

// What a trader types into "Add symbol", matched against the platform's asset list: a
// symbol the platform does not list would only add a row of dashes (its snapshot and its
// subscription are refused).

export type AssetJson = z.infer<typeof Asset>;

export type SymbolLookup = { symbol: string } | { problem: string };

// A pair's separator is what people leave out or change: BTCUSD, btc-usd and BTC/USD are one pair.
const compact = (s: string) => s.replace(/[\s/_-]/g, "");

/** The listed symbol meant by `typed` (case and a pair's separator aside), or why there is none. */
export function listedSymbol(typed: string, assets: readonly Pick<AssetJson, "symbol" | "status">[]): SymbolLookup {
  const wanted = typed.trim().toUpperCase();
  if (!wanted) return { problem: "Type a ticker like AAPL or a pair like BTC/USD." };
  const asset = assets.find((a) => a.symbol === wanted) ?? assets.find((a) => compact(a.symbol) === compact(wanted));
  if (!asset) return { problem: `${wanted} is not a symbol this platform lists.` };
  if (asset.status !== "active") return { problem: `${asset.symbol} is not trading (inactive).` };
  return { symbol: asset.symbol };
}
