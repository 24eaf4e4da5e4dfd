import { checkFinite, checkPeriod, type Indicator } from "./indicator";

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
}

/** Rolling maximum of the last `period` inputs. */
export class Highest extends RollingExtreme {
  constructor(period: number) {
    super("Highest", period, (kept, x) => kept > x);
  }
}

/** Rolling minimum of the last `period` inputs. */
export class Lowest extends RollingExtreme {
  constructor(period: number) {
    super("Lowest", period, (kept, x) => kept < x);
  }
}
