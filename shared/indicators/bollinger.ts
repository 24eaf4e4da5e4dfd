import { checkFinite, checkPeriod, samePeriod, savedCount, savedNumber, savedNumbers, type Indicator } from "./indicator";

// A type (not an interface) so that it is plain JSON to the type checker too.
export type BollingerValue = {
  /** Simple mean of the window. */
  middle: number;
  /** middle + multiplier · σ. */
  upper: number;
  /** middle − multiplier · σ. */
  lower: number;
};

/** The ring in slot order (the periodic recompute sums in slot order). */
export type BollingerState = { period: number; multiplier: number; window: number[]; count: number; next: number; mean: number; m2: number; sinceRecompute: number; value: BollingerValue | null };

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

  save(): BollingerState {
    return { period: this.period, multiplier: this.multiplier, window: Array.from(this.#window), count: this.#count, next: this.#next, mean: this.#mean, m2: this.#m2, sinceRecompute: this.#sinceRecompute, value: this.#value && { ...this.#value } };
  }

  load(state: BollingerState): this {
    samePeriod("Bollinger", this.period, state.period);
    if (state.multiplier !== this.multiplier) throw new RangeError(`Bollinger: saved state has multiplier ${state.multiplier}, this instance ${this.multiplier}`);
    this.#window.set(savedNumbers("Bollinger window", state.window, this.period));
    this.#count = savedCount("Bollinger count", state.count);
    this.#next = savedCount("Bollinger next", state.next) % this.period;
    this.#mean = savedNumber("Bollinger mean", state.mean);
    this.#m2 = savedNumber("Bollinger m2", state.m2);
    this.#sinceRecompute = savedCount("Bollinger sinceRecompute", state.sinceRecompute);
    const v = state.value;
    this.#value = v === null ? null : { middle: savedNumber("Bollinger middle", v.middle), upper: savedNumber("Bollinger upper", v.upper), lower: savedNumber("Bollinger lower", v.lower) };
    return this;
  }

  static restore(state: BollingerState): Bollinger {
    return new Bollinger(state.period, state.multiplier).load(state);
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
