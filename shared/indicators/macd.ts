import { EMA, type EMAState } from "./ema";
import { checkFinite, checkPeriod, savedNumber, savedNumberOrNull, type Indicator } from "./indicator";

// A type (not an interface) so that it is plain JSON to the type checker too.
export type MACDValue = {
  /** EMA(fast) − EMA(slow). */
  macd: number;
  /** EMA(signal) of the MACD line. */
  signal: number;
  /** macd − signal. */
  histogram: number;
};

export type MACDState = { fast: EMAState; slow: EMAState; signal: EMAState; line: number | null; value: MACDValue | null };

/**
 * Moving average convergence/divergence (defaults 12, 26, 9).
 * Seeding: each EMA is seeded with the simple mean of its own first inputs (see EMA), so
 * the line exists from input `slow`; the signal EMA is seeded with the simple mean of the
 * first `signal` line values, so the first value (line, signal and histogram together)
 * comes with input `slow + signal − 1`. `line` exposes the MACD line as soon as it exists.
 */
export class MACD implements Indicator<[close: number], MACDValue> {
  readonly #fast: EMA;
  readonly #slow: EMA;
  readonly #signal: EMA;
  #line: number | null = null;
  #value: MACDValue | null = null;

  constructor(fast = 12, slow = 26, signal = 9) {
    checkPeriod("MACD fast", fast);
    checkPeriod("MACD slow", slow);
    checkPeriod("MACD signal", signal);
    if (fast >= slow) throw new RangeError(`MACD: fast (${fast}) must be shorter than slow (${slow})`);
    this.#fast = new EMA(fast);
    this.#slow = new EMA(slow);
    this.#signal = new EMA(signal);
  }

  update(close: number): MACDValue | null {
    checkFinite("MACD", close);
    const fast = this.#fast.update(close);
    const slow = this.#slow.update(close);
    if (fast === null || slow === null) return null;
    const macd = fast - slow;
    this.#line = macd;
    const signal = this.#signal.update(macd);
    if (signal === null) return null;
    this.#value = { macd, signal, histogram: macd - signal };
    return this.#value;
  }

  /** The MACD line alone, available `signal − 1` inputs before `value`. */
  get line(): number | null {
    return this.#line;
  }

  get value(): MACDValue | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): MACDState {
    return { fast: this.#fast.save(), slow: this.#slow.save(), signal: this.#signal.save(), line: this.#line, value: this.#value && { ...this.#value } };
  }

  load(state: MACDState): this {
    this.#fast.load(state.fast);
    this.#slow.load(state.slow);
    this.#signal.load(state.signal);
    this.#line = savedNumberOrNull("MACD line", state.line);
    const v = state.value;
    this.#value = v === null ? null : { macd: savedNumber("MACD macd", v.macd), signal: savedNumber("MACD signal", v.signal), histogram: savedNumber("MACD histogram", v.histogram) };
    return this;
  }

  static restore(state: MACDState): MACD {
    return new MACD(state.fast.period, state.slow.period, state.signal.period).load(state);
  }
}
