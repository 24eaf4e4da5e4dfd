import { checkFinite, checkPeriod, type Indicator } from "./indicator";

/**
 * Exponential moving average, alpha = 2 / (period + 1) unless given (Wilder's is 1 / period).
 * Seeding: the first value is the simple mean of the first `period` inputs (at the
 * `period`-th input); from then on ema += alpha · (x − ema). Null before that.
 */
export class EMA implements Indicator<[x: number], number> {
  readonly period: number;
  readonly #alpha: number;
  #count = 0;
  #seedSum = 0;
  #value: number | null = null;

  constructor(period: number, alpha = 2 / (period + 1)) {
    this.period = checkPeriod("EMA", period);
    this.#alpha = alpha;
  }

  update(x: number): number | null {
    checkFinite("EMA", x);
    this.#count++;
    if (this.#value !== null) {
      this.#value += this.#alpha * (x - this.#value);
      return this.#value;
    }
    this.#seedSum += x;
    if (this.#count === this.period) this.#value = this.#seedSum / this.period;
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }
}
