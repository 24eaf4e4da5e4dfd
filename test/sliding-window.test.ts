import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hit, type WindowState } from "../shared/sliding-window";

const WINDOW = 60_000;

/** Replays request times through the limiter; returns the admitted times and decisions. */
function replay(times: number[], limit: number) {
  let state: WindowState | undefined;
  const admitted: number[] = [];
  const decisions = [];
  for (const t of times) {
    const result = hit(state, t, WINDOW, limit);
    state = result.state;
    decisions.push({ t, ...result.decision });
    if (result.decision.allowed) admitted.push(t);
  }
  return { admitted, decisions, state };
}

const sortedTimes = fc.array(fc.integer({ min: 0, max: 10 * WINDOW }), { maxLength: 400 }).map((a) => a.sort((x, y) => x - y));

describe("sliding-window counter", () => {
  it("never admits more than the limit within one fixed window", () => {
    fc.assert(
      fc.property(sortedTimes, fc.integer({ min: 1, max: 50 }), (times, limit) => {
        const { admitted } = replay(times, limit);
        const perWindow = new Map<number, number>();
        for (const t of admitted) perWindow.set(Math.floor(t / WINDOW), (perWindow.get(Math.floor(t / WINDOW)) ?? 0) + 1);
        for (const n of perWindow.values()) expect(n).toBeLessThanOrEqual(limit);
      }),
    );
  });

  it("admits a burst of exactly the limit from a clean start", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: WINDOW - 1 }), (limit, offset) => {
        const times = Array.from({ length: limit + 5 }, () => offset);
        const { admitted, decisions } = replay(times, limit);
        expect(admitted).toHaveLength(limit);
        expect(decisions.slice(0, limit).map((d) => d.remaining)).toEqual(Array.from({ length: limit }, (_, i) => limit - 1 - i));
      }),
    );
  });

  it("a refused request is admitted when retried after Retry-After, and not much earlier", () => {
    // Any history, then limit + 1 requests at one instant: the last of them is always
    // refused, whether the window it lands in was already full or only the previous
    // window's share tipped it over (the two ways nextAdmission computes Retry-After).
    const refusal = fc.record({
      limit: fc.integer({ min: 1, max: 20 }),
      history: fc.array(fc.integer({ min: 0, max: 3 * WINDOW }), { maxLength: 200 }).map((a) => a.sort((x, y) => x - y)),
      gap: fc.integer({ min: 0, max: WINDOW }),
    });
    const runs = 500;
    const refusedBy = { previousShare: 0, currentWindow: 0 };
    fc.assert(
      fc.property(refusal, ({ limit, history, gap }) => {
        const at = (history.at(-1) ?? 0) + gap;
        const { state, decisions } = replay([...history, ...Array<number>(limit + 1).fill(at)], limit);
        const refused = decisions.at(-1)!;
        expect(refused.allowed).toBe(false);
        refusedBy[state!.previous > 0 && state!.current < limit ? "previousShare" : "currentWindow"] += 1;
        expect(hit(state, refused.t + refused.retryAfterMs, WINDOW, limit).decision.allowed).toBe(true);
        if (refused.retryAfterMs > 2) expect(hit(state, refused.t + refused.retryAfterMs - 2, WINDOW, limit).decision.allowed).toBe(false);
      }),
      { numRuns: runs },
    );
    // Both ways of being refused must come up in a good share of the runs, or the
    // generator has quietly stopped testing one of them.
    expect(refusedBy.previousShare).toBeGreaterThan(runs / 10);
    expect(refusedBy.currentWindow).toBeGreaterThan(runs / 10);
  });

  it("counts the previous window in proportion to its overlap", () => {
    let state: WindowState | undefined;
    for (let i = 0; i < 10; i++) state = hit(state, 59_000, WINDOW, 10).state;
    // Half-way into the next window, half of the previous 10 still count.
    expect(hit(state, 90_000, WINDOW, 10).decision.remaining).toBe(4);
    // Just after the boundary almost all of them still count; a tenth later one slot is free.
    expect(hit(state, 61_000, WINDOW, 10).decision.allowed).toBe(false);
    expect(hit(state, 66_000, WINDOW, 10).decision.allowed).toBe(true);
    expect(hit(state, 180_000, WINDOW, 10).decision.remaining).toBe(9);
  });
});
