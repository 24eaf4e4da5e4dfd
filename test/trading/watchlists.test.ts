import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { changeWatchlists, findWatchlist, WATCHLIST_LIMITS, type WatchedAsset, type Watchlist, type WatchlistCommand, type WatchlistRef } from "../../shared/trading/watchlists";

// The watchlist rules (shared/trading/watchlists.ts) against a plain model: names unique in
// the account, an asset at most once in a list, added assets at the end, a refusal changes
// nothing, and the limits hold.

const asset = (n: number): WatchedAsset => ({ id: `asset-${n}`, symbol: `S${n}` });

/** Applies what the engine accepts, as the account object does (it stores only accepted changes). */
function apply(lists: Watchlist[], command: WatchlistCommand, ids: { next: number }, now: number) {
  const outcome = changeWatchlists(lists, command, () => `list-${ids.next++}`, now);
  if (!outcome.ok) return { lists, outcome };
  const { list, deleted } = outcome.value;
  const rest = lists.filter((l) => l.id !== list.id);
  const existing = lists.findIndex((l) => l.id === list.id);
  const next = deleted ? rest : existing < 0 ? [...lists, list] : lists.map((l) => (l.id === list.id ? list : l));
  return { lists: next, outcome };
}

describe("watchlist rules", () => {
  it("creates, renames, appends, removes and deletes, by id and by name", () => {
    const ids = { next: 1 };
    let lists: Watchlist[] = [];
    ({ lists } = apply(lists, { op: "create", name: "Tech", assets: [asset(1), asset(2)] }, ids, 1_000));
    expect(lists).toEqual([{ id: "list-1", name: "Tech", createdAt: 1_000, updatedAt: 1_000, assets: [asset(1), asset(2)] }]);
    ({ lists } = apply(lists, { op: "add", ref: { name: "Tech" }, asset: asset(3) }, ids, 2_000));
    expect(lists[0]!.assets.map((a) => a.id)).toEqual(["asset-1", "asset-2", "asset-3"]);
    expect(lists[0]!.updatedAt).toBe(2_000);
    ({ lists } = apply(lists, { op: "update", ref: { id: "list-1" }, name: "Growth" }, ids, 3_000));
    expect(lists[0]).toMatchObject({ name: "Growth", createdAt: 1_000, updatedAt: 3_000 });
    expect(lists[0]!.assets).toHaveLength(3);
    ({ lists } = apply(lists, { op: "update", ref: { name: "Growth" }, assets: [asset(3), asset(1)] }, ids, 4_000));
    expect(lists[0]!.assets).toEqual([asset(3), asset(1)]);
    ({ lists } = apply(lists, { op: "remove", ref: { id: "list-1" }, asset: asset(3) }, ids, 5_000));
    expect(lists[0]!.assets).toEqual([asset(1)]);
    ({ lists } = apply(lists, { op: "delete", ref: { name: "Growth" } }, ids, 6_000));
    expect(lists).toEqual([]);
  });

  it("refuses a taken name, an asset twice, an unknown list or asset, and lists past the limits", () => {
    const ids = { next: 1 };
    let { lists } = apply([], { op: "create", name: "A", assets: [asset(1)] }, ids, 0);
    ({ lists } = apply(lists, { op: "create", name: "B", assets: [] }, ids, 0));
    const refusal = (command: WatchlistCommand) => {
      const outcome = changeWatchlists(lists, command, () => "unused", 1);
      if (outcome.ok) throw new Error(`${JSON.stringify(command)} was accepted`);
      return outcome.refusal;
    };
    expect(refusal({ op: "create", name: "A", assets: [] })).toEqual({ rule: "watchlist", message: 'a watchlist named "A" already exists', details: [{ path: "name", message: "already used by another watchlist" }] });
    expect(refusal({ op: "update", ref: { name: "B" }, name: "A" }).rule).toBe("watchlist");
    expect(refusal({ op: "create", name: "C", assets: [asset(1), asset(2), asset(1)] }).details).toEqual([{ path: "symbols[2]", message: "S1 is already on the list" }]);
    expect(refusal({ op: "add", ref: { name: "A" }, asset: asset(1) })).toMatchObject({ rule: "watchlist", message: "S1 is already on the watchlist" });
    expect(refusal({ op: "add", ref: { id: "nope" }, asset: asset(1) })).toMatchObject({ rule: "not_found", message: "watchlist nope not found" });
    expect(refusal({ op: "remove", ref: { name: "B" }, asset: asset(1) })).toMatchObject({ rule: "not_found", message: "S1 is not on the watchlist" });
    expect(refusal({ op: "delete", ref: { name: "Z" } })).toMatchObject({ rule: "not_found", message: 'watchlist named "Z" not found' });
    // Renaming a list to its own name is no conflict.
    expect(changeWatchlists(lists, { op: "update", ref: { name: "A" }, name: "A" }, () => "unused", 1).ok).toBe(true);

    const full = Array.from({ length: WATCHLIST_LIMITS.assets }, (_, i) => asset(i));
    expect(refusal({ op: "create", name: "Big", assets: [...full, asset(WATCHLIST_LIMITS.assets)] }).message).toBe(`a watchlist holds at most ${WATCHLIST_LIMITS.assets} assets`);
    ({ lists } = apply(lists, { op: "create", name: "Big", assets: full }, ids, 0));
    expect(lists.at(-1)!.assets).toHaveLength(WATCHLIST_LIMITS.assets);
    expect(refusal({ op: "add", ref: { name: "Big" }, asset: asset(WATCHLIST_LIMITS.assets) }).message).toBe(`a watchlist holds at most ${WATCHLIST_LIMITS.assets} assets`);

    while (lists.length < WATCHLIST_LIMITS.lists) ({ lists } = apply(lists, { op: "create", name: `L${lists.length}`, assets: [] }, ids, 0));
    expect(refusal({ op: "create", name: "one more", assets: [] }).message).toBe(`at most ${WATCHLIST_LIMITS.lists} watchlists; delete one first`);
  });

  it("keeps names unique and assets single over random commands, and matches a plain model", () => {
    const names = ["a", "b", "c", "d"];
    const ref = fc.oneof(fc.constantFrom(...names).map((name): WatchlistRef => ({ name })), fc.integer({ min: 1, max: 8 }).map((n): WatchlistRef => ({ id: `list-${n}` })));
    const assets = fc.array(fc.integer({ min: 0, max: 6 }).map(asset), { maxLength: 5 });
    const command: fc.Arbitrary<WatchlistCommand> = fc.oneof(
      fc.record({ op: fc.constant("create" as const), name: fc.constantFrom(...names), assets }),
      fc.record({ op: fc.constant("update" as const), ref, name: fc.option(fc.constantFrom(...names), { nil: undefined }), assets: fc.option(assets, { nil: undefined }) }),
      fc.record({ op: fc.constant("add" as const), ref, asset: fc.integer({ min: 0, max: 6 }).map(asset) }),
      fc.record({ op: fc.constant("remove" as const), ref, asset: fc.integer({ min: 0, max: 6 }).map(asset) }),
      fc.record({ op: fc.constant("delete" as const), ref }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const ids = { next: 1 };
        let lists: Watchlist[] = [];
        // The model: name → asset ids, in order.
        const model = new Map<string, string[]>();
        const idOf = new Map<string, string>();
        const distinct = (xs: readonly WatchedAsset[]) => new Set(xs.map((a) => a.id)).size === xs.length;
        commands.forEach((c, step) => {
          // What the model says of the command before it runs.
          const targetName = c.op === "create" ? undefined : "name" in c.ref ? (model.has(c.ref.name) ? c.ref.name : undefined) : idOf.get(c.ref.id);
          const expected =
            c.op === "create"
              ? !model.has(c.name) && distinct(c.assets)
              : targetName === undefined
                ? false
                : c.op === "update"
                  ? (c.name === undefined || c.name === targetName || !model.has(c.name)) && (c.assets === undefined || distinct(c.assets))
                  : c.op === "add"
                    ? !model.get(targetName)!.includes(c.asset.id)
                    : c.op === "remove"
                      ? model.get(targetName)!.includes(c.asset.id)
                      : true;
          const before = lists;
          const target = c.op === "create" ? undefined : findWatchlist(before, c.ref);
          const result = apply(before, c, ids, step);
          lists = result.lists;
          expect(result.outcome.ok).toBe(expected);
          if (!result.outcome.ok) return;
          expect(target?.name).toBe(targetName);
          const { list } = result.outcome.value;
          switch (c.op) {
            case "create":
              model.set(c.name, c.assets.map((a) => a.id));
              idOf.set(list.id, c.name);
              break;
            case "update": {
              const old = idOf.get(target!.id)!;
              const kept = model.get(old)!;
              model.delete(old);
              model.set(c.name ?? old, c.assets ? c.assets.map((a) => a.id) : kept);
              idOf.set(target!.id, c.name ?? old);
              break;
            }
            case "add":
              model.get(target!.name)!.push(c.asset.id);
              break;
            case "remove":
              model.set(target!.name, model.get(target!.name)!.filter((id) => id !== c.asset.id));
              break;
            case "delete":
              model.delete(target!.name);
              idOf.delete(target!.id);
              break;
          }
          expect(new Set(lists.map((l) => l.name)).size).toBe(lists.length);
          for (const l of lists) expect(new Set(l.assets.map((a) => a.id)).size).toBe(l.assets.length);
          expect(new Map(lists.map((l) => [l.name, l.assets.map((a) => a.id)]))).toEqual(model);
        });
      }),
      { numRuns: 2_000 },
    );
  });
});
