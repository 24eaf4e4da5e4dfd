import { Highest, Lowest } from "./extremes";
import { type Indicator } from "./indicator";

export interface DonchianValue {
  /** Highest high of the last `period` bars. */
  upper: number;
  /** Lowest low of the last `period` bars. */
  lower: number;
  /** (upper + lower) / 2. */
  middle: number;
}

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
}
