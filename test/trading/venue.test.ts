import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { notional } from "../../shared/trading/money";
import type { Side } from "../../shared/venue/book";
import { executionId, orderFee, STALE_QUOTE_MESSAGE, Venue, type OrderType, type Report, type TimeInForce, type VenueConfig, type VenueOrderRequest } from "../../shared/venue/venue";
import { trailingStop, type Trail } from "../../shared/venue/trailing";

// The venue under a random feed and random orders of every type and time in force: the
// invariants an account relies on when it applies the reports, and determinism, which
// is what lets the symbol object rebuild the venue from storage at any moment.

const SPEC: InstrumentSpec = { symbol: "PROP", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const MID = 10_000;
const CENTS = 10n ** 16n;

type Event =
  | { kind: "quote"; bid: number; spread: number; bidLots: number; askLots: number }
  | { kind: "trade"; price: number }
  | { kind: "order"; order: Omit<VenueOrderRequest, "id" | "account" | "expiresAt">; dayMs: number }
  | { kind: "cancel"; pick: number }
  | { kind: "expire" }
  | { kind: "restart" };

interface Step {
  dt: number;
  event: Event;
}

const price = fc.integer({ min: MID - 12, max: MID + 12 });
const side = fc.constantFrom<Side>("buy", "sell");

const order = fc
  .record({
    side,
    type: fc.constantFrom<OrderType>("market", "limit", "stop", "stop_limit", "trailing_stop"),
    trail: fc.oneof(fc.record({ ticks: fc.integer({ min: 1, max: 8 }) }), fc.record({ ppm: fc.integer({ min: 1, max: 1_500 }) })) as fc.Arbitrary<Trail>,
    tif: fc.constantFrom<TimeInForce>("day", "gtc", "ioc", "fok"),
    qty: fc.integer({ min: 1, max: 40 }),
    notionalCents: fc.option(fc.integer({ min: 1, max: 500_000 }), { freq: 4 }),
    maxLots: fc.integer({ min: 0, max: 40 }),
    limit: price,
    stop: price,
    cap: fc.option(price, { freq: 3 }),
    dayMs: fc.integer({ min: 1, max: 20_000 }),
  })
  .map(({ side, type, tif, trail, qty, notionalCents, maxLots, limit, stop, cap, dayMs }): Event => {
    // As the account validates them: notional orders are market day/gtc/ioc orders;
    // trailing stops day or gtc, their stop set from the price they were placed at (here `stop`).
    const byNotional = notionalCents !== null && type === "market" && tif !== "fok";
    const limited = type === "limit" || type === "stop_limit";
    const stopped = type === "stop" || type === "stop_limit";
    if (type === "trailing_stop") {
      const trailTif = tif === "day" ? "day" : "gtc";
      return { kind: "order", dayMs, order: { side, type, tif: trailTif, qty, notional: null, maxLots: null, limit: null, stop: trailingStop(side, stop, trail), cap, trail, hwm: stop } };
    }
    return {
      kind: "order",
      dayMs,
      order: {
        side,
        type,
        tif,
        qty: byNotional ? null : qty,
        notional: byNotional ? (BigInt(notionalCents) * CENTS).toString() : null,
        maxLots: byNotional && side === "sell" ? maxLots : null,
        limit: limited ? limit : null,
        stop: stopped ? stop : null,
        cap: limited ? null : cap,
      },
    };
  });

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("quote" as const), bid: price, spread: fc.integer({ min: 1, max: 3 }), bidLots: fc.integer({ min: 0, max: 30 }), askLots: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("trade" as const), price }) },
  { weight: 6, arbitrary: order },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "expire" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

const config: fc.Arbitrary<VenueConfig> = fc.record({
  makerBps: fc.integer({ min: 0, max: 3000 }).map((n) => n / 100),
  takerBps: fc.integer({ min: 0, max: 3000 }).map((n) => n / 100),
  minFee: fc.constantFrom("0", "0.01", "1"),
  depthLevels: fc.integer({ min: 1, max: 5 }),
  slippageTicks: fc.integer({ min: 0, max: 2 }),
  crossUsers: fc.boolean(),
});

// Steps are up to 3 s apart: a 2 s limit makes the quote stale now and then, a 30 s one rarely.
const staleQuoteMs = fc.constantFrom(Infinity, 2_000, 30_000);

const steps = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3_000 }), event }), { maxLength: 120, size: "max" });

interface Run {
  reports: Report[];
  requests: Map<string, VenueOrderRequest>;
  /** Stop orders, by id, once a trade at or through their stop price has printed. */
  stopHit: Map<string, number>;
  /** Orders still live right after their own submission: whether their stop was yet to be hit. */
  liveAfterSubmit: Map<string, boolean>;
  /** Steps after which users crossing each other left a bid at or above an ask. */
  crossedAt: number[];
  /** Trailing stops' marks as an independent model keeps them. */
  marks: Map<string, number>;
}

/** A trail's stop from its mark, by the definition (bigint, rounded away from the market), not the venue's code. */
function modelStop(side: Side, mark: number, trail: Trail): number {
  if ("ticks" in trail) return side === "sell" ? Math.max(1, mark - trail.ticks) : mark + trail.ticks;
  const m = BigInt(mark);
  const f = BigInt(trail.ppm);
  return side === "sell" ? Math.max(1, Number((m * (1_000_000n - f)) / 1_000_000n)) : Number((m * (1_000_000n + f) + 999_999n) / 1_000_000n);
}

/**
 * Plays the steps; `restarts` rebuilds the venue from a JSON copy of what the symbol
 * object stores. A quote older than `staleQuoteMs` makes marketable orders rejected.
 */
function play(cfg: VenueConfig, input: Step[], restarts: boolean, staleQuoteMs = Infinity): Run {
  let venue = new Venue(SPEC, cfg, undefined, [], { staleQuoteMs });
  const run: Run = { reports: [], requests: new Map(), stopHit: new Map(), liveAfterSubmit: new Map(), crossedAt: [], marks: new Map() };
  let now = 1_000;
  let lastTrade: number | undefined;
  // A trailing stop's stop is where its mark has taken it (the mark follows a trade before the trade is checked against it).
  const stopOf = (r: VenueOrderRequest) => (r.trail ? modelStop(r.side, run.marks.get(r.id)!, r.trail) : r.stop!);
  const through = (r: VenueOrderRequest, p: number) => (r.side === "buy" ? p >= stopOf(r) : p <= stopOf(r));
  input.forEach(({ dt, event: e }, n) => {
    now += dt;
    if (e.kind === "quote") venue.onQuote({ t: now, bidTicks: e.bid, askTicks: e.bid + e.spread, bidLots: e.bidLots, askLots: e.askLots }, now);
    else if (e.kind === "trade") {
      lastTrade = e.price;
      for (const [id, r] of run.requests) {
        if (r.trail && (r.side === "sell" ? e.price > run.marks.get(id)! : e.price < run.marks.get(id)!)) run.marks.set(id, e.price);
        if (r.stop !== null && !run.stopHit.has(id) && through(r, e.price)) run.stopHit.set(id, now);
      }
      venue.onTrade({ t: now, priceTicks: e.price }, now);
    } else if (e.kind === "order") {
      const id = `o${n}`;
      const request: VenueOrderRequest = { ...e.order, id, account: `a${n % 3}`, expiresAt: e.order.tif === "day" ? now + e.dayMs : null };
      run.requests.set(id, request);
      if (request.trail) run.marks.set(id, lastTrade ?? request.hwm!);
      if (request.stop !== null && lastTrade !== undefined && through(request, lastTrade)) run.stopHit.set(id, now);
      venue.submit(request, now);
      if (venue.order(id)) run.liveAfterSubmit.set(id, request.stop !== null && !run.stopHit.has(id));
    } else if (e.kind === "cancel") {
      const ids = [...run.requests.keys()];
      if (ids.length > 0) venue.cancel(ids[e.pick % ids.length]!, now);
    } else if (e.kind === "expire") venue.expire(now);
    else if (restarts) {
      const stored = JSON.parse(JSON.stringify({ state: venue.state, orders: [...venue.orders] }));
      run.reports.push(...venue.drain().reports);
      venue = new Venue(SPEC, cfg, stored.state, stored.orders, { staleQuoteMs });
    }
    run.reports.push(...venue.drain().reports);
    const [bid, ask] = [venue.depth("buy", 1)[0], venue.depth("sell", 1)[0]];
    if (cfg.crossUsers && bid && ask && bid.price >= ask.price) run.crossedAt.push(n);
  });
  return run;
}

/** The worst price an order may trade at, or null for none. */
function bound(r: VenueOrderRequest): number | null {
  return r.type === "limit" || r.type === "stop_limit" ? r.limit : r.cap;
}

function checkInvariants(cfg: VenueConfig, run: Run): void {
  expect(run.crossedAt).toEqual([]);
  const seqs = run.reports.map((r) => r.seq);
  expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
  const byOrder = new Map<string, Report[]>();
  for (const r of run.reports) byOrder.set(r.orderId, [...(byOrder.get(r.orderId) ?? []), r]);
  for (const [id, reports] of byOrder) checkOrder(cfg, run, run.requests.get(id)!, reports);
  // Only resting limits and waiting stops outlive their own submission.
  for (const [id, stopWaiting] of run.liveAfterSubmit) {
    const r = run.requests.get(id)!;
    expect(stopWaiting || (r.limit !== null && (r.tif === "day" || r.tif === "gtc"))).toBe(true);
  }
}

/** One order's reports, in sequence. */
function checkOrder(cfg: VenueConfig, run: Run, r: VenueOrderRequest, reports: Report[]): void {
  const fills = reports.filter((x) => x.kind === "fill");
  const dones = reports.filter((x) => x.kind === "done");
  // A trail report only for a trailing stop not yet triggered, its stop where its mark puts it; each mark past the one before.
  const trails = reports.filter((x) => x.kind === "trail");
  if (trails.length > 0) expect(r.type).toBe("trailing_stop");
  trails.forEach((t, i) => {
    expect(t.stop).toBe(modelStop(r.side, t.hwm, r.trail!));
    if (i > 0) expect(r.side === "sell" ? t.hwm > trails[i - 1]!.hwm : t.hwm < trails[i - 1]!.hwm).toBe(true);
    if (fills[0]) expect(t.seq).toBeLessThan(fills[0].seq);
  });
  // And the converse: once a trade reaches where its trail puts the stop, it has triggered (a fill or its end by then).
  const hit = run.stopHit.get(r.id);
  if (r.trail && hit !== undefined) expect(reports.some((x) => x.kind !== "trail" && x.t <= hit)).toBe(true);
  const filled = fills.reduce((sum, f) => sum + f.qty, 0);
  // At most one end, and nothing after it or after the fill that completes the order.
  expect(dones.length).toBeLessThanOrEqual(1);
  if (dones.length === 1) expect(reports.at(-1)).toBe(dones[0]);
  const completing = fills.find((f) => r.qty !== null && f.leaves === 0);
  if (completing) expect(reports.at(-1)).toBe(completing);
  let cum = 0;
  for (const f of fills) {
    cum += f.qty;
    expect(f.qty).toBeGreaterThan(0);
    expect(f.cumQty).toBe(cum);
    if (r.qty !== null) expect(f.leaves).toBe(r.qty - cum);
    const worst = bound(r);
    if (worst !== null) expect(r.side === "buy" ? f.price <= worst : f.price >= worst).toBe(true);
    expect(BigInt(f.fee)).toBeGreaterThanOrEqual(0n);
    // A day order never trades once its day has ended; a stop never before its trigger.
    if (r.expiresAt !== null) expect(f.t).toBeLessThan(r.expiresAt);
    if (r.stop !== null) expect(run.stopHit.get(r.id)).toBeLessThanOrEqual(f.t);
    // Only an order that rests can make liquidity.
    if (f.liquidity === "maker") expect(r.limit !== null && (r.tif === "day" || r.tif === "gtc")).toBe(true);
  }
  if (dones[0]) expect(dones[0].cumQty).toBe(filled);
  // Each fill pays what the order's cumulative fee grew by.
  const paid = fills.reduce((sum, f) => sum + BigInt(f.fee), 0n);
  const made = (kind: "maker" | "taker") => fills.filter((f) => f.liquidity === kind).reduce((sum, f) => sum + notional(f.price, f.qty, SPEC), 0n);
  expect(paid).toBe(orderFee(cfg, made("maker"), made("taker")));
  if (r.qty !== null) expect(filled).toBeLessThanOrEqual(r.qty);
  else {
    expect(made("maker") + made("taker")).toBeLessThanOrEqual(BigInt(r.notional!));
    if (r.maxLots !== null) expect(filled).toBeLessThanOrEqual(r.maxLots);
  }
  if (r.tif === "fok" && dones[0]) expect([0, r.qty]).toContain(dones[0].cumQty);
  if (r.tif === "fok" && fills.length > 0) expect(filled).toBe(r.qty);
}

describe("the venue under a random feed and random orders", () => {
  it("keeps every report invariant an account relies on", () => {
    fc.assert(
      fc.property(config, steps, staleQuoteMs, (cfg, input, stale) => {
        checkInvariants(cfg, play(cfg, input, false, stale));
      }),
      { numRuns: 400 },
    );
  });

  it("is deterministic, and a venue rebuilt from what is stored carries on exactly as before", () => {
    fc.assert(
      fc.property(config, steps, staleQuoteMs, (cfg, input, stale) => {
        const first = play(cfg, input, false, stale).reports;
        expect(play(cfg, input, false, stale).reports).toEqual(first);
        expect(play(cfg, input, true, stale).reports).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });
});

describe("execution ids", () => {
  it("are UUIDs (alpaca-py parses them as such), the same for a symbol's sequence number every time, and never repeat", () => {
    // They were "AAPL:1", which alpaca-py's TradeUpdate refuses.
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const seen = new Set<string>();
    for (const symbol of ["AAPL", "MSFT", "BTC/USD", "ETH/USD", "SPY", "TSLA", "AAPL2", "A"]) {
      for (const seq of [1, 2, 255, 1_000_000, 2 ** 40]) {
        const id = executionId(symbol, seq);
        expect(id).toMatch(UUID);
        expect(executionId(symbol, seq)).toBe(id);
        seen.add(id);
      }
    }
    expect(seen.size).toBe(8 * 5);
  });
});

describe("a venue rebuilt from storage", () => {
  const gtc = (id: string, o: Partial<VenueOrderRequest>): VenueOrderRequest => ({ id, account: "a", side: "buy", type: "limit", tif: "gtc", qty: 1, notional: null, maxLots: null, limit: null, stop: null, cap: null, expiresAt: null, ...o });
  const cfg: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: false };

  it("keeps a triggered stop limit behind the orders that rested before its trigger", () => {
    const venue = new Venue(SPEC, cfg);
    venue.submit(gtc("stop", { type: "stop_limit", stop: MID + 5, limit: MID }), 1);
    venue.submit(gtc("early", { limit: MID }), 2);
    venue.onTrade({ t: 3, priceTicks: MID + 5 }, 3);
    const stored = JSON.parse(JSON.stringify({ state: venue.state, orders: [...venue.orders] }));
    const restored = new Venue(SPEC, cfg, stored.state, stored.orders);
    for (const v of [venue, restored]) {
      v.drain();
      v.onQuote({ t: 4, bidTicks: MID - 2, askTicks: MID, bidLots: 1, askLots: 1 }, 4);
      expect(v.drain().reports.map((r) => r.orderId)).toEqual(["early"]);
    }
  });

  it("leaves the stored state it was built from as it was while it trades", () => {
    // Two venues built from one stored state (as a restart test does) must not see what the
    // other took from the quote. A quote keeps its "taken" arrays when nothing was taken, so
    // they must be the venue's own copies from the start.
    const venue = new Venue(SPEC, cfg);
    venue.onQuote({ t: 1, bidTicks: MID - 2, askTicks: MID, bidLots: 5, askLots: 5 }, 1);
    const stored = JSON.parse(JSON.stringify({ state: venue.state, orders: [] }));
    const before = JSON.stringify(stored.state);
    const first = new Venue(SPEC, cfg, stored.state, stored.orders);
    first.submit(gtc("taker", { type: "market", tif: "ioc", qty: 3 }), 2);
    expect(first.drain().reports.filter((r) => r.kind === "fill").map((r) => r.qty)).toEqual([3]);
    expect(JSON.stringify(stored.state)).toBe(before);
    const second = new Venue(SPEC, cfg, stored.state, stored.orders);
    second.submit(gtc("again", { type: "market", tif: "ioc", qty: 5 }), 2);
    expect(second.drain().reports.filter((r) => r.kind === "fill").map((r) => r.qty)).toEqual([5]);
  });

  it("ends a notional order that pays for no lot at the ask canceled, and says why", () => {
    const venue = new Venue(SPEC, cfg);
    venue.onQuote({ t: 1, bidTicks: MID - 2, askTicks: MID, bidLots: 5, askLots: 5 }, 1);
    venue.drain();
    const short = (notional(MID, 1, SPEC) - 1n).toString();
    venue.submit(gtc("small", { type: "market", tif: "day", qty: null, notional: short }), 2);
    expect(venue.drain().reports).toMatchObject([{ kind: "done", orderId: "small", reason: "canceled", message: "the notional pays for less than one lot at the best price" }]);
  });

  it("allocates nothing for a print that changes nothing, and still reports the next one that does", () => {
    const venue = new Venue(SPEC, cfg);
    venue.onQuote({ t: 1, bidTicks: MID - 2, askTicks: MID, bidLots: 5, askLots: 5 }, 1);
    venue.onTrade({ t: 1, priceTicks: MID }, 1);
    const quiet = venue.drain();
    expect(quiet).toEqual({ reports: [], touched: [] });
    expect(venue.drain()).toBe(quiet);
    venue.submit(gtc("rest", { limit: MID - 5 }), 2);
    expect(venue.drain().touched).toEqual(["rest"]);
  });
});

describe("day orders", () => {
  const cfg: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: true };
  const day = (id: string, o: Partial<VenueOrderRequest>): VenueOrderRequest => ({ id, account: "a", side: "buy", type: "limit", tif: "day", qty: 1, notional: null, maxLots: null, limit: MID, stop: null, cap: null, expiresAt: 100, ...o });

  it("never trade once their day has ended, even before the next quote says so", () => {
    const venue = new Venue(SPEC, cfg);
    venue.submit(day("old", {}), 1);
    venue.submit(day("stop", { side: "sell", type: "stop", stop: MID, limit: null }), 2);
    venue.onTrade({ t: 100, priceTicks: MID }, 100);
    venue.submit(day("new", { side: "sell", expiresAt: 200 }), 101);
    expect(venue.drain().reports.map((r) => [r.orderId, r.kind])).toEqual([
      ["old", "done"],
      ["stop", "done"],
    ]);
    expect(venue.depth("sell", 1)).toEqual([{ price: MID, qty: 1, orders: 1 }]);
  });

  it("end at once when they arrive after their day", () => {
    const venue = new Venue(SPEC, cfg);
    venue.submit(day("resting", { side: "sell", tif: "gtc", expiresAt: null }), 1);
    venue.submit(day("late", { expiresAt: 5 }), 5);
    expect(venue.drain().reports).toMatchObject([{ orderId: "late", kind: "done", reason: "expired", cumQty: 0 }]);
  });
});

describe("the venue's one clock", () => {
  const cfg: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: false };
  const limit = (id: string, o: Partial<VenueOrderRequest> = {}): VenueOrderRequest => ({ id, account: "a", side: "buy", type: "limit", tif: "gtc", qty: 1, notional: null, maxLots: null, limit: MID, stop: null, cap: null, expiresAt: null, ...o });

  it("never fills an order before its submission, even on a quote stamped earlier", () => {
    const venue = new Venue(SPEC, cfg);
    venue.submit(limit("resting"), 5_000);
    // A feed replaying the past: the quote, and the time it is applied at, are older.
    venue.onQuote({ t: 1_000, bidTicks: MID - 2, askTicks: MID, bidLots: 1, askLots: 1 }, 1_000);
    const [fill] = venue.drain().reports;
    expect(fill).toMatchObject({ kind: "fill", orderId: "resting" });
    expect(fill!.t).toBeGreaterThanOrEqual(5_000);
    // The clock is part of what is stored: a rebuilt venue does not go back either.
    const stored = JSON.parse(JSON.stringify({ state: venue.state, orders: [...venue.orders] }));
    const restored = new Venue(SPEC, cfg, stored.state, stored.orders);
    restored.submit(limit("next", { type: "market", limit: null, tif: "ioc" }), 2_000);
    expect(restored.drain().reports.every((r) => r.t >= 5_000)).toBe(true);
  });

  it("stamps reports in sequence order with times that never go back, whatever times the commands bring", () => {
    const command = fc.record({ at: fc.integer({ min: 0, max: 10_000 }), kind: fc.constantFrom("quote", "trade", "order", "market") });
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const venue = new Venue(SPEC, cfg);
        const submitted = new Map<string, number>();
        commands.forEach(({ at, kind }, n) => {
          if (kind === "quote") venue.onQuote({ t: at, bidTicks: MID - 1, askTicks: MID + (n % 3) - 1, bidLots: 2, askLots: 2 }, at);
          else if (kind === "trade") venue.onTrade({ t: at, priceTicks: MID }, at);
          else {
            submitted.set(`o${n}`, at);
            venue.submit(limit(`o${n}`, kind === "market" ? { type: "market", limit: null, tif: "ioc" } : {}), at);
          }
        });
        const reports = venue.drain().reports;
        reports.forEach((r, i) => {
          if (i > 0) expect(r.t).toBeGreaterThanOrEqual(reports[i - 1]!.t);
          expect(r.t).toBeGreaterThanOrEqual(submitted.get(r.orderId)!);
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe("a stale quote", () => {
  const cfg: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: false };
  const order = (id: string, o: Partial<VenueOrderRequest> = {}): VenueOrderRequest => ({ id, account: "a", side: "buy", type: "market", tif: "ioc", qty: 1, notional: null, maxLots: null, limit: null, stop: null, cap: null, expiresAt: null, ...o });
  const quote = (at: number) => ({ t: at, bidTicks: MID - 1, askTicks: MID, bidLots: 5, askLots: 5 });

  it("refuses marketable orders, also after a restart, and takes them again once a quote arrives", () => {
    let venue = new Venue(SPEC, cfg, undefined, [], { staleQuoteMs: 5_000 });
    venue.onQuote(quote(0), 0);
    venue.onTrade({ t: 0, priceTicks: MID }, 0);
    venue.submit(order("fresh"), 5_000);
    expect(venue.drain().reports).toMatchObject([{ kind: "fill", orderId: "fresh" }]);
    expect(venue.quoteStale(5_001)).toBe(true);
    const stored = JSON.parse(JSON.stringify({ state: venue.state, orders: [...venue.orders] }));
    venue = new Venue(SPEC, cfg, stored.state, stored.orders, { staleQuoteMs: 5_000 });
    venue.submit(order("market"), 5_001);
    venue.submit(order("crossing", { type: "limit", tif: "gtc", limit: MID + 3 }), 5_002);
    // Through the last trade: triggered at once, and then marketable.
    venue.submit(order("stop", { type: "stop", stop: MID - 5 }), 5_003);
    venue.submit(order("passive", { type: "limit", tif: "gtc", limit: MID - 3 }), 5_004);
    expect(venue.drain().reports).toEqual([
      expect.objectContaining({ kind: "done", orderId: "market", reason: "rejected", message: STALE_QUOTE_MESSAGE }),
      expect.objectContaining({ kind: "done", orderId: "crossing", reason: "rejected", message: STALE_QUOTE_MESSAGE }),
      expect.objectContaining({ kind: "done", orderId: "stop", reason: "rejected", message: STALE_QUOTE_MESSAGE }),
    ]);
    expect(STALE_QUOTE_MESSAGE).toMatch(/quote is stale/);
    // The passive limit rests: it takes nothing from the stale quote.
    expect(venue.order("passive")).toBeDefined();
    venue.onQuote(quote(9_000), 9_000);
    venue.submit(order("again"), 9_001);
    expect(venue.drain().reports).toMatchObject([{ kind: "fill", orderId: "again" }]);
  });
});

describe("a market order short of its quantity", () => {
  const cfg: VenueConfig = { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 3, slippageTicks: 1, crossUsers: false };
  const order = (id: string, o: Partial<VenueOrderRequest> = {}): VenueOrderRequest => ({ id, account: "a", side: "buy", type: "market", tif: "gtc", qty: 1, notional: null, maxLots: null, limit: null, stop: null, cap: null, expiresAt: null, ...o });

  it("is canceled saying why: every level of the quote taken, or the next level past its protection price", () => {
    const venue = new Venue(SPEC, cfg);
    venue.onQuote({ t: 0, bidTicks: MID - 1, askTicks: MID, bidLots: 5, askLots: 5 }, 0);
    // Three levels of five: 15 of 20 fill, then the quote has nothing left.
    venue.submit(order("deep", { qty: 20, cap: MID + 10 }), 1);
    const deep = venue.drain().reports.filter((r) => r.orderId === "deep");
    expect(deep.filter((r) => r.kind === "fill").reduce((s, r) => s + (r.kind === "fill" ? r.qty : 0), 0)).toBe(15);
    expect(deep.at(-1)).toMatchObject({ kind: "done", reason: "canceled", message: "the rest found no more liquidity: every level of the quote (3) was taken" });
    // A new quote; the cap stops the walk after the first level.
    venue.onQuote({ t: 2, bidTicks: MID - 1, askTicks: MID, bidLots: 5, askLots: 5 }, 2);
    venue.submit(order("capped", { qty: 20, cap: MID }), 3);
    const capped = venue.drain().reports.filter((r) => r.orderId === "capped");
    expect(capped.at(-1)).toMatchObject({ kind: "done", reason: "canceled", message: "the rest found no liquidity within the price band" });
  });
});
