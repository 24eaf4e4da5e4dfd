import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { VenueFault } from "../../shared/trading/memory";
import { isOpen } from "../../shared/trading/orders";
import { Crash, harness } from "./engine-harness";

// The account engine and in-process venues under faults, in memory: hundreds of seeded
// scripts of orders, replaces, cancels, quotes, trades and day rolls over several fee
// schedules, with a crash injected at a chosen commit point (before the commit: the change
// is lost; after it: stored, but its venue calls and broadcasts are lost) or a venue call
// lost on the way there or back. After every script each account is reconciled against
// the venue's own fill log, and every acknowledged order still exists. The account checks
// orders against the price it holds from the venue's last answer, fresh for ever or for
// 1.5 s, so a moved price is declined and placed again, and a stale one asked for first.

type Step =
  | { kind: "place"; side: "buy" | "sell"; type: "market" | "limit" | "stop" | "trailing_stop"; qty: number; offset: number; tif: "day" | "gtc" | "ioc" | "fok" }
  | { kind: "replace"; pick: number; offset: number; qty: number | null }
  | { kind: "cancel"; pick: number }
  | { kind: "cancelAll" }
  | { kind: "quote"; move: number; size: number }
  | { kind: "trade"; move: number }
  | { kind: "day" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("place" as const), side: fc.constantFrom("buy" as const, "sell" as const), type: fc.constantFrom("market" as const, "limit" as const, "stop" as const, "trailing_stop" as const), qty: fc.integer({ min: 1, max: 40 }), offset: fc.integer({ min: -300, max: 300 }), tif: fc.constantFrom("day" as const, "gtc" as const, "ioc" as const, "fok" as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("replace" as const), pick: fc.nat(), offset: fc.integer({ min: -300, max: 300 }), qty: fc.option(fc.integer({ min: 1, max: 40 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "cancelAll" as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("quote" as const), move: fc.integer({ min: -200, max: 200 }), size: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("trade" as const), move: fc.integer({ min: -200, max: 200 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "day" as const }) },
);

const fault = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.record({ at: fc.constantFrom("before" as const, "after" as const), commit: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ at: fc.constant("venue" as const), call: fc.constantFrom<VenueFault>("unreachable", "answer_lost") }) },
);

const fees = fc.constantFrom(
  { makerBps: 0, takerBps: 0, minFee: "0" },
  { makerBps: 30, takerBps: 10, minFee: "0.01" },
  { makerBps: 0.29, takerBps: 0.57, minFee: "1" },
);

const price = (ticks: number) => (ticks / 100).toFixed(2);

describe("the account engine under faults", () => {
  it("reconciles with the venue after crashes at every commit point and lost venue calls", async () => {
    await fc.assert(
      fc.asyncProperty(fees, fc.constantFrom(undefined, 1_500), fc.array(fc.tuple(step, fault), { minLength: 5, maxLength: 40 }), async (venue, staleAfterMs, script) => {
        const h = harness({ venue, limits: { priceBandPct: 20 }, staleAfterMs });
        let mid = 10_000;
        const acknowledged: string[] = [];
        await h.quote(price(mid - 5), price(mid + 5), "20");
        for (const [s, f] of script) {
          let commits = 0;
          if (f?.at === "before") h.crashBeforeCommit(() => ++commits === f.commit);
          if (f?.at === "after") h.crashAfterCommit(() => ++commits === f.commit);
          if (f?.at === "venue") h.setFault(() => f.call);
          try {
            await run(s);
          } catch (error) {
            if (!(error instanceof Crash)) throw error;
            h.restart();
          }
          h.crashBeforeCommit(undefined);
          h.crashAfterCommit(undefined);
          h.setFault(() => null);
          await h.recover();
          expect(h.engine.state.anomalies).toBe(0);
        }
        await h.recover();
        h.reconcile();
        for (const id of acknowledged) expect(h.book.order(id), `acknowledged order ${id} was lost`).toBeDefined();
        // Nothing is left owed to a venue: every open order is there, every cancel confirmed.
        expect(h.book.unsettledOrders()).toEqual([]);

        async function run(s: Step) {
          const open = () => h.book.openOrders().filter((o) => isOpen(o.status) && o.atVenue);
          switch (s.kind) {
            case "place": {
              // A trailing stop trails by a price (odd offsets) or a percent (even ones).
              const trail = s.offset % 2 !== 0 ? { trail_price: price(Math.abs(s.offset)) } : { trail_percent: String(1 + (Math.abs(s.offset) % 20) / 4) };
              const limit = s.type === "market" ? {} : s.type === "limit" ? { limit_price: price(mid + s.offset) } : s.type === "stop" ? { stop_price: price(mid + s.offset) } : trail;
              const tif = s.type === "market" && s.tif === "fok" ? "ioc" : s.type === "trailing_stop" && (s.tif === "ioc" || s.tif === "fok") ? "gtc" : s.tif;
              const placed = await h.place({ side: s.side, type: s.type, qty: String(s.qty), time_in_force: tif, ...limit });
              if (placed.ok) acknowledged.push(placed.value.id);
              return;
            }
            case "replace": {
              const target = open()[s.pick % Math.max(1, open().length)];
              if (!target) return;
              const trail = target.trail ? { trail: "ticks" in target.trail ? price(Math.abs(s.offset) + 1) : String(1 + (Math.abs(s.offset) % 20) / 4) } : {};
              const fields = { ...(target.limit !== null ? { limit_price: price(mid + s.offset) } : {}), ...trail, ...(s.qty !== null && target.qty !== null ? { qty: String(s.qty) } : {}) };
              const replaced = await h.runner.replace(target.id, fields, h.asset(), null);
              if (replaced.ok) acknowledged.push(replaced.value.id);
              return;
            }
            case "cancel": {
              const target = open()[s.pick % Math.max(1, open().length)];
              if (target) await h.runner.cancel(target.id);
              return;
            }
            case "cancelAll":
              await h.runner.cancelAll();
              return;
            case "quote":
              mid = Math.max(500, mid + s.move);
              h.advance(1000);
              await h.quote(price(mid - 5), price(mid + 5), String(s.size));
              return;
            case "trade":
              h.advance(1000);
              await h.trade(price(Math.max(100, mid + s.move)));
              return;
            case "day":
              h.advance(24 * 3_600_000);
              h.venues.expire("AAA");
              await h.deliver();
              return;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
