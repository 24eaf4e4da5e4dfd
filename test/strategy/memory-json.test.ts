import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_STATE_BYTES, memoryJson, stateJson, stateProblem, type StrategyMemory, type StrategyState } from "../../shared/strategy/runtime";

// A live strategy's state is checked after every callback by serializing it, and stored
// with its memory after every event: memoryJson stores the check's text instead of a second
// serialization. What it stores must be what JSON.stringify(memory) would have stored.

const state = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }) as fc.Arbitrary<StrategyState>;
const memory = fc.record({
  state,
  nextId: fc.nat(),
  tags: fc.dictionary(fc.string({ maxLength: 12 }), fc.option(fc.string({ maxLength: 8 }))),
}) as fc.Arbitrary<StrategyMemory>;

const checkedOf = (s: StrategyState) => {
  const checked = stateJson(s);
  if ("problem" in checked) throw new Error(checked.problem);
  return { state: s, json: checked.json };
};

describe("a live strategy's stored memory", () => {
  it("is JSON.stringify(memory), character for character, when the state's text comes from its check", () => {
    fc.assert(
      fc.property(memory, (m) => {
        expect(memoryJson(m, checkedOf(m.state))).toBe(JSON.stringify(m));
      }),
      { numRuns: 2_000 },
    );
  });

  it("serializes the state again when the check was of another state object", () => {
    fc.assert(
      fc.property(memory, state, (m, other) => {
        // A check of a different object (the state a failed callback replaced, say) is not used.
        expect(memoryJson(m, { state: other, json: JSON.stringify(other) })).toBe(JSON.stringify(m));
        expect(memoryJson(m, null)).toBe(JSON.stringify(m));
      }),
      { numRuns: 500 },
    );
  });

  it("reads back as the memory whatever the order of its fields", () => {
    const m = { nextId: 3, tags: { "s-1": "entry" }, state: { n: 1 } } as StrategyMemory;
    expect(JSON.parse(memoryJson(m, checkedOf(m.state)))).toEqual(m);
    const bare = { state: { n: 1 } } as unknown as StrategyMemory;
    expect(memoryJson(bare, checkedOf(bare.state))).toBe(JSON.stringify(bare));
  });

  it("refuses what stateProblem refuses, with the same message", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [null, [], 3, "x", { n: 1n }, cyclic, { big: "x".repeat(MAX_STATE_BYTES) }, { wide: "€".repeat(MAX_STATE_BYTES / 3 + 1) }]) {
      const checked = stateJson(bad);
      expect("problem" in checked).toBe(true);
      expect(stateProblem(bad)).toBe((checked as { problem: string }).problem);
    }
    expect(stateJson({ n: 1, s: "€" })).toEqual({ json: '{"n":1,"s":"€"}' });
    expect(stateProblem({ n: 1 })).toBeNull();
  });
});
