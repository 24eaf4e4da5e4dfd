import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountStore } from "../durable-objects/account/store";
import type { DomainEvent } from "../shared/events";
import type { AccountChanges } from "../shared/trading/ports";

// The account's event outbox: after a command it sends what it stored. The store follows
// its unsent rows in memory when it knows them (so sending reads nothing) and reads the
// table otherwise. Checked here against the table itself, read with SQL after every step,
// over random runs of commits (with withdrawn orders and clocks that step back), takes,
// sends that succeed or fail, and deletions of the sent, with the memory bound at 0
// (always the table), 3 (often over it) and the default.

type Step =
  | { kind: "commit"; events: { order: number; dt: number }[]; withdrawn: number[] }
  | { kind: "take"; limit: number }
  | { kind: "published" }
  | { kind: "failed" }
  | { kind: "drop" };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("commit" as const), events: fc.array(fc.record({ order: fc.nat({ max: 5 }), dt: fc.integer({ min: -2, max: 3 }) }), { maxLength: 4 }), withdrawn: fc.array(fc.nat({ max: 5 }), { maxLength: 1 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("take" as const), limit: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "published" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "failed" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "drop" as const }) },
);

const changes = (events: DomainEvent[], withdrawn: string[]): AccountChanges => ({ state: null, orders: [], activities: [], events, tradeUpdates: [], venue: [], anomalies: [], withdrawn });

let runs = 0;

describe("the account's event outbox", () => {
  it("sends exactly the rows the table holds unsent, oldest first, and counts them, whether it reads the table or follows it in memory", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 3, undefined), fc.array(step, { minLength: 1, maxLength: 40 }), async (knownMax, steps) => {
        await runInDurableObject(env.ACCOUNT.getByName(`outbox-test-${++runs}`), (_object, state) => {
          const store = new AccountStore(state.storage, "outbox-owner", { knownMax });
          const sql = state.storage.sql;
          const sending = new Set<string>();
          const published = new Set<string>();
          let clock = Date.UTC(2026, 0, 1);
          let ids = 0;
          const unsentInTable = () =>
            sql
              .exec<{ id: string }>(`SELECT id FROM outbox ORDER BY t, rowid`)
              .toArray()
              .map((r) => r.id)
              .filter((id) => !sending.has(id) && !published.has(id));
          for (const s of steps) {
            switch (s.kind) {
              case "commit": {
                const events = s.events.map(({ order, dt }): DomainEvent => {
                  clock += dt;
                  return { id: `e${++ids}`, type: "order.submitted", version: 1, occurredAt: new Date(clock).toISOString(), subject: "account:outbox-owner", traceparent: null, data: { order: { id: `o${order}` } } };
                });
                store.commit(changes(events, s.withdrawn.map((o) => `o${o}`)));
                published.clear();
                break;
              }
              case "take": {
                const expected = unsentInTable().slice(0, s.limit);
                const taken = store.takeOutbox(s.limit);
                expect(taken.map((t) => t.id)).toEqual(expected);
                for (const t of taken) expect(t.event.id).toBe(t.id);
                for (const id of expected) sending.add(id);
                break;
              }
              case "published":
                store.published([...sending]);
                for (const id of sending) published.add(id);
                sending.clear();
                break;
              case "failed":
                store.unsent([...sending]);
                sending.clear();
                break;
              case "drop":
                store.dropPublished();
                published.clear();
                break;
            }
            const rows = Number(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n);
            expect(store.outboxSize()).toBe(rows - published.size);
            expect(unsentInTable().length + sending.size).toBe(store.outboxSize());
          }
        });
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
