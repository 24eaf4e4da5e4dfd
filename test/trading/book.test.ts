import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OrderBook, type BookFill, type Side } from "../../shared/venue/book";

// The order book on its own: price-time priority over integer ticks and lots, checked
// by example and against a naive model that sorts every resting order on each take.

const fills = (book: OrderBook, side: Side, limit: number, qty: number) => book.take("taker", side, limit, qty).fills.map(({ makerId, price, qty }) => [makerId, price, qty]);

describe("an order book", () => {
  it("fills the best price first", () => {
    const book = new OrderBook();
    book.rest("a101", "sell", 101, 1);
    book.rest("a100", "sell", 100, 1);
    book.rest("a102", "sell", 102, 1);
    expect(fills(book, "buy", 102, 3)).toEqual([["a100", 100, 1], ["a101", 101, 1], ["a102", 102, 1]]);
    book.rest("b98", "buy", 98, 1);
    book.rest("b99", "buy", 99, 1);
    expect(fills(book, "sell", 0, 5)).toEqual([["b99", 99, 1], ["b98", 98, 1]]);
  });

  it("fills orders at one price oldest first", () => {
    const book = new OrderBook();
    for (const id of ["first", "second", "third"]) book.rest(id, "buy", 100, 2);
    expect(fills(book, "sell", 100, 5)).toEqual([["first", 100, 2], ["second", 100, 2], ["third", 100, 1]]);
  });

  it("trades at the resting order's price, not the taker's limit", () => {
    const book = new OrderBook();
    book.rest("ask", "sell", 100, 5);
    expect(fills(book, "buy", 105, 2)).toEqual([["ask", 100, 2]]);
  });

  it("never trades beyond the taker's limit", () => {
    const book = new OrderBook();
    book.rest("near", "sell", 100, 1);
    book.rest("far", "sell", 101, 1);
    expect(book.take("taker", "buy", 100, 5)).toEqual({ fills: [{ makerId: "near", price: 100, qty: 1, makerRemaining: 0 }], filled: 1 });
    expect(book.bestAsk()).toBe(101);
  });

  it("keeps a partly filled resting order in its place", () => {
    const book = new OrderBook();
    book.rest("a", "sell", 100, 5);
    book.rest("b", "sell", 100, 5);
    expect(book.take("taker", "buy", 100, 2).fills).toEqual([{ makerId: "a", price: 100, qty: 2, makerRemaining: 3 }]);
    book.rest("c", "sell", 100, 5);
    expect(fills(book, "buy", 100, 9)).toEqual([["a", 100, 3], ["b", 100, 5], ["c", 100, 1]]);
    expect(book.depth("sell", 5)).toEqual([{ price: 100, qty: 4, orders: 1 }]);
  });

  it("cancels from the middle of a level and keeps the rest in order", () => {
    const book = new OrderBook();
    for (const id of ["a", "b", "c"]) book.rest(id, "buy", 100, 1);
    expect(book.cancel("b")).toBe(true);
    expect(book.cancel("b")).toBe(false);
    expect(book.has("b")).toBe(false);
    expect(book.depth("buy", 1)).toEqual([{ price: 100, qty: 2, orders: 2 }]);
    expect(fills(book, "sell", 100, 5)).toEqual([["a", 100, 1], ["c", 100, 1]]);
    expect(book.size).toBe(0);
  });

  it("forgets a level once its last order leaves, and can open it again", () => {
    const book = new OrderBook();
    book.rest("a", "buy", 100, 1);
    book.rest("b", "buy", 99, 1);
    book.cancel("a");
    expect(book.bestBid()).toBe(99);
    book.rest("c", "buy", 100, 1);
    expect(book.bestBid()).toBe(100);
    expect(book.depth("buy", 5)).toEqual([{ price: 100, qty: 1, orders: 1 }, { price: 99, qty: 1, orders: 1 }]);
  });

  it("keeps the best price right however often deep levels open and close", () => {
    const book = new OrderBook();
    book.rest("best", "sell", 100, 1);
    for (let i = 0; i < 10_000; i++) {
      book.rest(`deep${i}`, "sell", 200 + (i % 7), 1);
      book.cancel(`deep${i}`);
    }
    expect(book.bestAsk()).toBe(100);
    book.rest("deep", "sell", 203, 1);
    book.rest("deeper", "sell", 250, 1);
    expect(fills(book, "buy", 300, 5)).toEqual([["best", 100, 1], ["deep", 203, 1], ["deeper", 250, 1]]);
    expect(book.bestAsk()).toBeUndefined();
  });

  it("never lets a taker trade with its own resting id", () => {
    const book = new OrderBook();
    book.rest("self", "sell", 100, 5);
    book.rest("other", "sell", 100, 5);
    expect(book.take("self", "buy", 100, 10).fills).toEqual([{ makerId: "other", price: 100, qty: 5, makerRemaining: 0 }]);
    expect(book.depth("sell", 5)).toEqual([{ price: 100, qty: 5, orders: 1 }]);
  });

  it("ignores an order without quantity or with an id already resting", () => {
    const book = new OrderBook();
    book.rest("a", "buy", 100, 0);
    book.rest("b", "buy", 100, 1);
    book.rest("b", "buy", 101, 5);
    expect(book.depth("buy", 5)).toEqual([{ price: 100, qty: 1, orders: 1 }]);
  });

  it("says how much a taker could fill within a limit, and shows depth best first", () => {
    const book = new OrderBook();
    book.rest("a", "sell", 100, 3);
    book.rest("b", "sell", 101, 4);
    book.rest("c", "sell", 101, 1);
    book.rest("d", "sell", 103, 10);
    expect(book.fillable("buy", 99, 5)).toBe(0);
    expect(book.fillable("buy", 101, 20)).toBe(8);
    expect(book.fillable("buy", 101, 5)).toBe(5);
    expect(book.fillable("buy", null, 100)).toBe(18);
    expect(book.fillable("sell", null, 1)).toBe(0);
    expect(book.depth("sell", 2)).toEqual([{ price: 100, qty: 3, orders: 1 }, { price: 101, qty: 5, orders: 2 }]);
    expect(book.depth("buy", 2)).toEqual([]);
  });
});

// ---- against a naive model ------------------------------------------------------------

interface NaiveOrder {
  id: string;
  side: Side;
  price: number;
  qty: number;
  time: number;
}

/** Every take sorts all resting orders: slow, and obviously price-time priority. */
function naiveTake(orders: NaiveOrder[], side: Side, limit: number, qty: number): BookFill[] {
  const crosses = (o: NaiveOrder) => o.side !== side && (side === "buy" ? o.price <= limit : o.price >= limit);
  const queue = orders.filter(crosses).sort((a, b) => (a.price === b.price ? a.time - b.time : side === "buy" ? a.price - b.price : b.price - a.price));
  const out: BookFill[] = [];
  for (const o of queue) {
    if (qty === 0) break;
    const q = Math.min(qty, o.qty);
    qty -= q;
    o.qty -= q;
    out.push({ makerId: o.id, price: o.price, qty: q, makerRemaining: o.qty });
  }
  return out;
}

const step = fc.oneof(
  fc.record({ op: fc.constant("rest" as const), side: fc.constantFrom<Side>("buy", "sell"), price: fc.integer({ min: 95, max: 105 }), qty: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ op: fc.constant("take" as const), side: fc.constantFrom<Side>("buy", "sell"), price: fc.integer({ min: 95, max: 105 }), qty: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ op: fc.constant("cancel" as const), pick: fc.nat() }),
);

describe("the order book against a naive model", () => {
  it("makes the same fills and shows the same depth for any sequence of rests, takes and cancels", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200, size: "max" }), (steps) => {
        const book = new OrderBook();
        let model: NaiveOrder[] = [];
        steps.forEach((s, time) => {
          if (s.op === "rest") {
            // Resting orders never cross here: the taker path is what is under test.
            const crossed = s.side === "buy" ? (book.bestAsk() ?? Infinity) <= s.price : (book.bestBid() ?? -Infinity) >= s.price;
            if (crossed) return;
            book.rest(`o${time}`, s.side, s.price, s.qty);
            model.push({ id: `o${time}`, side: s.side, price: s.price, qty: s.qty, time });
          } else if (s.op === "take") {
            expect(book.take("taker", s.side, s.price, s.qty).fills).toEqual(naiveTake(model, s.side, s.price, s.qty));
            model = model.filter((o) => o.qty > 0);
          } else if (model.length > 0) {
            const victim = model[s.pick % model.length]!;
            expect(book.cancel(victim.id)).toBe(true);
            model = model.filter((o) => o !== victim);
          }
        });
        expect(book.size).toBe(model.length);
        for (const side of ["buy", "sell"] as const) {
          const levels = new Map<number, { price: number; qty: number; orders: number }>();
          for (const o of model.filter((m) => m.side === side)) {
            const level = levels.get(o.price) ?? { price: o.price, qty: 0, orders: 0 };
            levels.set(o.price, { price: o.price, qty: level.qty + o.qty, orders: level.orders + 1 });
          }
          const expected = [...levels.values()].sort((a, b) => (side === "buy" ? b.price - a.price : a.price - b.price));
          expect(book.depth(side, 100)).toEqual(expected);
        }
      }),
    );
  });
});
