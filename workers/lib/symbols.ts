export interface SymbolInfo {
  symbol: string;
  assetClass: "us_equity" | "crypto";
  timeZone: string;
  tradable: boolean;
}

const TTL_MS = 10_000;
let cache: { at: number; env: Env; symbols: Map<string, SymbolInfo> } | undefined;

/**
 * Active instruments by symbol, cached per isolate for a few seconds: market-data routes
 * look symbols up on every request, and the registry changes rarely (an admin edit is
 * visible here within TTL_MS).
 */
export async function activeSymbols(env: Env): Promise<Map<string, SymbolInfo>> {
  if (cache && cache.env === env && Date.now() - cache.at < TTL_MS) return cache.symbols;
  const { results } = await env.DB.prepare("SELECT symbol, class, tradable FROM assets WHERE status = 'active'").all<{ symbol: string; class: string; tradable: number }>();
  const symbols = new Map(
    results.map((r) => {
      const crypto = r.class === "crypto";
      return [r.symbol, { symbol: r.symbol, assetClass: crypto ? "crypto" : "us_equity", timeZone: crypto ? "UTC" : "America/New_York", tradable: r.tradable === 1 }] as const;
    }),
  );
  cache = { at: Date.now(), env, symbols };
  return symbols;
}

export function forgetSymbols(): void {
  cache = undefined;
}
