// A price-time priority book of resting orders at integer tick prices. Each price level
// is a FIFO (a doubly linked list, so a cancel anywhere is O(1)); the best level of each
// side comes from a heap of prices with lazy deletion. A take costs O(log levels) per level
// it empties plus O(1) per order it fills, whatever the number of orders resting; the heap
// is rebuilt when stale prices outnumber live ones, so it stays within about twice the
// number of levels however long the book lives.

export type Side = "buy" | "sell";

export interface BookFill {
  makerId: string;
  price: number;
  qty: number;
  /** What is left of the resting order after this fill; 0 means it left the book. */
  makerRemaining: number;
}

interface Entry {
  id: string;
  side: Side;
  price: number;
  qty: number;
  prev: Entry | null;
  next: Entry | null;
  level: Level;
}

interface Level {
  price: number;
  head: Entry | null;
  tail: Entry | null;
  qty: number;
  count: number;
}

/** A binary heap of prices; `better(a, b)` says a should come out first. */
class PriceHeap {
  #items: number[] = [];
  constructor(private readonly better: (a: number, b: number) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  peek(): number | undefined {
    return this.#items[0];
  }

  push(price: number): void {
    const a = this.#items;
    a.push(price);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.better(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  /** Replaces the contents with `prices`; sorted best first, an array is a valid heap. */
  reset(prices: Iterable<number>): void {
    this.#items = [...prices].sort((a, b) => (this.better(a, b) ? -1 : this.better(b, a) ? 1 : 0));
  }

  pop(): void {
    const a = this.#items;
    const last = a.pop();
    if (a.length === 0 || last === undefined) return;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < a.length && this.better(a[l]!, a[top]!)) top = l;
      if (r < a.length && this.better(a[r]!, a[top]!)) top = r;
      if (top === i) return;
      [a[i], a[top]] = [a[top]!, a[i]!];
      i = top;
    }
  }
}

class BookSide {
  readonly levels = new Map<number, Level>();
  readonly #heap: PriceHeap;

  constructor(readonly side: Side) {
    this.#heap = new PriceHeap(side === "buy" ? (a, b) => a > b : (a, b) => a < b);
  }

  /** The best non-empty level; stale heap entries (emptied levels) are dropped on the way. */
  best(): Level | undefined {
    for (;;) {
      const price = this.#heap.peek();
      if (price === undefined) return undefined;
      const level = this.levels.get(price);
      if (level) return level;
      this.#heap.pop();
    }
  }

  level(price: number): Level {
    let level = this.levels.get(price);
    if (!level) {
      level = { price, head: null, tail: null, qty: 0, count: 0 };
      this.levels.set(price, level);
      this.#heap.push(price);
      // An emptied level's price stays in the heap until it comes to the top, so levels
      // opened and closed over and over behind the best would grow it without bound (and
      // the next take would pop them all at once).
      if (this.#heap.size > 2 * this.levels.size + 64) this.#heap.reset(this.levels.keys());
    }
    return level;
  }

  /** Levels best first; for depth views and fill-or-kill checks, not the matching path. */
  sorted(): Level[] {
    return [...this.levels.values()].sort((a, b) => (this.side === "buy" ? b.price - a.price : a.price - b.price));
  }
}

const NOTHING_TAKEN: { readonly fills: readonly BookFill[]; readonly filled: number } = Object.freeze({ fills: Object.freeze([]), filled: 0 });

export class OrderBook {
  readonly #bids = new BookSide("buy");
  readonly #asks = new BookSide("sell");
  readonly #entries = new Map<string, Entry>();

  /** Orders resting. */
  get size(): number {
    return this.#entries.size;
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  bestBid(): number | undefined {
    return this.#bids.best()?.price;
  }

  bestAsk(): number | undefined {
    return this.#asks.best()?.price;
  }

  /** Rests an order at the back of its price level. */
  rest(id: string, side: Side, price: number, qty: number): void {
    if (qty <= 0 || this.#entries.has(id)) return;
    const level = this.#side(side).level(price);
    const entry: Entry = { id, side, price, qty, prev: level.tail, next: null, level };
    if (level.tail) level.tail.next = entry;
    else level.head = entry;
    level.tail = entry;
    level.qty += qty;
    level.count += 1;
    this.#entries.set(id, entry);
  }

  /** Removes a resting order; false if it was not resting. */
  cancel(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#unlink(entry);
    return true;
  }

  /**
   * A taker on `side` takes up to `qty` from the other side at prices at least as good as
   * `limit`, best price first and oldest first within a price. Each fill is at the resting
   * order's price; a partly filled resting order keeps its place.
   */
  take(takerId: string, side: Side, limit: number, qty: number): { fills: readonly BookFill[]; filled: number } {
    const book = this.#side(side === "buy" ? "sell" : "buy");
    // Every quote and trade asks an often empty side: that answer allocates nothing.
    if (book.levels.size === 0) return NOTHING_TAKEN;
    const fills: BookFill[] = [];
    let left = qty;
    while (left > 0) {
      const level = book.best();
      if (!level || (side === "buy" ? level.price > limit : level.price < limit)) break;
      let entry = level.head;
      while (entry && left > 0) {
        const next = entry.next;
        if (entry.id === takerId) {
          entry = next;
          continue;
        }
        const q = Math.min(left, entry.qty);
        left -= q;
        entry.qty -= q;
        level.qty -= q;
        fills.push({ makerId: entry.id, price: level.price, qty: q, makerRemaining: entry.qty });
        if (entry.qty === 0) this.#unlink(entry);
        entry = next;
      }
      // Only the taker's own order is left at this level: it may not trade with itself.
      if (left > 0 && level.count > 0) break;
    }
    return { fills, filled: qty - left };
  }

  /** How much of `wanted` a taker on `side` could fill within `limit` (null: any price). */
  fillable(side: Side, limit: number | null, wanted: number): number {
    let total = 0;
    for (const level of this.#side(side === "buy" ? "sell" : "buy").sorted()) {
      if (total >= wanted || (limit !== null && (side === "buy" ? level.price > limit : level.price < limit))) break;
      total += level.qty;
    }
    return Math.min(total, wanted);
  }

  /** The best `n` levels of one side: price, total quantity and number of orders. */
  depth(side: Side, n: number): { price: number; qty: number; orders: number }[] {
    return this.#side(side)
      .sorted()
      .slice(0, n)
      .map((l) => ({ price: l.price, qty: l.qty, orders: l.count }));
  }

  #side(side: Side): BookSide {
    return side === "buy" ? this.#bids : this.#asks;
  }

  #unlink(entry: Entry): void {
    const level = entry.level;
    if (entry.prev) entry.prev.next = entry.next;
    else level.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else level.tail = entry.prev;
    level.qty -= entry.qty;
    level.count -= 1;
    this.#entries.delete(entry.id);
    if (level.count === 0) this.#side(entry.side).levels.delete(level.price);
  }
}
