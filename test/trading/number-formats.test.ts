import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { openLedger, type Ledger } from "../../shared/trading/ledger";
import { formatMoney, notional, parseMoney, quantityOf, type Money } from "../../shared/trading/money";
import { activityStamp, averagePrice, isoTime, parseOrderRequest } from "../../shared/trading/orders";
import { checkRisk, DEFAULT_LIMITS, protectionPrice, worstFee, type RiskLimits } from "../../shared/trading/risk";
import { maxBuyQty, maxSellQty } from "../../shared/strategy/views";
import type { VenueConfig } from "../../shared/venue/venue";
import { lotsToDecimal, ticksToDecimal } from "../../shared/market/instrument";

// Numbers every fill writes, each against a plain reference kept here: the average fill
// price (Alpaca's filled_avg_price), the largest market buy the account accepts (a
// strategy's ctx.maxBuyQty), and its times. The engine computes them by shorter routes.

const spec = (tickSize: string, lotSize: string): InstrumentSpec => ({ symbol: "TEST", assetClass: "crypto", tickSize, lotSize, timeZone: "UTC" });
const GRIDS: [string, string][] = [["0.01", "1"], ["0.01", "0.0001"], ["0.01", "0.000000001"], ["0.05", "0.5"], ["1", "1"], ["0.0001", "0.01"], ["0.000000001", "1"]];

/** Σ notional / Σ quantity, rounded half up to nine decimals, written through formatMoney. */
function referenceAverage(total: Money, lots: number, s: InstrumentSpec): string | null {
  if (lots === 0) return null;
  const qty = quantityOf(lots, s);
  const nano = 10n ** 9n;
  const scaled = (total * nano * 2n + qty) / (qty * 2n);
  const text = formatMoney(scaled * 10n ** 9n, 2);
  const tickDecimals = s.tickSize.split(".")[1]?.length ?? 0;
  const [whole, fraction = ""] = text.split(".");
  const trimmed = fraction.replace(/0+$/, "").padEnd(tickDecimals, "0");
  return trimmed ? `${whole}.${trimmed}` : whole!;
}

/** The largest lots whose value at the band's edge plus the worst fee fits the cash: a binary search from zero. */
function referenceMaxBuy(cash: Money, s: InstrumentSpec, last: number, venue: VenueConfig): string {
  const cap = protectionPrice("buy", last, DEFAULT_LIMITS.priceBandPct);
  const cost = (lots: number) => notional(cap, lots, s) + worstFee(venue, notional(cap, lots, s));
  let lo = 0;
  // Within doubles' exact integers, as the account counts lots: above 2^53, mid − 1 rounds
  // back to mid and the search never ends (it spun vitest's workerd for minutes when the
  // random cash, price and grid made more than 2^53 lots affordable, about one run in three
  // of this file: the CI "stall" the watchdog stopped since 4 December).
  let hi = Math.min(Number.MAX_SAFE_INTEGER, Number(cash / notional(cap, 1, s)) + 1);
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (cost(mid) <= cash) lo = mid;
    else hi = mid - 1;
  }
  return lotsToDecimal(lo, s);
}

describe("the average fill price", () => {
  it("is the exact average rounded half up to nine decimals, with the tick size's decimals at least", () => {
    expect(averagePrice(notional(18750, 3, spec("0.01", "1")), 3, spec("0.01", "1"))).toBe("187.50");
    expect(averagePrice(notional(18750, 3, spec("0.01", "1")) + notional(18751, 1, spec("0.01", "1")), 4, spec("0.01", "1"))).toBe("187.5025");
    expect(averagePrice(parseMoney("100")! * 3n, 3, spec("1", "1"))).toBe("100");
    expect(averagePrice(parseMoney("100")!, 3, spec("0.01", "1"))).toBe("33.333333333");
    expect(averagePrice(0n, 0, spec("0.01", "1"))).toBeNull();
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 1, max: 2 ** 40 }), ([tick, lot], total, lots) => {
        const s = spec(tick, lot);
        expect(averagePrice(total, lots, s)).toBe(referenceAverage(total, lots, s));
      }),
      { numRuns: 20_000 },
    );
  });
});

/** Limits no order here reaches: the buying-power arithmetic alone. */
const UNLIMITED: RiskLimits = { ...DEFAULT_LIMITS, maxOrderQty: "99999999999999999999", maxOrderNotional: "99999999999999999999", maxPositionNotional: "99999999999999999999" };

describe("the largest market buy", () => {
  it("is the same quantity a binary search from zero finds, whatever the fees, grids, cash (up to a million) and price", () => {
    const venues = fc.record({
      makerBps: fc.constantFrom(0, 0.29, 10, 25, 100),
      takerBps: fc.constantFrom(0, 0.5, 25, 40, 1000),
      minFee: fc.constantFrom("0", "0.01", "1", "25"),
      depthLevels: fc.constant(5),
      slippageTicks: fc.constant(1),
      crossUsers: fc.constant(false),
    });
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), venues, fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.integer({ min: 100, max: 10_000_000 }), ([tick, lot], venue, cash, last) => {
        const s = spec(tick, lot);
        const ledger = { ...openLedger(0n), cash };
        expect(maxBuyQty(ledger, s, last, UNLIMITED, venue)).toBe(referenceMaxBuy(cash, s, last, venue));
      }),
      { numRuns: 10_000 },
    );
    expect(maxBuyQty(openLedger(100_000n * 10n ** 18n), spec("0.01", "1"), null, DEFAULT_LIMITS, { makerBps: 0, takerBps: 0, minFee: "0", depthLevels: 5, slippageTicks: 1, crossUsers: false })).toBe("0");
  });

  // The account's own check is the oracle: what maxBuyQty / maxSellQty answer, it accepts at
  // any price from the last trade up to the band's edge above it (live, the print that sends
  // the order may be higher); one lot more it refuses at that edge (by a limit, or for
  // buying power or the free position).
  const limits = fc.record({
    maxOrderQty: fc.constantFrom("1", "50", "100000", "99999999999999999999"),
    maxOrderNotional: fc.constantFrom("100", "25000.5", "1000000", "99999999999999999999"),
    maxPositionNotional: fc.constantFrom("150", "40000", "2000000", "99999999999999999999"),
  });
  const market = (side: "buy" | "sell", lots: number) => ({ side, type: "market" as const, tif: "day" as const, qty: lots, notional: null, limit: null, stop: null, trail: null, clientOrderId: null });
  const venue: VenueConfig = { makerBps: 10, takerBps: 25, minFee: "0.01", depthLevels: 5, slippageTicks: 1, crossUsers: false };

  it("is within the account's order and position limits, and one lot more is refused", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), limits, fc.bigInt({ min: 0n, max: 10n ** 25n }), fc.integer({ min: 100, max: 10_000_000 }), fc.nat({ max: 5_000 }), fc.nat({ max: 5_000 }), ([tick, lot], caps, cash, last, heldLots, openBuyLots) => {
        const s = spec(tick, lot);
        const l: RiskLimits = { ...DEFAULT_LIMITS, ...caps };
        const positions: Ledger["positions"] = heldLots > 0 ? { TEST: { qty: heldLots, reserved: 0, costBasis: 0n, realizedPl: 0n } } : {};
        const ledger = { ...openLedger(0n), cash, positions };
        const lots = Math.round(Number(parseMoney(maxBuyQty(ledger, s, last, l, venue, openBuyLots))! / quantityOf(1, s)));
        const edge = protectionPrice("buy", last, l.priceBandPct);
        const risk = (n: number, reference: number) => checkRisk({ intent: market("buy", n), spec: s, reference, positionLots: heldLots, openBuyLots, ordersLastMinute: 0, dailyLoss: 0n, limits: l });
        const affordable = Math.round(Number(parseMoney(referenceMaxBuy(cash, s, last, venue))! / quantityOf(1, s)));
        if (lots > 0) for (const reference of [last, edge]) expect(risk(lots, reference)).toBeNull();
        expect(lots).toBeLessThanOrEqual(affordable);
        expect(risk(lots + 1, edge) !== null || lots + 1 > affordable).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it("and the largest market sell is the free position, accepted whatever the order limits; one lot more is refused", () => {
    fc.assert(
      fc.property(fc.constantFrom(...GRIDS), limits, fc.integer({ min: 100, max: 10_000_000 }), fc.nat({ max: 1_000_000 }), fc.nat({ max: 1_000 }), ([tick, lot], caps, last, heldLots, reserved) => {
        const s = spec(tick, lot);
        const l: RiskLimits = { ...DEFAULT_LIMITS, ...caps };
        const held = Math.max(heldLots, reserved);
        const ledger = { ...openLedger(0n), positions: { TEST: { qty: held, reserved, costBasis: 0n, realizedPl: 0n } } };
        const lots = Math.round(Number(parseMoney(maxSellQty(ledger, s))! / quantityOf(1, s)));
        const edge = protectionPrice("buy", last, l.priceBandPct);
        const risk = (n: number, reference: number) => checkRisk({ intent: market("sell", n), spec: s, reference, positionLots: held, openBuyLots: 0, ordersLastMinute: 0, dailyLoss: 0n, limits: l });
        expect(lots).toBe(held - reserved);
        if (lots > 0) for (const reference of [last, edge]) expect(risk(lots, reference)).toBeNull();
        // What refuses more is the position (the reservation), not a risk rule.
        expect(risk(lots + 1, edge)).toBeNull();
      }),
      { numRuns: 5_000 },
    );
  });
});

describe("a fill's times", () => {
  it("are the ISO times and activity-id stamps the plain formulas give, whatever instants come in whatever order", () => {
    // Instants from every era Date holds, repeated and interleaved, and many within a few days
    // of each other, before and after 1970 and 10000, and fractions of a millisecond (the ISO
    // text is remembered for the last two; the day's part for the last day).
    const nearby = (day: number) => fc.integer({ min: day - 2 * 86_400_000, max: day + 2 * 86_400_000 });
    const instant = fc.oneof(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_100 }), nearby(1_704_067_200_000), nearby(-86_400_000), nearby(253_402_214_400_000), fc.double({ min: -1e13, max: 1e13, noNaN: true }));
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 12, size: "max" }), (times) => {
        for (const t of [...times, ...times.reverse()]) {
          const iso = new Date(t).toISOString();
          expect(isoTime(t)).toBe(iso);
          expect(activityStamp(t)).toBe(iso.replace(/\D/g, "").slice(0, 17));
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("money and grid steps as text", () => {
  const ONE = 10n ** 18n;
  /** Whole and fraction by division, trailing zeros cut by a regular expression. */
  const referenceFormat = (value: Money, minDecimals: number): string => {
    const abs = value < 0n ? -value : value;
    let fraction = (abs % ONE).toString().padStart(18, "0").replace(/0+$/, "");
    if (fraction.length < minDecimals) fraction = fraction.padEnd(minDecimals, "0");
    return `${value < 0n ? "-" : ""}${abs / ONE}${fraction ? `.${fraction}` : ""}`;
  };
  /** Whole and fraction parsed apart and added. */
  const referenceParse = (text: string): Money | undefined => {
    const m = /^(-)?(\d{1,20})(?:\.(\d{1,18}))?$/.exec(text.trim());
    if (!m) return undefined;
    const value = BigInt(m[2]!) * ONE + BigInt((m[3] ?? "").padEnd(18, "0"));
    return m[1] ? -value : value;
  };
  /** count × the step's units in bigint, cut at the step's scale. */
  const referenceSteps = (count: number, size: string): string => {
    const [whole, fraction = ""] = size.split(".");
    const units = BigInt(count) * BigInt(whole! + fraction);
    const abs = (units < 0n ? -units : units).toString().padStart(fraction.length + 1, "0");
    const cut = abs.length - fraction.length;
    return `${units < 0n ? "-" : ""}${abs.slice(0, cut)}${fraction ? `.${abs.slice(cut)}` : ""}`;
  };
  const money = fc.oneof(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.bigInt({ min: -(10n ** 19n), max: 10n ** 19n }), fc.constantFrom(0n, 1n, -1n, ONE, -ONE, 10n ** 17n, 10n ** 16n * 5n));

  it("writes money as the division and the regular expression did, for any amount and minimum of decimals", () => {
    expect(formatMoney(-(10n ** 16n))).toBe("-0.01");
    expect(formatMoney(0n, 0)).toBe("0");
    expect(formatMoney(5n * ONE, 0)).toBe("5");
    expect(formatMoney(1n, 2)).toBe("0.000000000000000001");
    fc.assert(
      fc.property(money, fc.integer({ min: 0, max: 24 }), (value, minDecimals) => {
        expect(formatMoney(value, minDecimals)).toBe(referenceFormat(value, minDecimals));
      }),
      { numRuns: 20_000 },
    );
  });

  it("reads money back as the parts added apart did, and refuses what is not money", () => {
    const text = fc.oneof(
      money.map((v) => formatMoney(v)),
      fc.tuple(fc.stringMatching(/^-?[0-9]{1,22}$/), fc.stringMatching(/^[0-9]{0,20}$/)).map(([w, f]) => (f ? `${w}.${f}` : w)),
      fc.constantFrom("", "-", ".5", "5.", "1e3", " 12.5 ", "--1", "0.000000000000000000", "00012.50"),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(parseMoney(t)).toBe(referenceParse(t));
      }),
      { numRuns: 20_000 },
    );
  });

  it("writes ticks and lots as bigint arithmetic does, within doubles' exact integers and beyond them (lots without trailing zeros)", () => {
    const grids = ["0.01", "0.05", "1", "0.5", "0.0001", "0.000000001", "12.5", "0.0000000000000001", "90071992547409930"];
    fc.assert(
      fc.property(fc.constantFrom(...grids), fc.oneof(fc.integer({ min: -(10 ** 12), max: 10 ** 12 }), fc.maxSafeInteger(), fc.integer({ min: -(2 ** 53) + 1, max: -(2 ** 40) })), (grid, count) => {
        expect(ticksToDecimal(count, spec(grid, grid))).toBe(referenceSteps(count, grid));
        // Quantities without trailing zeros (a regular expression here), prices with the grid's decimals.
        const steps = referenceSteps(count, grid);
        expect(lotsToDecimal(count, spec(grid, grid))).toBe(steps.includes(".") ? steps.replace(/\.?0+$/, "") : steps);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe("an order's quantity refused", () => {
  // Each mistake is named for what it is: a client that sent "-1" or "abc" learns nothing
  // from "must be a multiple of the lot size".
  const problem = (qty: string | number) => {
    const parsed = parseOrderRequest({ side: "buy", type: "market", time_in_force: "gtc", qty }, spec("0.01", "0.0001"));
    return "problems" in parsed ? parsed.problems.map((p) => `${p.path}: ${p.message}`) : [];
  };

  it("says whether it is not a number, not positive, too large or off the lot grid", () => {
    expect(problem("abc")).toEqual(['qty: qty must be a decimal number, not "abc"']);
    expect(problem("1,5")).toEqual(['qty: qty must be a decimal number, not "1,5"']);
    for (const qty of ["-1", "-0.00001", "0", "-0", 0]) expect(problem(qty)).toEqual(["qty: qty must be greater than zero"]);
    expect(problem("1e30")).toEqual(["qty: qty 1e30 is too large"]);
    expect(problem("0.00001")).toEqual(["qty: qty must be a multiple of the lot size 0.0001"]);
    for (const qty of ["0.0001", "1e-2", " 2 ", 3]) expect(problem(qty)).toEqual([]);
    expect(problem("+1")).toEqual(['qty: qty must be a decimal number, not "+1"']);
    // A point needs digits on both sides, as the grids read numbers: ".001" was refused as
    // off the lot grid although it is ten lots.
    for (const qty of [".001", "1.", "-.5"]) expect(problem(qty)).toEqual([`qty: qty must be a decimal number, not ${JSON.stringify(qty)}`]);
  });

  it("reads a notional as it reads a quantity, exponents included, on the grid of cents", () => {
    const notional = (value: string | number) => {
      const parsed = parseOrderRequest({ side: "buy", type: "market", time_in_force: "day", notional: value }, spec("0.01", "0.0001"));
      return "problems" in parsed ? parsed.problems.map((p) => `${p.path}: ${p.message}`) : formatMoney(parsed.intent.notional!);
    };
    // qty "2e1" was accepted while notional "2e1" was refused as not a decimal amount.
    for (const value of ["2e1", "20", 20, " 20.00 ", "0.2e2", "2000e-2"]) expect(notional(value)).toBe("20.00");
    expect(notional("0.01")).toBe("0.01");
    for (const value of ["abc", "-5", "0", 0, "-0.01", "+1", "1,5", ".5", "5."]) expect(notional(value)).toEqual(["notional: notional must be a positive decimal amount in USD"]);
    for (const value of ["0.001", "1e-3", "10.005"]) expect(notional(value)).toEqual(["notional: notional has at most two decimals (cents)"]);
    expect(notional("1e30")).toEqual(["notional: notional 1e30 is too large"]);
  });

  it("refuses a side, type or time in force it does not know (a strategy's order reaches it unchecked)", () => {
    const refused = (fields: Record<string, unknown>) => {
      const parsed = parseOrderRequest({ side: "buy", type: "market", time_in_force: "gtc", qty: "1", ...fields } as never, spec("0.01", "1"));
      return "problems" in parsed ? parsed.problems.map((p) => `${p.path}: ${p.message}`) : [];
    };
    expect(refused({ type: "bogus" })).toEqual(['type: type must be market, limit, stop, stop_limit or trailing_stop, not "bogus"']);
    expect(refused({ time_in_force: "zzz" })).toEqual(['time_in_force: time_in_force must be day, gtc, ioc or fok, not "zzz"']);
    expect(refused({ side: "short" })).toEqual(['side: side must be buy or sell, not "short"']);
    expect(refused({ type: undefined })).toEqual(["type: type must be market, limit, stop, stop_limit or trailing_stop, not undefined"]);
  });
});
