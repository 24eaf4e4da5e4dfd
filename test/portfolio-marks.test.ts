import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountStore } from "../durable-objects/account/store";
import { foldActivities } from "../shared/trading/portfolio-history";
import type { AccountOrder } from "../shared/trading/orders";
import type { AccountChanges, ActivityRow } from "../shared/trading/ports";

// A portfolio history folds the account's activities up to its span from the latest
// holdings mark before it (durable-objects/account/store.ts), and leaves marks on the way.
// Checked here against a fold of every activity the table holds, read with SQL, over random
// runs of commits (activities in any time order: a fill the venue reported late lands
// before marks already made), commits that fail inside their transaction (the marks an
// activity deleted come back), histories of random spans, and restarts (a new store over
// the same storage).

type Step =
  | { kind: "commit"; activities: { dt: number; late: number; what: number; qty: number; price: number }[]; fails: boolean }
  | { kind: "fold"; a: number; b: number }
  | { kind: "restart" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("commit" as const),
      activities: fc.array(fc.record({ dt: fc.nat({ max: 5 }), late: fc.oneof({ weight: 19, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }) }), what: fc.nat({ max: 9 }), qty: fc.integer({ min: 1, max: 5_000 }), price: fc.integer({ min: 1, max: 90_000 }) }), { minLength: 1, maxLength: 10 }),
      fails: fc.nat({ max: 6 }).map((n) => n === 0),
    }),
  },
    // A span as fractions of the time so far (past its end: a span that reaches the present).
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("fold" as const), a: fc.integer({ min: 0, max: 110 }), b: fc.integer({ min: 0, max: 110 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

let runs = 0;
let ids = 0;

/** A fill of one of two symbols, a deposit or withdrawal, or a reset, as the engine writes them. */
function activity(a: { t: number; what: number; qty: number; price: number }): ActivityRow {
  const id = `${String(a.t).padStart(6, "0")}::${(++ids).toString(16).padStart(8, "0")}`;
  if (a.what < 7) {
    const fill = { symbol: a.what < 4 ? "A/USD" : "B/USD", side: a.what % 2 === 0 ? "buy" : "sell", qty: (a.qty / 1000).toFixed(3), price: (a.price / 100).toFixed(2), fee: "0.01" };
    return { id, type: "FILL", t: a.t, data: fill };
  }
  if (a.what === 9) return { id, type: "JNLC", t: a.t, data: { net_amount: "-12.34", description: "account reset to 100000.00 (cash was 100012.34)" } };
  return { id, type: "CSD", t: a.t, data: { net_amount: ((a.price - 30_000) / 100).toFixed(2), description: "deposit" } };
}

/** Two orders with one client order id break its UNIQUE constraint: the whole transaction rolls back. */
const clash = (): AccountOrder[] =>
  [0, 1].map((i) => ({ id: `clash-${ids}-${i}`, clientOrderId: `clash-${ids}`, side: "buy", status: "new", qty: 1, filledQty: 0, atVenue: true, cancelRequested: false, createdAt: 1, spec: { symbol: "A/USD" } }) as unknown as AccountOrder);

const changes = (activities: ActivityRow[], fails: boolean): AccountChanges => ({
  state: null,
  orders: fails ? clash() : [],
  activities,
  events: [],
  tradeUpdates: [],
  venue: [],
  anomalies: [],
  withdrawn: [],
});

describe("a portfolio history's holdings marks", () => {
  it("fold to what every activity in the table folds to, whatever the order activities land in, failed transactions and restarts", async () => {
    let fromMarks = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60, size: "max" }), async (steps) => {
        await runInDurableObject(env.ACCOUNT.getByName(`portfolio-marks-test-${++runs}`), (_object, state) => {
          const open = () => new AccountStore(state.storage, "marks-owner", { markEvery: 2 });
          let store = open();
          // Activities mostly arrive in time order; about one in twenty is late, up to 60 ms before the latest.
          let clock = 0;
          const at = (a: { dt: number; late: number }) => {
            clock += a.dt;
            return Math.max(0, clock - a.late);
          };
          const sql = state.storage.sql;
          const everything = () =>
            sql
              .exec<{ id: string; type: string; t: number; data: string }>(`SELECT id, type, t, data FROM activities ORDER BY t, id`)
              .toArray()
              .map((r) => ({ id: r.id, type: r.type, t: Number(r.t), data: JSON.parse(r.data) as Record<string, unknown> }));
          for (const s of steps) {
            if (s.kind === "restart") store = open();
            else if (s.kind === "commit") {
              const commit = () => store.commit(changes(s.activities.map((a) => activity({ ...a, t: at(a) })), s.fails));
              if (s.fails) expect(commit).toThrow();
              else commit();
            } else {
              const from = Math.floor((Math.min(s.a, s.b) * clock) / 100);
              const until = Math.floor((Math.max(s.a, s.b) * clock) / 100) + 1;
              if (sql.exec(`SELECT 1 FROM holding_marks WHERE t < ?`, from).toArray().length > 0) fromMarks += 1;
              expect(store.portfolioFold(from, until, 0), `[${from}, ${until})`).toEqual(foldActivities(everything(), from, until, 0));
            }
          }
        });
      }),
      { numRuns: 200 },
    );
    // The property is about marks: most runs must have folded from one.
    expect(fromMarks).toBeGreaterThan(500);
  }, 180_000);
});
