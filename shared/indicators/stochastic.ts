import { Highest, Lowest, type ExtremeState } from "./extremes";
import { checkFinite, checkPeriod, savedNumber, savedNumberOrNull, type Indicator } from "./indicator";
import { SMA, type SMAState } from "./sma";

// A type (not an interface) so that it is plain JSON to the type checker too.
export type StochasticValue = {
  /** Fast %K: 100 · (close − lowest low) / (highest high − lowest low) over `kPeriod` bars. */
  k: number;
  /** %D: the simple mean of the last `dPeriod` %K values. */
  d: number;
};

export type StochasticState = { highest: ExtremeState; lowest: ExtremeState; d: SMAState; k: number | null; value: StochasticValue | null };

/**
 * Fast stochastic oscillator (defaults 14, 3): %K unsmoothed, %D its simple mean (for a
 * slow stochastic, feed the fast %K into an SMA yourself). A flat window (highest high =
 * lowest low) gives %K = 50, the middle of a zero-width range.
 * Seeding: %K exists from bar `kPeriod` (see `k`); the value (%K and %D together) from bar
 * `kPeriod + dPeriod − 1`.
 */
export class Stochastic implements Indicator<[high: number, low: number, close: number], StochasticValue> {
  readonly #highest: Highest;
  readonly #lowest: Lowest;
  readonly #d: SMA;
  #k: number | null = null;
  #value: StochasticValue | null = null;

  constructor(kPeriod = 14, dPeriod = 3) {
    this.#highest = new Highest(checkPeriod("Stochastic %K", kPeriod));
    this.#lowest = new Lowest(kPeriod);
    this.#d = new SMA(checkPeriod("Stochastic %D", dPeriod));
  }

  update(high: number, low: number, close: number): StochasticValue | null {
    checkFinite("Stochastic close", close);
    const highest = this.#highest.update(high);
    const lowest = this.#lowest.update(low);
    if (highest === null || lowest === null) return null;
    const range = highest - lowest;
    const k = range === 0 ? 50 : (100 * (close - lowest)) / range;
    this.#k = k;
    const d = this.#d.update(k);
    if (d === null) return null;
    this.#value = { k, d };
    return this.#value;
  }

  /** The latest %K, available `dPeriod − 1` bars before `value`. */
  get k(): number | null {
    return this.#k;
  }

  get value(): StochasticValue | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): StochasticState {
    return { highest: this.#highest.save(), lowest: this.#lowest.save(), d: this.#d.save(), k: this.#k, value: this.#value && { ...this.#value } };
  }

  load(state: StochasticState): this {
    this.#highest.load(state.highest);
    this.#lowest.load(state.lowest);
    this.#d.load(state.d);
    this.#k = savedNumberOrNull("Stochastic k", state.k);
    const v = state.value;
    this.#value = v === null ? null : { k: savedNumber("Stochastic value k", v.k), d: savedNumber("Stochastic value d", v.d) };
    return this;
  }

  static restore(state: StochasticState): Stochastic {
    return new Stochastic(state.highest.period, state.d.period).load(state);
  }
}
