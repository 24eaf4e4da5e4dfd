import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountStore } from "../durable-objects/account/store";
import type { AccountChanges } from "../shared/trading/ports";
import type { AccountOrder } from "../shared/trading/orders";

// The account store answers reads of the orders it has just written from memory (the
// venue's answer acknowledges an order right after it is stored). Checked here against the
// orders table itself, read with SQL after every step of random runs: commits of new and
// changed orders, withdrawn orders, commits that fail inside their transaction (nothing of
// them may be remembered), and restarts (a new store over the same storage); and the sum of
// the open orders' lots the position check reads, against the same table.

type Step =
  | { kind: "commit"; orders: { id: number; status: string }[]; withdrawn: number[]; fails: boolean }
  | { kind: "restart" };

const STATUSES = ["pending_new", "new", "partially_filled", "filled", "canceled"];
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("commit" as const),
      orders: fc.array(fc.record({ id: fc.nat({ max: 80 }), status: fc.constantFrom(...STATUSES) }), { maxLength: 4 }),
      withdrawn: fc.array(fc.nat({ max: 80 }), { maxLength: 1 }),
      // About one commit in seven fails; drawn by fast-check, so a failing run replays and shrinks.
      fails: fc.nat({ max: 6 }).map((n) => n === 0),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

let runs = 0;
let versions = 0;

const order = (id: number, status: string): AccountOrder =>
  ({ id: `o${id}`, clientOrderId: `c${id}`, side: "buy", status, qty: 1, filledQty: 0, atVenue: status !== "pending_new", cancelRequested: false, createdAt: 1_000 + id, spec: { symbol: "AAPL" }, version: ++versions }) as unknown as AccountOrder;

/** Two orders with one client order id break its UNIQUE constraint: the whole transaction rolls back. */
const clash = (): AccountOrder[] => {
  const v = ++versions;
  return [0, 1].map((i) => ({ ...order(1_000 + i, "new"), id: `clash-${v}-${i}`, clientOrderId: `clash-${v}` }) as AccountOrder);
};

const changes = (orders: AccountOrder[], withdrawn: string[], fails: boolean): AccountChanges => ({
  state: null,
  orders: fails ? [...orders, ...clash()] : orders,
  activities: [],
  events: [],
  tradeUpdates: [],
  venue: [],
  anomalies: [],
  withdrawn,
});

describe("the account's reads of orders it has just written", () => {
  it("answer what the orders table holds, after commits, withdrawals, failed transactions and restarts, beyond the orders it keeps in memory", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        await runInDurableObject(env.ACCOUNT.getByName(`order-reads-test-${++runs}`), (_object, state) => {
          let store = new AccountStore(state.storage, "reads-owner");
          const sql = state.storage.sql;
          const inTable = (id: number) => {
            const row = sql.exec<{ data: string }>(`SELECT data FROM orders WHERE id = ?`, `o${id}`).toArray()[0];
            return row ? (JSON.parse(row.data) as AccountOrder) : undefined;
          };
          for (const s of steps) {
            if (s.kind === "restart") store = new AccountStore(state.storage, "reads-owner");
            else {
              const commit = () => store.commit(changes(s.orders.map((o) => order(o.id, o.status)), s.withdrawn.map((id) => `o${id}`), s.fails));
              if (s.fails) expect(commit).toThrow();
              else commit();
            }
            for (let id = 0; id <= 80; id++) expect(store.order(`o${id}`), `o${id}`).toEqual(inTable(id));
            // The open lots the position check sums: those of the open orders the table holds.
            const open = [...Array(81).keys()].map(inTable).filter((o): o is AccountOrder => o !== undefined && ["pending_new", "new", "partially_filled"].includes(o.status));
            expect(store.openLotsOf("AAPL", "buy", [])).toBe(open.length);
            expect(store.openLotsOf("AAPL", "buy", open.slice(0, 2).map((o) => o.id))).toBe(Math.max(0, open.length - 2));
          }
          // A read hands out a copy: changing it changes nothing stored or remembered.
          const some = store.order(sql.exec<{ id: string }>(`SELECT id FROM orders LIMIT 1`).toArray()[0]?.id ?? "none");
          if (some) {
            some.clientOrderId = "mutated";
            expect(store.order(some.id)?.clientOrderId).not.toBe("mutated");
          }
        });
      }),
      { numRuns: 120 },
    );
  }, 120_000);
});
