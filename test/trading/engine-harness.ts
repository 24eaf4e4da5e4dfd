import { expect } from "vitest";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { decimalToLots, decimalToTicks } from "../../shared/market/instrument";
import { AccountEngine } from "../../shared/trading/account-engine";
import { AccountRunner } from "../../shared/trading/account-runner";
import type { AssetInfo } from "../../shared/trading/asset";
import type { TradingConfig } from "../../shared/trading/config";
import { ledgerViolations } from "../../shared/trading/ledger";
import { InProcessVenues, MemoryBook, type VenueFault } from "../../shared/trading/memory";
import { notional, parseMoney, type Money } from "../../shared/trading/money";
import { isOpen, type OrderRequestFields } from "../../shared/trading/orders";
import type { AccountChanges } from "../../shared/trading/ports";
import type { TradeUpdate } from "../../shared/trading/stream";
import { DEFAULT_LIMITS, type RiskLimits } from "../../shared/trading/risk";
import { DEFAULT_VENUE, type VenueConfig } from "../../shared/venue/venue";

// One account on the AccountEngine with in-process venues and a MemoryBook, on a clock the
// test moves: the whole order path in memory, with crashes (drop the engine, rebuild it from
// the book) and lost venue calls injected where a test asks.

export const usd = (text: string): Money => parseMoney(text)!;

export class Crash extends Error {}

export interface HarnessOptions {
  /** Ids from crypto.randomUUID, as the account object draws them, instead of a counter. */
  randomIds?: boolean;
  venue?: Partial<VenueConfig>;
  limits?: Partial<RiskLimits>;
  cash?: string;
  specs?: InstrumentSpec[];
  start?: number;
  /** How long a symbol's price stays fresh after its last quote or trade; absent, always. */
  staleAfterMs?: number;
  /** Whether the account holds venue answers' prices for its next orders (true, as the account object does). */
  heldPrices?: boolean;
  /** Whether the engine builds its domain events (true, as the account object's does; a backtest's does not). */
  events?: boolean;
  /** Whether the engine builds trade updates (true, as the account object's does; a backtest's whose strategy does not listen does not). */
  tradeUpdates?: boolean;
  /** Whether a FILL activity keeps its FillRecord instead of its view (a backtest's engine does). */
  fillRecords?: boolean;
}

export const STOCK: InstrumentSpec = { symbol: "AAA", assetClass: "us_equity", tickSize: "0.01", lotSize: "1", timeZone: "America/New_York" };
export const COIN: InstrumentSpec = { symbol: "CCC/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.000000001", timeZone: "UTC" };

export function harness(options: HarnessOptions = {}) {
  let clock = options.start ?? Date.UTC(2026, 0, 6, 15, 0, 0);
  let ids = 0;
  const now = () => clock;
  // Counted ids sort in the order made; random ones (the objects') do not.
  const newId = options.randomIds ? () => crypto.randomUUID() : () => `00000000-0000-4000-8000-${(++ids).toString().padStart(12, "0")}`;
  const config: TradingConfig = {
    startingCash: usd(options.cash ?? "100000"),
    limits: { ...DEFAULT_LIMITS, ordersPerMinute: 100_000, ...options.limits },
    venue: { ...DEFAULT_VENUE, ...options.venue },
  };
  let fault: (call: "submit" | "cancel", symbol: string) => VenueFault = () => null;
  // Answered a turn later, as the symbol objects answer the account's: concurrent commands interleave as they would there.
  const venues = new InProcessVenues({ now, config: config.venue, fault: (call, symbol) => fault(call, symbol), staleAfterMs: options.staleAfterMs, answerLater: true });
  const specs = options.specs ?? [STOCK];
  for (const spec of specs) venues.add(spec);
  const book = new MemoryBook();
  const owner = "trader-1";
  let crashAfterCommit: ((changes: AccountChanges) => boolean) | undefined;
  /** Trade updates the account's commits carried. */
  let tradeUpdates = 0;
  const updates: TradeUpdate[] = [];
  const build = () =>
    new AccountRunner(book, venues, () => new AccountEngine(book, { owner, now, newId, config, events: options.events, tradeUpdates: options.tradeUpdates, fillRecords: options.fillRecords }), {
      committed: (changes) => {
        tradeUpdates += changes.tradeUpdates.length;
        updates.push(...changes.tradeUpdates);
        if (crashAfterCommit?.(changes)) throw new Crash("crash after commit");
      },
    }, options.heldPrices === false ? {} : { now });
  let runner = build();
  const assets = new Map<string, AssetInfo>(specs.map((spec) => [spec.symbol, { id: `asset-${spec.symbol}`, spec, tradable: true, active: true, session: null }]));

  const h = {
    book,
    venues,
    config,
    owner,
    get tradeUpdates() {
      return tradeUpdates;
    },
    /** The trade updates themselves, in the order committed. */
    updates,
    get runner() {
      return runner;
    },
    get engine() {
      return runner.engine;
    },
    now,
    advance(ms: number) {
      clock += ms;
    },
    set clock(t: number) {
      clock = t;
    },
    asset: (symbol = specs[0]!.symbol) => assets.get(symbol)!,
    setFault(f: typeof fault) {
      fault = f;
    },
    crashBeforeCommit(when: ((changes: AccountChanges) => boolean) | undefined) {
      book.beforeCommit = when
        ? (changes) => {
            if (when(changes)) throw new Crash("crash before commit");
          }
        : undefined;
    },
    crashAfterCommit(when: ((changes: AccountChanges) => boolean) | undefined) {
      crashAfterCommit = when;
    },
    /** The process dies: memory is gone, the book stays; the next incarnation resends what is owed. */
    restart() {
      runner = build();
    },
    place(fields: Partial<OrderRequestFields> & Pick<OrderRequestFields, "side">, symbol = specs[0]!.symbol) {
      return runner.place({ type: "market", time_in_force: "gtc", ...fields }, assets.get(symbol)!, null);
    },
    async quote(bid: string, ask: string, size = "100", symbol = specs[0]!.symbol) {
      const spec = assets.get(symbol)!.spec;
      venues.quote(symbol, { t: clock, bidTicks: decimalToTicks(bid, spec)!, askTicks: decimalToTicks(ask, spec)!, bidLots: decimalToLots(size, spec)!, askLots: decimalToLots(size, spec)! });
      await h.deliver();
    },
    async trade(price: string, symbol = specs[0]!.symbol) {
      venues.trade(symbol, { t: clock, priceTicks: decimalToTicks(price, assets.get(symbol)!.spec)! });
      await h.deliver();
    },
    /** What each symbol object's alarm does: push unacknowledged reports to the account. */
    async deliver() {
      for (const { symbol, account } of venues.undelivered()) {
        // A push carries the symbol's price, as the symbol object's does.
        const applied = await runner.venueReports(symbol, venues.pending(symbol, account), null, venues.price(symbol));
        venues.acknowledge(symbol, account, applied);
      }
    },
    /** The retry alarm, then report delivery, until nothing is owed either way. */
    async recover() {
      for (let i = 0; i < 10; i++) {
        const owed = await runner.resend();
        await h.deliver();
        if (!owed && venues.undelivered().length === 0) return;
      }
    },
    /**
     * The account against the venues' own fill logs, exactly: every venue fill applied once
     * (by execution id), cash and positions what those fills say, reservations held for open
     * orders only, and the ledger's identity.
     */
    reconcile() {
      const state = book.state()!;
      const ledger = state.ledger;
      expect(ledgerViolations(ledger)).toEqual([]);
      const venueFills = venues.fills().filter((f) => f.account === owner);
      const accountFills = book.activities({ types: ["FILL"], after: null, until: null, direction: "asc", pageSize: 1_000_000, pageToken: null });
      const applied = accountFills.map((a) => a.data.execution_id as string);
      expect(new Set(applied).size, "an execution was applied twice").toBe(applied.length);
      expect(new Set(applied), "venue fills ≠ account fills").toEqual(new Set(venueFills.map((f) => f.executionId)));
      let buys = 0n;
      let sells = 0n;
      let fees = 0n;
      const lots = new Map<string, number>();
      for (const f of venueFills) {
        const order = book.order(f.orderId)!;
        const value = notional(f.price, f.qty, order.spec);
        if (order.side === "buy") buys += value;
        else sells += value;
        fees += BigInt(f.fee);
        lots.set(order.spec.symbol, (lots.get(order.spec.symbol) ?? 0) + (order.side === "buy" ? f.qty : -f.qty));
      }
      expect(ledger.buys).toBe(buys);
      expect(ledger.sells).toBe(sells);
      expect(ledger.fees).toBe(fees);
      expect(ledger.cash + ledger.reservedCash).toBe(ledger.deposits - fees - buys + sells);
      expect(ledger.cash >= 0n, "negative cash").toBe(true);
      for (const [symbol, qty] of lots) expect(ledger.positions[symbol]?.qty ?? 0, symbol).toBe(qty);
      const open = new Set(book.openOrders().filter((o) => isOpen(o.status)).map((o) => o.id));
      expect(new Set(Object.keys(ledger.reservations))).toEqual(open);
    },
  };
  return h;
}

export type Harness = ReturnType<typeof harness>;
