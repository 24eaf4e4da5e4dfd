import { checkPeriod } from "./indicator";

/**
 * Wilder's smoothing (an EMA with alpha = 1 / period), seeded with the simple mean of the
 * first `period` inputs: avg = (avg · (period − 1) + x) / period afterwards. The building
 * block of RSI and ATR; callers check their own inputs.
 */
export class WilderAverage {
  readonly period: number;
  #count = 0;
  #seedSum = 0;
  #value: number | null = null;

  constructor(period: number) {
    this.period = checkPeriod("WilderAverage", period);
  }

  update(x: number): number | null {
    this.#count++;
    if (this.#value !== null) {
      this.#value = (this.#value * (this.period - 1) + x) / this.period;
      return this.#value;
    }
    this.#seedSum += x;
    if (this.#count === this.period) this.#value = this.#seedSum / this.period;
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }
}
