import { describe, expect, it } from "vitest";
import { listedSymbol } from "../../web/src/symbols";

// "Add symbol" on the watchlist (web/src/symbols.ts): what a trader types, against the
// asset list the platform answers on GET /v2/assets.

const assets = [
  { symbol: "AAPL", status: "active" as const },
  { symbol: "BRK.B", status: "active" as const },
  { symbol: "BTC/USD", status: "active" as const },
  { symbol: "OLD", status: "inactive" as const },
];

describe("a symbol added to the watchlist", () => {
  it("is the listed symbol, whatever the case and however a pair is separated", () => {
    expect(listedSymbol(" aapl ", assets)).toEqual({ symbol: "AAPL" });
    expect(listedSymbol("brk.b", assets)).toEqual({ symbol: "BRK.B" });
    for (const typed of ["BTC/USD", "btcusd", "BTCUSD", "btc-usd", "btc_usd"]) expect(listedSymbol(typed, assets)).toEqual({ symbol: "BTC/USD" });
  });

  it("is refused in words when the platform does not list it or it no longer trades", () => {
    expect(listedSymbol("NOPE", assets)).toEqual({ problem: "NOPE is not a symbol this platform lists." });
    expect(listedSymbol("ETHUSD", assets)).toEqual({ problem: "ETHUSD is not a symbol this platform lists." });
    expect(listedSymbol("old", assets)).toEqual({ problem: "OLD is not trading (inactive)." });
    expect(listedSymbol("  ", assets)).toEqual({ problem: "Type a ticker like AAPL or a pair like BTC/USD." });
  });
});
