import { describe, expect, it } from "vitest";
import { dayOrderExpiry, sessionOpen, type TradingSession } from "../../shared/trading/session";
import { Venue } from "../../shared/venue/venue";

// When instruments trade and when day orders end.
const NYSE: TradingSession = { timeZone: "America/New_York", open: "09:30", close: "16:00", days: [1, 2, 3, 4, 5] };
const at = (iso: string) => Date.parse(iso);

describe("trading sessions", () => {
  it("an instrument without a session trades at any hour", () => {
    for (const t of ["2026-12-05T03:00:00Z", "2026-12-25T12:00:00Z", "2026-07-04T23:59:59Z"]) expect(sessionOpen(null, at(t))).toBe(true);
  });

  it("a session is open on its days between open and close, in its own zone", () => {
    expect(sessionOpen(NYSE, at("2026-12-01T14:30:00Z"))).toBe(true); // Tue 09:30 EST
    expect(sessionOpen(NYSE, at("2026-12-01T14:29:59Z"))).toBe(false);
    expect(sessionOpen(NYSE, at("2026-12-01T21:00:00Z"))).toBe(false); // 16:00 EST: closed
    expect(sessionOpen(NYSE, at("2026-12-05T15:00:00Z"))).toBe(false); // Saturday
    expect(sessionOpen(NYSE, at("2026-07-01T13:30:00Z"))).toBe(true); // 09:30 EDT
  });

  it("a day order in a session ends at that day's close", () => {
    expect(dayOrderExpiry(NYSE, at("2026-12-01T15:00:00Z"))).toBe(at("2026-12-01T21:00:00Z"));
    expect(dayOrderExpiry(NYSE, at("2026-07-01T15:00:00Z"))).toBe(at("2026-07-01T20:00:00Z"));
  });

  it("a day order on a round-the-clock instrument ends at the next midnight in New York", () => {
    expect(dayOrderExpiry(null, at("2026-12-01T15:00:00Z"))).toBe(at("2026-12-02T05:00:00Z"));
    expect(dayOrderExpiry(null, at("2026-12-02T04:59:59Z"))).toBe(at("2026-12-02T05:00:00Z"));
    // Across the change to daylight saving (8 March 2026): midnight EDT is 04:00 UTC.
    expect(dayOrderExpiry(null, at("2026-03-08T12:00:00Z"))).toBe(at("2026-03-09T04:00:00Z"));
    // And back (1 November 2026): midnight EST is 05:00 UTC.
    expect(dayOrderExpiry(null, at("2026-11-01T12:00:00Z"))).toBe(at("2026-11-02T05:00:00Z"));
  });
});

describe("day orders at the venue", () => {
  const spec = { symbol: "DAY", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" } as const;
  const config = { makerBps: 10, takerBps: 25, minFee: "0.01", depthLevels: 1, slippageTicks: 1, crossUsers: false };
  const order = (id: string, expiresAt: number | null) => ({ id, account: "a", side: "buy" as const, type: "limit" as const, tif: expiresAt === null ? ("gtc" as const) : ("day" as const), qty: 5, notional: null, maxLots: null, limit: 9_900, stop: null, cap: null, expiresAt });

  it("expire at their time and not before; gtc orders stay", () => {
    const venue = new Venue(spec, config);
    venue.onQuote({ t: 0, bidTicks: 9_990, askTicks: 10_000, bidLots: 10, askLots: 10 }, 0);
    venue.submit(order("day", 1_000), 1);
    venue.submit(order("gtc", null), 2);
    venue.drain();
    venue.expire(999);
    expect(venue.drain().reports).toEqual([]);
    venue.onQuote({ t: 1_000, bidTicks: 9_990, askTicks: 10_000, bidLots: 10, askLots: 10 }, 1_000);
    const { reports } = venue.drain();
    expect(reports).toMatchObject([{ kind: "done", orderId: "day", reason: "expired" }]);
    expect([...venue.orders].map((o) => o.id)).toEqual(["gtc"]);
    // Gone from the book too: an ask at its price now fills only the gtc order.
    venue.onQuote({ t: 2_000, bidTicks: 9_890, askTicks: 9_900, bidLots: 10, askLots: 10 }, 2_000);
    expect(venue.drain().reports.filter((r) => r.kind === "fill").map((r) => r.orderId)).toEqual(["gtc"]);
  });
});
