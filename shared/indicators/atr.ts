import { checkFinite, checkPeriod, type Indicator } from "./indicator";
import { WilderAverage } from "./wilder";

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
}
