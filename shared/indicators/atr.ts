import type { EMAState } from "./ema";
import { checkFinite, checkPeriod, samePeriod, savedNumberOrNull, type Indicator } from "./indicator";
import { WilderAverage } from "./wilder";

export type ATRState = { period: number; previousClose: number | null; average: EMAState; value: number | null };

/**
 * Average true range with Wilder's smoothing (default 14).
 * True range: max(high − low, |high − previous close|, |low − previous close|); the first
 * bar has no previous close, so its true range is high − low (Wilder's own convention).
 * Seeding: the simple mean of the first `period` true ranges (so the first value comes
 * with bar `period`), then Wilder's smoothing.
 */
export class ATR implements Indicator<[high: number, low: number, close: number], number> {
  readonly period: number;
  readonly #average: WilderAverage;
  #previousClose: number | null = null;
  #value: number | null = null;

  constructor(period = 14) {
    this.period = checkPeriod("ATR", period);
    this.#average = new WilderAverage(this.period);
  }

  update(high: number, low: number, close: number): number | null {
    checkFinite("ATR high", high);
    checkFinite("ATR low", low);
    checkFinite("ATR close", close);
    const previous = this.#previousClose;
    const range = high - low;
    const trueRange = previous === null ? range : Math.max(range, Math.abs(high - previous), Math.abs(low - previous));
    this.#previousClose = close;
    this.#value = this.#average.update(trueRange);
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): ATRState {
    return { period: this.period, previousClose: this.#previousClose, average: this.#average.save(), value: this.#value };
  }

  load(state: ATRState): this {
    samePeriod("ATR", this.period, state.period);
    this.#average.load(state.average);
    this.#previousClose = savedNumberOrNull("ATR previousClose", state.previousClose);
    this.#value = savedNumberOrNull("ATR value", state.value);
    return this;
  }

  static restore(state: ATRState): ATR {
    return new ATR(state.period).load(state);
  }
}
