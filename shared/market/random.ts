// A seeded generator whose whole state is four uint32 words (sfc32, Chris Doty-Humphrey's
// Small Fast Counting generator), so a Durable Object can store the state as JSON and
// resume the exact sequence after eviction. Math.random cannot be replayed.
//
// Everything derived from it (normal, poisson) consumes a fixed recipe of draws and keeps
// no hidden cache, so the four words really are the whole state.

export type RandomState = [number, number, number, number];

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** Standard normal (Box–Muller, cosine branch only). */
  normal(): number;
  /** Poisson-distributed count with the given mean. */
  poisson(mean: number): number;
  /** A copy of the state; fromState(state()) continues the same sequence. */
  state(): RandomState;
}

const TWO_TO_32 = 2 ** 32;
// Knuth's product method costs one draw per event and needs e^-mean to stay far from
// underflow; above this mean the normal approximation is both cheaper and accurate.
const POISSON_EXACT_BELOW = 30;

class Sfc32 implements Random {
  constructor(
    private a: number,
    private b: number,
    private c: number,
    private d: number,
  ) {}

  private next32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.next32() / TWO_TO_32;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  normal(): number {
    // The sine branch's second variate is discarded: caching it would be hidden state.
    const u1 = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean >= POISSON_EXACT_BELOW) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let count = 0;
    for (let product = this.next(); product > limit; product *= this.next()) count++;
    return count;
  }

  state(): RandomState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }
}

const isUint32 = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < TWO_TO_32;

/** A generator seeded from a uint32; the same seed always gives the same sequence. */
export function seededRandom(seed: number): Random {
  if (!isUint32(seed)) throw new RangeError(`seed ${seed} is not an integer in [0, 2^32)`);
  // splitmix32 spreads a small seed over all 128 bits; then a warm-up so that nearby seeds
  // (1, 2, 3 …) do not start with correlated outputs.
  let s = seed;
  const mix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const random = new Sfc32(mix(), mix(), mix(), mix());
  for (let i = 0; i < 12; i++) random.next();
  return random;
}

/** Resumes a generator from a stored state (as JSON gives it back: a plain number array). */
export function fromState(state: readonly number[]): Random {
  const [a, b, c, d] = state;
  if (state.length !== 4 || !isUint32(a) || !isUint32(b) || !isUint32(c) || !isUint32(d)) {
    throw new RangeError("random state must be four integers in [0, 2^32)");
  }
  return new Sfc32(a, b, c, d);
}
