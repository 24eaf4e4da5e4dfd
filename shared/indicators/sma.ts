import { checkFinite, checkPeriod, samePeriod, savedCount, savedNumber, savedNumberOrNull, savedNumbers, type Indicator } from "./indicator";

/** The ring as stored (slot order, not age order: the float recompute sums in slot order). */
export type SMAState = { period: number; window: number[]; count: number; next: number; intSum: string; floatSum: number; nonIntegers: number; sinceRecompute: number; value: number | null };

/**
 * Simple moving average of the last `period` inputs; null until `period` inputs were seen.
 *
 * Exactness: integer inputs (for example prices in ticks) go into a bigint running sum,
 * so `exactSum` is the exact sum of the window however long the stream, and `value` is
 * that sum divided by the period with a single rounding to a double (exact when the sum
 * is below 2^53, else two roundings).
 * Non-integer inputs go into a separate float running sum. Adding and subtracting floats
 * drifts, so that part is recomputed from the window every `period` updates (amortized
 * O(1)), which bounds the error by the rounding of one window's worth of additions; it is
 * reset to exactly 0 whenever the window holds no non-integer any more. `exactSum` is
 * null while a non-integer is in the window.
 */
export class SMA implements Indicator<[x: number], number> {
  readonly period: number;
  readonly #window: Float64Array;
  #count = 0; // inputs seen (saturates the ring index, not this)
  #next = 0; // ring slot the next input goes to
  #intSum = 0n;
  #floatSum = 0;
  #nonIntegers = 0; // non-integer inputs currently in the window
  #sinceRecompute = 0;
  #value: number | null = null;

  constructor(period: number) {
    this.period = checkPeriod("SMA", period);
    this.#window = new Float64Array(this.period);
  }

  update(x: number): number | null {
    checkFinite("SMA", x);
    if (this.#count >= this.period) this.#remove(this.#window[this.#next]!);
    this.#add(x);
    this.#window[this.#next] = x;
    this.#next = (this.#next + 1) % this.period;
    this.#count++;
    if (this.#nonIntegers > 0 && ++this.#sinceRecompute >= this.period) this.#recomputeFloatSum();
    if (this.#count < this.period) return null;
    this.#value = this.#nonIntegers === 0 ? Number(this.#intSum) / this.period : (Number(this.#intSum) + this.#floatSum) / this.period;
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#count >= this.period;
  }

  save(): SMAState {
    return { period: this.period, window: Array.from(this.#window), count: this.#count, next: this.#next, intSum: this.#intSum.toString(), floatSum: this.#floatSum, nonIntegers: this.#nonIntegers, sinceRecompute: this.#sinceRecompute, value: this.#value };
  }

  load(state: SMAState): this {
    samePeriod("SMA", this.period, state.period);
    this.#window.set(savedNumbers("SMA window", state.window, this.period));
    this.#count = savedCount("SMA count", state.count);
    this.#next = savedCount("SMA next", state.next) % this.period;
    if (typeof state.intSum !== "string" || !/^-?\d+$/.test(state.intSum)) throw new RangeError("SMA intSum: saved state is not an integer text");
    this.#intSum = BigInt(state.intSum);
    this.#floatSum = savedNumber("SMA floatSum", state.floatSum);
    this.#nonIntegers = savedCount("SMA nonIntegers", state.nonIntegers);
    this.#sinceRecompute = savedCount("SMA sinceRecompute", state.sinceRecompute);
    this.#value = savedNumberOrNull("SMA value", state.value);
    return this;
  }

  static restore(state: SMAState): SMA {
    return new SMA(state.period).load(state);
  }

  /** The exact sum of the window when it holds only integers (and is full), else null. */
  get exactSum(): bigint | null {
    return this.ready && this.#nonIntegers === 0 ? this.#intSum : null;
  }

  #add(x: number): void {
    if (Number.isInteger(x)) {
      this.#intSum += BigInt(x);
      return;
    }
    this.#floatSum += x;
    this.#nonIntegers++;
  }

  #remove(x: number): void {
    if (Number.isInteger(x)) {
      this.#intSum -= BigInt(x);
      return;
    }
    this.#nonIntegers--;
    if (this.#nonIntegers === 0) {
      this.#floatSum = 0;
      this.#sinceRecompute = 0;
    } else {
      this.#floatSum -= x;
    }
  }

  #recomputeFloatSum(): void {
    let sum = 0;
    const filled = Math.min(this.#count, this.period);
    for (let i = 0; i < filled; i++) {
      const x = this.#window[i]!;
      if (!Number.isInteger(x)) sum += x;
    }
    this.#floatSum = sum;
    this.#sinceRecompute = 0;
  }
}
