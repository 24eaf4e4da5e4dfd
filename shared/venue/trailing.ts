import type { Side } from "./book";

// Trailing stops (Alpaca's `trailing_stop`): a stop that follows the market at a distance.
// A sell's stop trails below the highest trade since the order arrived (Alpaca calls that
// price `hwm`, the high-water mark), a buy's above the lowest; it triggers as a stop does,
// becoming a market order. The distance is a price (`trail_price`, in ticks) or a percent
// (`trail_percent`, in millionths of the price, so four decimals of a percent).

export type Trail = { ticks: number } | { ppm: number };

/** A trail percent's unit: a millionth of the price. */
export const PPM = 1_000_000;

/**
 * The stop a trail sets from `hwm`, on the tick grid: rounded away from the market (a sell's
 * down, a buy's up), so the distance is never less than asked; a sell's stop is at least one tick.
 */
export function trailingStop(side: Side, hwm: number, trail: Trail): number {
  const stop = unclampedStop(side, hwm, trail);
  return side === "sell" ? Math.max(1, stop) : stop;
}

/** Whether a sell's trail from `hwm` reaches below the first tick: its stop could never be reached (the account refuses such an order). */
export const trailsPastZero = (hwm: number, trail: Trail): boolean => unclampedStop("sell", hwm, trail) < 1;

function unclampedStop(side: Side, hwm: number, trail: Trail): number {
  if ("ticks" in trail) return side === "sell" ? hwm - trail.ticks : hwm + trail.ticks;
  const factor = side === "sell" ? PPM - trail.ppm : PPM + trail.ppm;
  const product = hwm * factor;
  // hwm·factor is exact in a double below 2^53; above it, bigint.
  if (Number.isSafeInteger(product)) return side === "sell" ? Math.floor(product / PPM) : Math.ceil(product / PPM);
  return Number(side === "sell" ? (BigInt(hwm) * BigInt(factor)) / BigInt(PPM) : (BigInt(hwm) * BigInt(factor) + BigInt(PPM - 1)) / BigInt(PPM));
}

/** Whether `price` is a new high-water mark for the side: higher for a sell's trail, lower for a buy's. */
export const extendsMark = (side: Side, price: number, hwm: number): boolean => (side === "sell" ? price > hwm : price < hwm);
