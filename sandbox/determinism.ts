// Runs INSIDE the sandbox, before the user's module is evaluated (it is part of the loop
// budget's module, which the user's module imports first): what user code may know of the
// world. A strategy is a function of its events, so the same bars give the same orders
// byte for byte, in a backtest and in a replay of it live. Without this, `Date.now()`,
// `new Date()`, `Math.random()` and the crypto module's random values would read the host's
// clock and entropy, and two backtests of the same bars could trade differently.
//
// - The clock is the event's: `Date.now()`, `new Date()` and `performance.now()` answer the
//   time of the event being handled (ctx.now), set by the entry before each callback; at
//   module scope, before any event, it is 0 (1970-01-01).
// - Randomness is seeded: `Math.random()`, `crypto.getRandomValues()` and
//   `crypto.randomUUID()` draw from one generator with a fixed seed, restarted with each
//   isolate (a backtest's isolate is its own; a live strategy's restarts with its object).

let clock = 0;

/** The time of the event about to be handled (the entry calls this before each callback). */
export function setEventClock(t: number): void {
  clock = t;
}

// mulberry32: a small, well-mixed 32-bit generator; plenty for a strategy's coin flips.
let seed = 0x2545f491;
function next32(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

const WallDate = Date;
/** Date, with "now" the event's time: called bare it gives now's text, as Date() does. */
function EventDate(this: unknown, ...args: unknown[]): Date | string {
  if (!new.target) return new WallDate(clock).toString();
  return args.length === 0 ? new WallDate(clock) : new (WallDate as unknown as new (...a: unknown[]) => Date)(...args);
}
EventDate.prototype = WallDate.prototype;
Object.assign(EventDate, { now: () => clock, parse: WallDate.parse, UTC: WallDate.UTC });
// Every date's constructor is this one, so `new Date().constructor.now()` is the event's time too.
Object.defineProperty(WallDate.prototype, "constructor", { value: EventDate, writable: true, configurable: true });
globalThis.Date = EventDate as unknown as DateConstructor;

Math.random = () => next32() / 4294967296;

/** Replaces a method of a host object, where the runtime lets it be replaced. */
function replace(target: object | undefined, name: string, value: unknown): void {
  if (!target) return;
  try {
    Object.defineProperty(target, name, { value, writable: true, configurable: true });
  } catch {
    // Not replaceable here: the strategy module is told nothing different.
  }
}

// (Typed loosely: the sandbox is typed without the Workers runtime's globals.)
const host = globalThis as { performance?: object; crypto?: object };
replace(host.performance, "now", () => clock);
replace(host.crypto, "getRandomValues", <T extends ArrayBufferView | null>(array: T): T => {
  if (array) {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = next32() & 0xff;
  }
  return array;
});
// No Cache API: a store the isolate does not own, through which strategies of different
// users could hand each other data (security review). Nothing of ours uses it here.
replace(globalThis, "caches", undefined);
replace(host.crypto, "randomUUID", () => {
  const hex = Array.from({ length: 16 }, () => (next32() & 0xff).toString(16).padStart(2, "0"));
  hex[6] = `4${hex[6]!.slice(1)}`;
  hex[8] = ((parseInt(hex[8]!, 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 4).join("")}-${hex.slice(4, 6).join("")}-${hex.slice(6, 8).join("")}-${hex.slice(8, 10).join("")}-${hex.slice(10).join("")}`;
});

// The built-in namespaces and constructors the engine beside the strategy computes with
// cannot be changed by it (found in QA: `Math.sqrt = () => -1` at module scope changed its
// own backtest's volatility and Sharpe). Assigning to one throws a TypeError (modules are
// strict), so such code fails as it loads, with its line. Prototypes are left as they are:
// frozen, they would break ordinary code that gives an object its own `toString` (the
// "override mistake").
for (const builtin of [Math, JSON, Reflect, Object, Array, Number, String, BigInt, Symbol, Promise, Map, Set, EventDate, WallDate]) Object.freeze(builtin);
