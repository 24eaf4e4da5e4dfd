import { it } from "vitest";
import { runBacktest } from "../shared/strategy/backtest";
import { TEMPLATES } from "../shared/strategy/templates";
// @ts-expect-error js
import { seededRandom } from "../bench/lib/random.mjs";
it("speed", async () => {
  const N = 1_000_000;
  const rand = seededRandom(20260102); const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const bars = new Array(N); let close = 20000;
  for (let i = 0; i < N; i++) { const open = Math.max(1000, close + int(-1, 1)); close = Math.max(1000, open + int(-8, 8) + Math.round((20000 - open) / 2000)); const high = Math.max(open, close) + int(0, 4); const low = Math.max(500, Math.min(open, close) - int(0, 4)); bars[i] = { t: Date.UTC(2024,0,1) + i * 60000, open: open/100, high: high/100, low: low/100, close: close/100, volume: 1 }; }
  const L = "1000000000000";
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const r = await runBacktest({ strategy: TEMPLATES.get("ma-cross")!.create(), bars, spec: { symbol: "BENCH/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.000000001", timeZone: "UTC" } as never, params: { fast: 10, slow: 30, sizing: "all_in" }, cash: "100000", halfSpreadTicks: 0, venue: { slippageTicks: 0 }, limits: { maxOrderQty: L, maxOrderNotional: L, maxPositionNotional: L, dailyLossLimit: L, ordersPerMinute: 100000 } as never });
    const t1 = performance.now();
    console.log("WORKERD ms", t1 - t0, r.fills.length);
  }
}, 600_000);
