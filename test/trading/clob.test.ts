import fc from "fast-check";
import { OrderBook as ReferenceBook, Side as ReferenceSide, type IProcessOrder } from "nodejs-order-book";
import { describe, expect, it } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import type { Side } from "../../shared/venue/book";
import { Venue, type Report, type VenueConfig, type VenueOrderRequest } from "../../shared/venue/venue";

// With no quote ever given and users crossing each other, the venue is a plain central
// limit order book, so its fills must be exactly those of an independent one:
// nodejs-order-book, driven through its limit / market / cancel API.

const SPEC: InstrumentSpec = { symbol: "CLOB", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const CLOB: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: true };
const MID = 10_000;

type Command = { kind: "limit"; side: Side; price: number; qty: number } | { kind: "market"; side: Side; qty: number } | { kind: "cancel"; pick: number };

interface Fill {
  maker: string;
  taker: string;
  price: number;
  qty: number;
}

const side = fc.constantFrom<Side>("buy", "sell");
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ kind: fc.constant("limit" as const), side, price: fc.integer({ min: MID - 6, max: MID + 6 }), qty: fc.integer({ min: 1, max: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("market" as const), side, qty: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
);

function request(id: string, c: Command & { kind: "limit" | "market" }): VenueOrderRequest {
  const limit = c.kind === "limit" ? c.price : null;
  return { id, account: "clob", side: c.side, type: c.kind, tif: c.kind === "limit" ? "gtc" : "ioc", qty: c.qty, notional: null, maxLots: null, limit, stop: null, cap: null, expiresAt: null };
}

/** Venue reports come in pairs per book fill: the maker's, then the taker's. */
function venueFills(reports: readonly Report[]): Fill[] {
  const fills: Fill[] = [];
  const legs = reports.filter((r) => r.kind === "fill");
  for (let i = 0; i < legs.length; i += 2) {
    const [maker, taker] = [legs[i]!, legs[i + 1]!];
    expect([maker.liquidity, taker?.liquidity, taker?.price, taker?.qty]).toEqual(["maker", "taker", maker.price, maker.qty]);
    fills.push({ maker: maker.orderId, taker: taker.orderId, price: maker.price, qty: maker.qty });
  }
  return fills;
}

/**
 * nodejs-order-book lists the makers it used up in `done` (each with the size it had
 * left), then at most one maker it left partly filled in `partial` with the quantity in
 * `partialQuantityProcessed`. A limit taker shows up in those fields itself (in `done`
 * when filled, in `partial` when it rests), so it is told apart by id.
 */
function referenceFills(result: IProcessOrder, taker: string): Fill[] {
  expect(result.err).toBeNull();
  const fills: Fill[] = [];
  for (const o of result.done) if (o.id !== taker && "price" in o) fills.push({ maker: o.id, taker, price: o.price, qty: o.size });
  const partial = result.partial;
  if (partial && partial.id !== taker) fills.push({ maker: partial.id, taker, price: partial.price, qty: result.partialQuantityProcessed });
  return fills;
}

/** Runs one stream through both books; returns each one's fills and resting depth. */
function runBoth(commands: Command[]) {
  const venue = new Venue(SPEC, CLOB);
  const reference = new ReferenceBook();
  const ours: Fill[] = [];
  const theirs: Fill[] = [];
  const ids: string[] = [];
  commands.forEach((c, n) => {
    if (c.kind === "cancel") {
      const id = ids[c.pick % Math.max(1, ids.length)];
      if (id === undefined) return;
      venue.cancel(id, n);
      reference.cancel(id);
    } else {
      const id = `o${n}`;
      ids.push(id);
      venue.submit(request(id, c), n);
      const refSide = c.side === "buy" ? ReferenceSide.BUY : ReferenceSide.SELL;
      const result = c.kind === "limit" ? reference.limit({ id, side: refSide, size: c.qty, price: c.price }) : reference.market({ side: refSide, size: c.qty });
      theirs.push(...referenceFills(result, id));
    }
    ours.push(...venueFills(venue.drain().reports));
  });
  const [asks, bids] = reference.depth();
  const ourDepth = (s: Side) => venue.depth(s, Infinity).map((l) => [l.price, l.qty]);
  const bestFirst = (levels: number[][], s: Side) => [...levels].sort((a, b) => (s === "buy" ? b[0]! - a[0]! : a[0]! - b[0]!));
  return { ours, theirs, depth: { ours: { asks: ourDepth("sell"), bids: ourDepth("buy") }, theirs: { asks: bestFirst(asks, "sell"), bids: bestFirst(bids, "buy") } } };
}

describe("the venue as a central limit order book", () => {
  it("makes exactly nodejs-order-book's fills: maker, taker, price and quantity, in order", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 300, size: "max" }), (commands) => {
        const { ours, theirs, depth } = runBoth(commands);
        expect(ours).toEqual(theirs);
        expect(depth.ours).toEqual(depth.theirs);
      }),
      { numRuns: 300 },
    );
  });

  it("agrees on a hand-made stream that sweeps levels, fills partly and cancels mid-queue", () => {
    const commands: Command[] = [
      { kind: "limit", side: "sell", price: MID + 1, qty: 5 },
      { kind: "limit", side: "sell", price: MID + 1, qty: 5 },
      { kind: "limit", side: "sell", price: MID + 2, qty: 5 },
      { kind: "limit", side: "sell", price: MID + 1, qty: 5 },
      { kind: "cancel", pick: 1 },
      { kind: "limit", side: "buy", price: MID + 2, qty: 7 },
      { kind: "market", side: "buy", qty: 20 },
      { kind: "limit", side: "buy", price: MID, qty: 3 },
      { kind: "market", side: "sell", qty: 1 },
    ];
    const { ours, theirs } = runBoth(commands);
    expect(ours).toEqual([
      { maker: "o0", taker: "o5", price: MID + 1, qty: 5 },
      { maker: "o3", taker: "o5", price: MID + 1, qty: 2 },
      { maker: "o3", taker: "o6", price: MID + 1, qty: 3 },
      { maker: "o2", taker: "o6", price: MID + 2, qty: 5 },
      { maker: "o7", taker: "o8", price: MID, qty: 1 },
    ]);
    expect(theirs).toEqual(ours);
  });
});
