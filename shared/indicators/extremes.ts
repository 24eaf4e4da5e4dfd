import { checkFinite, checkPeriod, samePeriod, savedCount, savedNumberOrNull, savedNumbers, type Indicator } from "./indicator";

/** The deque front to back: candidate values and their input sequence numbers. */
export type ExtremeState = { period: number; values: number[]; indices: number[]; count: number; value: number | null };

/**
 * The largest (or smallest) of the last `period` inputs, with a monotonic deque: each
 * input is pushed once and popped at most once, so an update is O(1) amortized, and the
 * deque never holds more than `period` entries, so it lives in fixed ring buffers.
 * Null until `period` inputs were seen. Ties keep the newest input (it outlives the older).
 */
class RollingExtreme implements Indicator<[x: number], number> {
  readonly period: number;
  readonly #values: Float64Array;
  readonly #indices: Float64Array; // input sequence numbers, to expire the front
  readonly #keepsFront: (front: number, x: number) => boolean;
  #head = 0; // ring position of the front (the current extreme)
  #size = 0;
  #count = 0;
  #value: number | null = null;

  constructor(name: string, period: number, keepsFront: (front: number, x: number) => boolean) {
    this.period = checkPeriod(name, period);
    this.#values = new Float64Array(this.period);
    this.#indices = new Float64Array(this.period);
    this.#keepsFront = keepsFront;
  }

  update(x: number): number | null {
    checkFinite("rolling extreme", x);
    const n = this.period;
    // Expire the front when it left the window.
    if (this.#size > 0 && this.#indices[this.#head]! <= this.#count - n) {
      this.#head = (this.#head + 1) % n;
      this.#size--;
    }
    // Drop from the back every entry the new input dominates: it can never be the extreme again.
    while (this.#size > 0) {
      const back = (this.#head + this.#size - 1) % n;
      if (this.#keepsFront(this.#values[back]!, x)) break;
      this.#size--;
    }
    const slot = (this.#head + this.#size) % n;
    this.#values[slot] = x;
    this.#indices[slot] = this.#count;
    this.#size++;
    this.#count++;
    if (this.#count < n) return null;
    this.#value = this.#values[this.#head]!;
    return this.#value;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#count >= this.period;
  }

  save(): ExtremeState {
    const values: number[] = [];
    const indices: number[] = [];
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#head + i) % this.period;
      values.push(this.#values[slot]!);
      indices.push(this.#indices[slot]!);
    }
    return { period: this.period, values, indices, count: this.#count, value: this.#value };
  }

  /** The deque's slots are arbitrary: it restarts at slot 0, which changes no answer. */
  load(state: ExtremeState): this {
    samePeriod("rolling extreme", this.period, state.period);
    const size = Array.isArray(state.values) ? state.values.length : -1;
    if (size < 0 || size > this.period) throw new RangeError(`rolling extreme: saved state holds ${size} entries, at most ${this.period} fit`);
    this.#values.set(savedNumbers("rolling extreme values", state.values, size));
    this.#indices.set(savedNumbers("rolling extreme indices", state.indices, size));
    this.#head = 0;
    this.#size = size;
    this.#count = savedCount("rolling extreme count", state.count);
    this.#value = savedNumberOrNull("rolling extreme value", state.value);
    return this;
  }
}

/** Rolling maximum of the last `period` inputs. */
export class Highest extends RollingExtreme {
  constructor(period: number) {
    super("Highest", period, (kept, x) => kept > x);
  }

  static restore(state: ExtremeState): Highest {
    return new Highest(state.period).load(state);
  }
}

/** Rolling minimum of the last `period` inputs. */
export class Lowest extends RollingExtreme {
  constructor(period: number) {
    super("Lowest", period, (kept, x) => kept < x);
  }

  static restore(state: ExtremeState): Lowest {
    return new Lowest(state.period).load(state);
  }
}
