import { checkFinite, checkPeriod, samePeriod, savedCount, savedNumber, savedNumberOrNull, type Indicator } from "./indicator";

export type EMAState = { period: number; alpha: number; count: number; seedSum: number; value: number | null };

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

  save(): EMAState {
    return { period: this.period, alpha: this.#alpha, count: this.#count, seedSum: this.#seedSum, value: this.#value };
  }

  /** Continues from a saved state of the same period and alpha. */
  load(state: EMAState): this {
    samePeriod("EMA", this.period, state.period);
    if (state.alpha !== this.#alpha) throw new RangeError(`EMA: saved state has alpha ${state.alpha}, this instance ${this.#alpha}`);
    this.#count = savedCount("EMA count", state.count);
    this.#seedSum = savedNumber("EMA seedSum", state.seedSum);
    this.#value = savedNumberOrNull("EMA value", state.value);
    return this;
  }

  static restore(state: EMAState): EMA {
    return new EMA(state.period, state.alpha).load(state);
  }
}
