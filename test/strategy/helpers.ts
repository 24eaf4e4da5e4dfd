import type { InstrumentSpec } from "../../shared/market/instrument";
import { seededRandom } from "../../shared/market/random";
import type { StrategyBar } from "../../shared/strategy/runtime";

export const COIN: InstrumentSpec = { symbol: "CCC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.000000001", timeZone: "UTC" };

export const HOUR = 3_600_000;
export const START = Date.UTC(2025, 0, 1);

/** Hourly bars around 100.00 on a 0.01 grid, as ticks and as the strategy sees them. */
export function seededBars(count: number, seed: number): { ticks: { open: number; high: number; low: number; close: number }[]; bars: StrategyBar[] } {
  const rand = seededRandom(seed);
  const int = (lo: number, hi: number) => rand.int(lo, hi);
  const ticks: { open: number; high: number; low: number; close: number }[] = [];
  let close = 10_000;
  for (let i = 0; i < count; i++) {
    const open = Math.max(500, close + int(-3, 3));
    close = Math.max(500, open + int(-60, 60));
    const high = Math.max(open, close) + int(0, 20);
    const low = Math.max(100, Math.min(open, close) - int(0, 20));
    ticks.push({ open, high, low, close });
  }
  const price = (t: number) => t / 100;
  const bars = ticks.map((b, i) => ({ t: START + i * HOUR, open: price(b.open), high: price(b.high), low: price(b.low), close: price(b.close), volume: 1 }));
  return { ticks, bars };
}
