import { Highest, Lowest, type ExtremeState } from "./extremes";
import { savedNumber, type Indicator } from "./indicator";

// A type (not an interface) so that it is plain JSON to the type checker too.
export type DonchianValue = {
  /** Highest high of the last `period` bars. */
  upper: number;
  /** Lowest low of the last `period` bars. */
  lower: number;
  /** (upper + lower) / 2. */
  middle: number;
};

export type DonchianState = { highest: ExtremeState; lowest: ExtremeState; value: DonchianValue | null };

/** Donchian channel (default 20), current bar included; null until `period` bars. */
export class Donchian implements Indicator<[high: number, low: number], DonchianValue> {
  readonly #highest: Highest;
  readonly #lowest: Lowest;
  #value: DonchianValue | null = null;

  constructor(period = 20) {
    this.#highest = new Highest(period);
    this.#lowest = new Lowest(period);
  }

  update(high: number, low: number): DonchianValue | null {
    const upper = this.#highest.update(high);
    const lower = this.#lowest.update(low);
    if (upper === null || lower === null) return null;
    this.#value = { upper, lower, middle: (upper + lower) / 2 };
    return this.#value;
  }

  get value(): DonchianValue | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): DonchianState {
    return { highest: this.#highest.save(), lowest: this.#lowest.save(), value: this.#value && { ...this.#value } };
  }

  load(state: DonchianState): this {
    this.#highest.load(state.highest);
    this.#lowest.load(state.lowest);
    const v = state.value;
    this.#value = v === null ? null : { upper: savedNumber("Donchian upper", v.upper), lower: savedNumber("Donchian lower", v.lower), middle: savedNumber("Donchian middle", v.middle) };
    return this;
  }

  static restore(state: DonchianState): Donchian {
    return new Donchian(state.highest.period).load(state);
  }
}
