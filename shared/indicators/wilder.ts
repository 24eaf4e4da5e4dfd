import { EMA, type EMAState } from "./ema";

/**
 * Wilder's smoothing: an EMA with alpha = 1 / period, seeded the same way (the simple mean
 * of the first `period` inputs). The building block of RSI and ATR.
 */
export class WilderAverage extends EMA {
  constructor(period: number) {
    super(period, 1 / period);
  }

  static override restore(state: EMAState): WilderAverage {
    return new WilderAverage(state.period).load(state);
  }
}
