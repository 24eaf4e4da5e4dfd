import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { applyFill, deposit, forked, ledgerViolations, LedgerError, openLedger, release, reservationShortfall, reserve, type Ledger } from "../../shared/trading/ledger";
import { basisPoints, formatMoney, notional, parseMoney, type Money } from "../../shared/trading/money";

const AAPL: InstrumentSpec = { symbol: "AAPL", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
const BTC: InstrumentSpec = { symbol: "BTC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" };
const SPECS: Record<string, InstrumentSpec> = { AAPL, "BTC/USD": BTC };
const usd = (s: string) => parseMoney(s)!;

describe("money", () => {
  it("parses and formats decimal strings exactly", () => {
    expect(formatMoney(usd("0.1") + usd("0.2"))).toBe("0.30");
    expect(formatMoney(usd("100000"))).toBe("100000.00");
    expect(formatMoney(usd("-12.345"))).toBe("-12.345");
    expect(parseMoney("1e5")).toBeUndefined();
    expect(parseMoney("1.2.3")).toBeUndefined();
  });

  it("reads exactly the text the decimal pattern accepts, spaces around it or not", () => {
    // The definition, written as a pattern: parseMoney scans most text without it.
    const byPattern = (text: string): Money | undefined => {
      const m = /^(-)?(\d{1,20})(?:\.(\d{1,18}))?$/.exec(text.trim());
      if (!m) return undefined;
      const units = BigInt(m[2]! + (m[3] ?? "").padEnd(18, "0"));
      return m[1] ? -units : units;
    };
    const text = fc.string({ unit: fc.constantFrom("0", "1", "5", "9", ".", "-", "+", " ", "e", "\t", "\u00a0", "٣"), maxLength: 42, size: "max" });
    const digits = fc.tuple(fc.boolean(), fc.string({ unit: fc.constantFrom("0", "3", "7", "9"), maxLength: 22, size: "max" }), fc.option(fc.string({ unit: fc.constantFrom("0", "1", "8"), maxLength: 20, size: "max" })));
    const decimal = digits.map(([minus, whole, fraction]) => `${minus ? "-" : ""}${whole}${fraction === null ? "" : `.${fraction}`}`);
    fc.assert(
      fc.property(fc.oneof(text, decimal), (t) => {
        expect(parseMoney(t)).toBe(byPattern(t));
      }),
      { numRuns: 5_000 },
    );
    for (const t of ["1.", ".5", "-", "-.5", "--1", "1-", " 12.5 ", "123456789012345678901", "12345678901234567890.123456789012345678"]) expect(parseMoney(t)).toBe(byPattern(t));
  });

  it("computes notionals exactly for fractional crypto", () => {
    // 0.0003 BTC at 67,251.79 = 20.175537
    expect(formatMoney(notional(6725179, 3, BTC))).toBe("20.175537");
    // Grids asked in turn each get their own product (the last one is remembered).
    expect(formatMoney(notional(12345, 7, AAPL))).toBe("864.15");
    expect(formatMoney(notional(6725179, 3, BTC))).toBe("20.175537");
  });

  it("rounds fees half up to the cent", () => {
    expect(formatMoney(basisPoints(usd("100.00"), 25))).toBe("0.25");
    expect(formatMoney(basisPoints(usd("1.00"), 25))).toBe("0.00");
    expect(formatMoney(basisPoints(usd("2.00"), 25))).toBe("0.01");
  });

  it("round-trips any amount", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (units) => {
        expect(parseMoney(formatMoney(units, 0))).toBe(units);
      }),
    );
  });
});

describe("the ledger", () => {
  it("buys, sells at a profit, and pays fees, exactly", () => {
    let l = openLedger(usd("10000"));
    l = reserve(l, "b1", { side: "buy", symbol: "AAPL", cash: usd("1001.00"), lots: 0 });
    l = applyFill(l, { orderId: "b1", symbol: "AAPL", side: "buy", priceTicks: 10000, lots: 10, fee: usd("0.25") }, AAPL);
    l = release(l, "b1");
    expect(formatMoney(l.cash)).toBe("8999.75");
    l = reserve(l, "s1", { side: "sell", symbol: "AAPL", cash: 0n, lots: 4 });
    l = applyFill(l, { orderId: "s1", symbol: "AAPL", side: "sell", priceTicks: 11000, lots: 4, fee: usd("0.11") }, AAPL);
    l = release(l, "s1");
    expect(formatMoney(l.cash)).toBe("9439.64");
    expect(l.positions.AAPL).toMatchObject({ qty: 6, reserved: 0 });
    expect(formatMoney(l.positions.AAPL!.realizedPl)).toBe("40.00");
    expect(formatMoney(l.positions.AAPL!.costBasis)).toBe("600.00");
    expect(ledgerViolations(l)).toEqual([]);
  });

  it("refuses a buy beyond cash with ccxt's wording, and a sell beyond the position", () => {
    const l = openLedger(usd("100"));
    expect(() => reserve(l, "b", { side: "buy", symbol: "AAPL", cash: usd("100.01"), lots: 0 })).toThrow(/^insufficient balance for USD \(requested 100.01, available 100.00\)$/);
    expect(() => reserve(l, "s", { side: "sell", symbol: "AAPL", cash: 0n, lots: 1 })).toThrow(LedgerError);
  });

  it("tells without building anything what reserve would refuse: the same answer as reserve, for any ledger and reservation", () => {
    // An order's price window asks reservationShortfall at a dozen prices and reserve once.
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 50 }),
        fc.record({ side: fc.constantFrom("buy" as const, "sell" as const), cash: fc.integer({ min: 0, max: 1_100_000 }), lots: fc.integer({ min: 0, max: 60 }) }),
        fc.boolean(),
        (cents, held, promised, r, again) => {
          let l = openLedger(BigInt(cents) * 10n ** 16n + usd("100"));
          // A position of `held` lots, `promised` of them (at most) on an open sell.
          l = reserve(l, "b", { side: "buy", symbol: "AAPL", cash: usd("60"), lots: 0 });
          if (held > 0) l = applyFill(l, { orderId: "b", symbol: "AAPL", side: "buy", priceTicks: 100, lots: held, fee: 0n }, AAPL);
          l = release(l, "b");
          if (Math.min(held, promised) > 0) l = reserve(l, "s0", { side: "sell", symbol: "AAPL", cash: 0n, lots: Math.min(held, promised) });
          const id = again ? "s0" : "new";
          const reservation = { side: r.side, symbol: "AAPL", cash: BigInt(r.cash) * 10n ** 16n, lots: r.side === "buy" ? 0 : r.lots };
          const shortfall = reservationShortfall(l, id, reservation);
          let thrown: string | null = null;
          try {
            reserve(l, id, reservation);
          } catch (error) {
            thrown = (error as LedgerError).reason;
          }
          expect(shortfall).toBe(thrown);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("a sell pays its fee from what it holds for it first, so a fee above the proceeds never makes cash negative", () => {
    const coin: InstrumentSpec = { ...BTC, lotSize: "0.000000001" };
    let l = openLedger(usd("0.01"));
    l = reserve(l, "b", { side: "buy", symbol: "BTC/USD", cash: usd("0.01"), lots: 0 });
    l = applyFill(l, { orderId: "b", symbol: "BTC/USD", side: "buy", priceTicks: 100, lots: 1, fee: 0n }, coin);
    l = release(l, "b");
    // One lot at 1.00 raises 1e-9 USD; the minimum fee is a cent, which the sell must hold.
    expect(() => reserve(l, "s", { side: "sell", symbol: "BTC/USD", cash: usd("0.01"), lots: 1 })).toThrow(/to cover the order's fee/);
    l = deposit(l, usd("0.01"));
    l = reserve(l, "s", { side: "sell", symbol: "BTC/USD", cash: usd("0.01"), lots: 1 });
    l = applyFill(l, { orderId: "s", symbol: "BTC/USD", side: "sell", priceTicks: 100, lots: 1, fee: usd("0.01") }, coin);
    l = release(l, "s");
    expect(l.cash >= 0n).toBe(true);
    expect(formatMoney(l.cash)).toBe("0.01");
    expect(ledgerViolations(l)).toEqual([]);
  });

  it("reserving twice for one order is a no-op (a retried command)", () => {
    const l = reserve(openLedger(usd("100")), "b", { side: "buy", symbol: "AAPL", cash: usd("50"), lots: 0 });
    expect(reserve(l, "b", { side: "buy", symbol: "AAPL", cash: usd("50"), lots: 0 })).toBe(l);
  });

  it("an operation takes over the reservations it is given; a fork leaves the account as it stands", () => {
    // The engine checks a replace against the account without the old order's reservation,
    // and must not lose that reservation when the replace goes no further.
    let l = reserve(openLedger(usd("100")), "b", { side: "buy", symbol: "AAPL", cash: usd("60"), lots: 0 });
    const whatIf = release(forked(l), "b");
    expect([formatMoney(whatIf.cash), Object.keys(whatIf.reservations)]).toEqual(["100.00", []]);
    expect([formatMoney(l.cash), Object.keys(l.reservations)]).toEqual(["40.00", ["b"]]);
    expect(ledgerViolations(l)).toEqual([]);
    // The ledger an operation answers is the one used after it: its totals and dictionary agree.
    l = reserve(l, "c", { side: "buy", symbol: "AAPL", cash: usd("10"), lots: 0 });
    l = release(l, "b");
    expect([formatMoney(l.cash), Object.keys(l.reservations)]).toEqual(["90.00", ["c"]]);
    expect(ledgerViolations(l)).toEqual([]);
  });

  it("keeps its identity and never goes negative over random orders and fills", () => {
    type Op =
      | { kind: "buy"; symbol: string; price: number; lots: number; fills: number[]; feeBps: number }
      | { kind: "sell"; symbol: string; price: number; fraction: number; fills: number[]; feeBps: number }
      | { kind: "deposit"; cents: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("buy" as const), symbol: fc.constantFrom("AAPL", "BTC/USD"), price: fc.integer({ min: 1, max: 10_000_000 }), lots: fc.integer({ min: 1, max: 500 }), fills: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), feeBps: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant("sell" as const), symbol: fc.constantFrom("AAPL", "BTC/USD"), price: fc.integer({ min: 1, max: 10_000_000 }), fraction: fc.double({ min: 0, max: 1, noNaN: true }), fills: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }), feeBps: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant("deposit" as const), cents: fc.integer({ min: 1, max: 10_000_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let l: Ledger = openLedger(usd("100000"));
        ops.forEach((o, i) => {
          const id = `o${i}`;
          if (o.kind === "deposit") {
            l = deposit(l, BigInt(o.cents) * 10n ** 16n);
            return;
          }
          const spec = SPECS[o.symbol]!;
          const lots = o.kind === "buy" ? o.lots : Math.floor((l.positions[o.symbol]?.qty ?? 0) - (l.positions[o.symbol]?.reserved ?? 0)) * o.fraction;
          const wanted = Math.floor(lots);
          if (wanted <= 0) return;
          const worst: Money = o.kind === "buy" ? notional(o.price, wanted, spec) + basisPoints(notional(o.price, wanted, spec), o.feeBps) : 0n;
          try {
            l = reserve(l, id, { side: o.kind, symbol: o.symbol, cash: worst, lots: o.kind === "sell" ? wanted : 0 });
          } catch (error) {
            expect(error).toBeInstanceOf(LedgerError);
            return;
          }
          let left = wanted;
          let done = 0;
          for (const f of o.fills) {
            const n = Math.min(left, Math.max(1, Math.floor(wanted * f)));
            if (n <= 0) break;
            // Fees are charged on the cumulative notional, so partial fills never pay more
            // in rounding than one fill of the whole order would.
            const fee = basisPoints(notional(o.price, done + n, spec), o.feeBps) - basisPoints(notional(o.price, done, spec), o.feeBps);
            l = applyFill(l, { orderId: id, symbol: o.symbol, side: o.kind, priceTicks: o.price, lots: n, fee }, spec);
            done += n;
            left -= n;
            expect(ledgerViolations(l)).toEqual([]);
          }
          l = release(l, id);
          expect(ledgerViolations(l)).toEqual([]);
        });
        expect(l.reservedCash).toBe(0n);
      }),
    );
  });
});
