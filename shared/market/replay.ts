import type { Bar, Quote, Trade } from "./types";

// Replay turns stored bars back into a live feed. Each bar becomes four prints — open,
// then the extreme nearer the open, the other extreme, and the close — spread over the
// bar's duration and scaled by the replay speed, with the bar's volume split between
// them. Deterministic: the same bars and speed give the same prints.
export interface ReplayPrint {
  /** Offset from the bar's start in history time, ms. */
  offsetMs: number;
  priceTicks: number;
  sizeLots: number;
}

/**
 * The four prices a bar is played as, in ticks: the open, the extreme nearer the open (the
 * high on a tie), the other extreme, the close. Replay and backtests both play bars by
 * this one path, so a strategy meets the same prints in the same order in both.
 */
export function barPath(open: number, high: number, low: number, close: number): [number, number, number, number] {
  return high - open <= open - low ? [open, high, low, close] : [open, low, high, close];
}

export function barPrints(bar: Bar, durationMs: number): ReplayPrint[] {
  const path = barPath(bar.o, bar.h, bar.l, bar.c);
  const share = Math.floor(bar.v / 4);
  const sizes = [share, share, share, bar.v - 3 * share];
  return path
    .map((priceTicks, i) => ({ offsetMs: Math.floor((durationMs * i) / 4), priceTicks, sizeLots: Math.max(1, sizes[i]!) }))
    .filter((p, i) => i === 3 || sizes[i]! > 0 || bar.v === 0);
}

/** A two-sided quote one tick around a replayed print, sized like it. */
export function quoteAroundPrint(t: number, priceTicks: number, sizeLots: number): Quote {
  const bidTicks = Math.max(1, priceTicks - 1);
  return { t, bidTicks, askTicks: Math.max(bidTicks + 1, priceTicks + 1), bidLots: sizeLots, askLots: sizeLots };
}

export function printToTrade(t: number, id: number, print: ReplayPrint, previousPrice: number | undefined): Trade {
  return { t, id, priceTicks: print.priceTicks, sizeLots: print.sizeLots, takerSide: previousPrice !== undefined && print.priceTicks < previousPrice ? "S" : "B" };
}
