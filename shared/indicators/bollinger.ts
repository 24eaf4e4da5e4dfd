import { checkFinite, checkPeriod, type Indicator } from "./indicator";

export interface BollingerValue {
  /** Simple mean of the window. */
  middle: number;
  /** middle + multiplier · σ. */
  upper: number;
  /** middle − multiplier · σ. */
  lower: number;
}

/**
 * Bollinger bands (defaults 20, 2) with the population standard deviation σ (divide by
 * the period, not period − 1), as Bollinger defines them; null until `period` inputs.
 *
 * The mean and the sum of squared deviations (M2) slide with Welford's replace-one update,
 * which avoids the cancellation of Σx² − n·mean² at price scale; both are recomputed from
 * the window every `period` updates (amortized O(1)) so float drift cannot accumulate.
 */
export class Bollinger implements Indicator<[close: number], BollingerValue> {
  readonly period: number;
  readonly multiplier: number;
  readonly #window: Float64Array;
  #count = 0;
  #next = 0;
  #mean = 0;
  #m2 = 0;
  #sinceRecompute = 0;
  #value: BollingerValue | null = null;

  constructor(period = 20, multiplier = 2) {
    this.period = checkPeriod("Bollinger", period);
    this.multiplier = checkFinite("Bollinger multiplier", multiplier);
    this.#window = new Float64Array(this.period);
  }

  update(close: number): BollingerValue | null {
    checkFinite("Bollinger", close);
    if (this.#count < this.period) {
      // Welford's add-one update while the window fills.
      const n = this.#count + 1;
      const delta = close - this.#mean;
      this.#mean += delta / n;
      this.#m2 += delta * (close - this.#mean);
    } else {
      const old = this.#window[this.#next]!;
      const oldMean = this.#mean;
      this.#mean += (close - old) / this.period;
      this.#m2 += (close - old) * (close - this.#mean + old - oldMean);
    }
    this.#window[this.#next] = close;
    this.#next = (this.#next + 1) % this.period;
    this.#count++;
    if (this.#count < this.period) return null;
    if (++this.#sinceRecompute >= this.period) this.#recompute();
    const sigma = Math.sqrt(Math.max(this.#m2, 0) / this.period);
    const middle = this.#mean;
    this.#value = { middle, upper: middle + this.multiplier * sigma, lower: middle - this.multiplier * sigma };
    return this.#value;
  }

  get value(): BollingerValue | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#count >= this.period;
  }

  #recompute(): void {
    let sum = 0;
    for (const x of this.#window) sum += x;
    const mean = sum / this.period;
    let m2 = 0;
    for (const x of this.#window) m2 += (x - mean) * (x - mean);
    this.#mean = mean;
    this.#m2 = m2;
    this.#sinceRecompute = 0;
  }
}
