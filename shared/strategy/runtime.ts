import { decimalToNearestTicks, lotsToDecimal, ticksToNumber, type InstrumentSpec } from "../market/instrument";
import type { AccountRunner } from "../trading/account-runner";
import type { AssetInfo } from "../trading/asset";
import { formatMoney, notional, parseMoney, quantityOf, type Money } from "../trading/money";
import { isOpen, type AccountOrder } from "../trading/orders";
import type { Rule } from "../trading/outcome";
import type { AccountBook, AccountChanges } from "../trading/ports";
import { protectionPrice, worstFee, type RiskLimits } from "../trading/risk";
import type { TradeEvent } from "../trading/stream";
import type { OrderType, TimeInForce, VenueConfig } from "../venue/venue";
import { indicators, type Indicators } from "../indicators";
import { logText, orderCommand, type StrategyCommand } from "./invoke";

// The strategy runtime (docs/strategies.md): a strategy's callbacks see a context, and the
// orders they place are collected and sent through the account only after the callback
// returns, in order, so every order meets the same risk checks and reservations as an API
// order and a callback can never observe half of its own effects. Pure and deterministic:
// time is the event's, ids come from a counter, and nothing here reads the wall clock.

/** A completed bar; prices are numbers on the instrument's tick grid, `t` the bar's start. */
export interface StrategyBar {
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface StrategyTrade {
  t: number;
  price: number;
}

export interface StrategyQuote {
  t: number;
  bid: number;
  ask: number;
}

export type OrderUpdateEvent = TradeEvent;

export interface OrderUpdate {
  event: OrderUpdateEvent;
  /** The client order id `ctx.buy`/`ctx.sell` returned. */
  id: string;
  tag: string | null;
  side: "buy" | "sell";
  status: string;
  filledQty: string;
  /** On fills: this execution's price and quantity. */
  price?: number;
  qty?: string;
  /** On refusals: the rule that refused the order, and why. */
  rule?: Rule;
  message?: string;
}

export interface OrderInput {
  qty?: number | string;
  notional?: number | string;
  type?: OrderType;
  limit?: number | string;
  stop?: number | string;
  tif?: TimeInForce;
  tag?: string;
}

export interface OpenOrder {
  id: string;
  tag: string | null;
  side: "buy" | "sell";
  type: OrderType;
  qty: string | null;
  filledQty: string;
  limit: number | null;
  stop: number | null;
  status: string;
}

/** Money and quantities as exact decimal strings; prices as numbers. */
export interface PositionView {
  qty: string;
  avgPrice: number | null;
  unrealizedPl: string;
  realizedPl: string;
}

export interface AccountSummary {
  cash: string;
  buyingPower: string;
  equity: string;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type StrategyState = { [key: string]: JsonValue };

export interface StrategyContext<P = Record<string, unknown>> {
  readonly instrument: InstrumentSpec;
  readonly now: number;
  readonly params: P;
  state: StrategyState;
  readonly position: PositionView;
  readonly account: AccountSummary;
  readonly openOrders: OpenOrder[];
  buy(order: OrderInput): string;
  sell(order: OrderInput): string;
  cancel(id: string): void;
  cancelAll(): void;
  /**
   * The largest quantity (decimal string) of a market buy the account accepts now: its
   * reservation (value at the price band's edge plus the worst-case fee) fits in the cash.
   */
  maxBuyQty(): string;
  log(...parts: unknown[]): void;
  /** The streaming indicators (shared/indicators): `ctx.indicators.sma(10)` makes one to keep in `this` or a closure. */
  readonly indicators: Indicators;
}

export interface Strategy<P = Record<string, unknown>> {
  params?: P;
  onStart?(ctx: StrategyContext<P>): void;
  onBar?(bar: StrategyBar, ctx: StrategyContext<P>): void;
  onTrade?(trade: StrategyTrade, ctx: StrategyContext<P>): void;
  onQuote?(quote: StrategyQuote, ctx: StrategyContext<P>): void;
  onOrderUpdate?(update: OrderUpdate, ctx: StrategyContext<P>): void;
  onStop?(ctx: StrategyContext<P>): void;
}

export interface LogLine {
  t: number;
  text: string;
}

/** The log is shown to the owner: bounded in lines and in characters per line. */
export const LOG_LINES = 1000;
export const LOG_LINE_CHARS = 500;
/** A strategy that answers every update with a new order must not spin forever. */
const MAX_ROUNDS = 10_000;

type Command = StrategyCommand;

export interface RuntimeDeps {
  runner: AccountRunner;
  book: AccountBook;
  asset: AssetInfo;
  venue: VenueConfig;
  limits: RiskLimits;
  now: () => number;
}

/**
 * One rule for grids: a price rounds to the nearest tick (half up), a quantity down to the
 * lot grid, a notional down to the cent. Numbers go through their shortest decimal text.
 */
export function roundPrice(value: number | string, spec: InstrumentSpec): number {
  return decimalToNearestTicks(decimalText(value), spec) ?? 0;
}

export function floorLots(value: number | string, spec: InstrumentSpec): number {
  const amount = parseMoney(decimalText(value));
  if (amount === undefined || amount <= 0n) return 0;
  return Number(amount / quantityOf(1, spec));
}

export function floorCents(value: number | string): Money {
  const amount = parseMoney(decimalText(value));
  if (amount === undefined || amount <= 0n) return 0n;
  const cent = 10n ** 16n;
  return (amount / cent) * cent;
}

/** A number's shortest decimal text (what String gives), with "1e-7" written out in plain digits. */
function decimalText(value: number | string): string {
  if (typeof value === "string") return value.trim();
  if (!Number.isFinite(value)) return "";
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, lead, rest = "", exp] = match;
  const digits = lead! + rest;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  return `${sign}${digits.padEnd(point, "0").slice(0, point)}${digits.length > point ? `.${digits.slice(point)}` : ""}`;
}

export class StrategyRuntime<P = Record<string, unknown>> {
  readonly params: P;
  state: StrategyState = {};
  readonly logs: LogLine[] = [];
  droppedLogLines = 0;
  #commands: Command[] = [];
  #updates: OrderUpdate[] = [];
  readonly #tags = new Map<string, string | null>();
  #nextId = 0;
  /** The last trade the strategy's symbol printed, in ticks: what the account prices against. */
  #lastTicks: number | null = null;
  readonly #ctx: StrategyContext<P>;
  readonly #spec: InstrumentSpec;

  constructor(
    private readonly strategy: Strategy<P>,
    private readonly deps: RuntimeDeps,
    params: Partial<P> = {},
  ) {
    this.params = { ...(strategy.params ?? ({} as P)), ...params } as P;
    this.#spec = deps.asset.spec;
    this.#ctx = this.#context();
  }

  /** The account's committed changes, wired to the runner's `committed` hook: their trade updates become onOrderUpdate calls. */
  committed(changes: AccountChanges): void {
    for (const u of changes.tradeUpdates) {
      const o = u.data.order;
      if (o.symbol !== this.#spec.symbol || !this.#tags.has(o.client_order_id)) continue;
      this.#updates.push({
        event: u.data.event,
        id: o.client_order_id,
        tag: this.#tags.get(o.client_order_id) ?? null,
        side: o.side,
        status: o.status,
        filledQty: o.filled_qty,
        ...(u.data.price !== undefined && { price: Number(u.data.price), qty: u.data.qty! }),
      });
    }
  }

  /** A print the symbol made (the account prices market orders against the last one). */
  printed(priceTicks: number): void {
    this.#lastTicks = priceTicks;
  }

  async start(): Promise<void> {
    await this.#run(this.strategy.onStart && ((ctx) => this.strategy.onStart!(ctx)));
  }

  async bar(bar: StrategyBar): Promise<void> {
    await this.#run(this.strategy.onBar && ((ctx) => this.strategy.onBar!(bar, ctx)));
  }

  get wantsTrades(): boolean {
    return this.strategy.onTrade !== undefined;
  }

  get wantsQuotes(): boolean {
    return this.strategy.onQuote !== undefined;
  }

  async trade(trade: StrategyTrade): Promise<void> {
    await this.#run(this.strategy.onTrade && ((ctx) => this.strategy.onTrade!(trade, ctx)));
  }

  async quote(quote: StrategyQuote): Promise<void> {
    await this.#run(this.strategy.onQuote && ((ctx) => this.strategy.onQuote!(quote, ctx)));
  }

  async stop(): Promise<void> {
    await this.#run(this.strategy.onStop && ((ctx) => this.strategy.onStop!(ctx)));
  }

  /** Runs a callback, then sends what it placed and answers the updates that come back. */
  async #run(callback: ((ctx: StrategyContext<P>) => void) | undefined): Promise<void> {
    if (callback) callback(this.#ctx);
    await this.flush();
  }

  /**
   * onBar without sending: a backtest holds the bar's orders until the next bar opens
   * (then `flush` sends them), because the venue's quote is still the close's until then.
   */
  barHolding(bar: StrategyBar): void {
    this.strategy.onBar?.(bar, this.#ctx);
  }

  /** onStop without sending: a backtest ends at the last close, where nothing more can trade. */
  stopHolding(): void {
    this.strategy.onStop?.(this.#ctx);
  }

  /** Drops the orders collected but not sent (and the updates not delivered); answers how many orders were dropped. */
  discard(): number {
    const orders = this.#commands.filter((c) => c.kind === "place" || c.kind === "refuse").length;
    this.#commands = [];
    this.#updates = [];
    return orders;
  }

  /** Sends the collected commands, in order, then delivers the updates they caused (whose own orders are sent in turn). */
  async flush(): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.#commands.length === 0 && this.#updates.length === 0) return;
      const commands = this.#commands;
      this.#commands = [];
      for (const command of commands) await this.#send(command);
      const updates = this.#updates;
      this.#updates = [];
      for (const update of updates) this.strategy.onOrderUpdate?.(update, this.#ctx);
    }
    throw new Error(`strategy did not settle after ${MAX_ROUNDS} rounds of orders and updates`);
  }

  async #send(command: Command): Promise<void> {
    const { runner, asset } = this.deps;
    switch (command.kind) {
      case "place": {
        const outcome = await runner.place(command.fields, asset, null);
        if (!outcome.ok) this.#updates.push({ event: "rejected", id: command.id, tag: command.tag, side: command.fields.side, status: "rejected", filledQty: "0", rule: outcome.refusal.rule, message: outcome.refusal.message });
        return;
      }
      case "refuse":
        this.#updates.push({ event: "rejected", id: command.id, tag: command.tag, side: command.side, status: "rejected", filledQty: "0", rule: "invalid_order", message: command.message });
        return;
      case "cancel": {
        const order = this.deps.book.orderByClientId(command.id);
        if (order && isOpen(order.status)) await runner.cancel(order.id);
        return;
      }
      case "cancelAll":
        await runner.cancelAll();
        return;
      default: {
        const never: never = command;
        throw new Error(`unknown command ${JSON.stringify(never)}`);
      }
    }
  }

  #order(side: "buy" | "sell", input: OrderInput): string {
    const id = `strategy-${++this.#nextId}`;
    this.#tags.set(id, input.tag ?? null);
    this.#commands.push(orderCommand(side, input, this.#spec, id));
    return id;
  }

  #maxBuyQty(): string {
    const spec = this.#spec;
    if (this.#lastTicks === null) return "0";
    const cash = this.deps.runner.engine.ledger.cash;
    const cap = protectionPrice("buy", this.#lastTicks, this.deps.limits.priceBandPct);
    const cost = (lots: number) => {
      const value = notional(cap, lots, spec);
      return value + worstFee(this.deps.venue, value);
    };
    // The reservation grows with the quantity: binary search for the largest that fits.
    let lo = 0;
    let hi = Number((cash / notional(cap, 1, spec)) as bigint) + 1;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (cost(mid) <= cash) lo = mid;
      else hi = mid - 1;
    }
    return lotsToDecimal(lo, spec);
  }

  #position(): PositionView {
    const spec = this.#spec;
    const p = this.deps.runner.engine.ledger.positions[spec.symbol];
    if (!p || p.qty === 0) return { qty: "0", avgPrice: null, unrealizedPl: "0", realizedPl: formatMoney(p?.realizedPl ?? 0n) };
    const value = this.#lastTicks === null ? p.costBasis : notional(this.#lastTicks, p.qty, spec);
    const qty = quantityOf(p.qty, spec);
    return {
      qty: lotsToDecimal(p.qty, spec),
      avgPrice: Number(formatMoney((p.costBasis * 10n ** 18n) / qty, 2)),
      unrealizedPl: formatMoney(value - p.costBasis),
      realizedPl: formatMoney(p.realizedPl),
    };
  }

  #account(): AccountSummary {
    const ledger = this.deps.runner.engine.ledger;
    const p = ledger.positions[this.#spec.symbol];
    const held = p && p.qty > 0 ? (this.#lastTicks === null ? p.costBasis : notional(this.#lastTicks, p.qty, this.#spec)) : 0n;
    return { cash: formatMoney(ledger.cash + ledger.reservedCash), buyingPower: formatMoney(ledger.cash), equity: formatMoney(ledger.cash + ledger.reservedCash + held) };
  }

  #openOrders(): OpenOrder[] {
    const spec = this.#spec;
    return this.deps.book
      .openOrders()
      .filter((o: AccountOrder) => o.spec.symbol === spec.symbol && this.#tags.has(o.clientOrderId))
      .map((o) => ({
        id: o.clientOrderId,
        tag: this.#tags.get(o.clientOrderId) ?? null,
        side: o.side,
        type: o.type,
        qty: o.qty === null ? null : lotsToDecimal(o.qty, spec),
        filledQty: lotsToDecimal(o.filledQty, spec),
        limit: o.limit === null ? null : ticksToNumber(o.limit, spec),
        stop: o.stop === null ? null : ticksToNumber(o.stop, spec),
        status: o.status,
      }));
  }

  #log(parts: unknown[]): void {
    if (this.logs.length >= LOG_LINES) {
      this.droppedLogLines += 1;
      return;
    }
    this.logs.push({ t: this.deps.now(), text: logText(parts) });
  }

  #context(): StrategyContext<P> {
    const ctx = {
      instrument: this.#spec,
      params: this.params,
      buy: (order: OrderInput) => this.#order("buy", order),
      sell: (order: OrderInput) => this.#order("sell", order),
      cancel: (id: string) => void this.#commands.push({ kind: "cancel", id }),
      cancelAll: () => void this.#commands.push({ kind: "cancelAll" }),
      maxBuyQty: () => this.#maxBuyQty(),
      log: (...parts: unknown[]) => this.#log(parts),
      indicators,
    };
    // Live views: each read answers the account as it is now.
    return Object.defineProperties(ctx, {
      now: { get: () => this.deps.now(), enumerable: true },
      state: { get: () => this.state, set: (value: StrategyState) => (this.state = value), enumerable: true },
      position: { get: () => this.#position(), enumerable: true },
      account: { get: () => this.#account(), enumerable: true },
      openOrders: { get: () => this.#openOrders(), enumerable: true },
    }) as unknown as StrategyContext<P>;
  }
}
