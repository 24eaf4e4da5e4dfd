import type { EMAState } from "./ema";
import { checkFinite, checkPeriod, samePeriod, savedNumberOrNull, type Indicator } from "./indicator";
import { WilderAverage } from "./wilder";

export type RSIState = { period: number; previous: number | null; gain: EMAState; loss: EMAState; value: number | null };

/**
 * Relative strength index with Wilder's smoothing, in [0, 100].
 * Seeding: the average gain and loss start as the simple means of the first `period`
 * changes, so the first value comes with input `period + 1`; then Wilder's smoothing.
 * An average loss of 0 gives 100 (50 when the average gain is 0 too: a flat window is
 * neither overbought nor oversold).
 */
export class RSI implements Indicator<[close: number], number> {
  readonly period: number;
  readonly #gain: WilderAverage;
  readonly #loss: WilderAverage;
  #previous: number | null = null;
  #value: number | null = null;

  constructor(period = 14) {
    this.period = checkPeriod("RSI", period);
    this.#gain = new WilderAverage(this.period);
    this.#loss = new WilderAverage(this.period);
  }

  update(close: number): number | null {
    checkFinite("RSI", close);
    const previous = this.#previous;
    this.#previous = close;
    if (previous === null) return null;
    const change = close - previous;
    const gain = this.#gain.update(change > 0 ? change : 0);
    const loss = this.#loss.update(change < 0 ? -change : 0);
    if (gain === null || loss === null) return null;
    if (loss === 0) this.#value = gain === 0 ? 50 : 100;
    else this.#value = 100 - 100 / (1 + gain / loss);
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): RSIState {
    return { period: this.period, previous: this.#previous, gain: this.#gain.save(), loss: this.#loss.save(), value: this.#value };
  }

  load(state: RSIState): this {
    samePeriod("RSI", this.period, state.period);
    this.#gain.load(state.gain);
    this.#loss.load(state.loss);
    this.#previous = savedNumberOrNull("RSI previous", state.previous);
    this.#value = savedNumberOrNull("RSI value", state.value);
    return this;
  }

  static restore(state: RSIState): RSI {
    return new RSI(state.period).load(state);
  }
}
