import { decimalToNearestTicks, ticksOnGrid, type InstrumentSpec } from "../market/instrument";
import { parseMoney, quantityOf, type Money } from "../trading/money";
import type { Rule } from "../trading/outcome";
import type { TradeEvent, TradeUpdate } from "../trading/stream";
import type { OrderType, TimeInForce } from "../venue/venue";
import type { Indicators } from "../indicators";
import { after, inTurn, isPending, type MaybePromise } from "../maybe";
import type { InvokeRequest, InvokeResult, StrategyCallback, StrategyCommand, StrategyView } from "./invoke";

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
  /** trailing_stop: the stop trails the mark by this price (rounded to the tick)… */
  trailPrice?: number | string;
  /** …or by this percent of it. */
  trailPercent?: number | string;
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
  /** The part of `qty` no open sell holds: what a new sell may still sell. */
  qtyAvailable: string;
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
   * reservation (value at the price band's edge plus the worst-case fee) fits in the cash,
   * and it is within the account's order and position limits at the last trade.
   */
  maxBuyQty(): string;
  /**
   * The largest quantity (decimal string) of a market sell the account accepts now: the
   * position no open sell holds (the order size limits judge buys only).
   */
  maxSellQty(): string;
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

/**
 * A log line as the host keeps it, checked again on this side: sandboxed code can patch its
 * own isolate's built-ins (String.prototype.slice) to get past the cut the invoker makes there,
 * and the time it reports is bounded to one a Date holds.
 */
export function hostLine(line: LogLine): LogLine {
  const text = typeof line.text === "string" ? line.text : String(line.text);
  // A time a Date can hold (a NaN or 1e300 from the sandbox would make no timestamp): else 0.
  const t = typeof line.t === "number" && Math.abs(line.t) <= MAX_DATE_MS ? line.t : 0;
  if (text.length <= LOG_LINE_CHARS && text === line.text && t === line.t) return line;
  return { t, text: text.length > LOG_LINE_CHARS ? `${text.slice(0, LOG_LINE_CHARS - 1)}…` : text };
}
/** The largest time a Date holds, in ms either side of 1970. */
const MAX_DATE_MS = 8.64e15;
/** A strategy that answers every update with a new order must not spin forever. */
const MAX_ROUNDS = 10_000;

/** Where a runtime's strategy reads its account and sends its orders: in-process in a backtest, the account object live. */
export interface StrategyPort {
  /** The account as the strategy may see it now (an in-process port may answer with lazy getters). */
  view(): StrategyView | Promise<StrategyView>;
  /** Sends one command; a refused order answers why. Updates it causes come back through `committed`. */
  send(command: StrategyCommand): MaybePromise<{ rule: Rule; message: string } | null>;
}

/** Runs one callback: invokeStrategy in-process, or the same inside the sandbox. */
export type Invoker = (request: InvokeRequest) => InvokeResult | Promise<InvokeResult>;

/** What a strategy remembers between callbacks: persisted live after every callback. */
export interface StrategyMemory {
  state: StrategyState;
  /** The last order number used: ids are `${idPrefix}${n}`. */
  nextId: number;
  /** The tag of each order the strategy placed that is not yet final. */
  tags: Record<string, string | null>;
}

export interface RuntimeOptions {
  invoke: Invoker;
  port: StrategyPort;
  spec: InstrumentSpec;
  params: Record<string, unknown>;
  /** The callbacks the strategy defines (others are not invoked). */
  callbacks: ReadonlySet<StrategyCallback>;
  idPrefix: string;
  /** The current event's time (ctx.now). */
  now: () => number;
  memory?: StrategyMemory;
  /**
   * Checks the state a callback leaves (a live host stores it after every callback): a
   * problem fails the callback, which then places nothing and leaves the state it found.
   * Backtests check only the state a run ends with (stateProblem), not every bar's.
   */
  checkState?: (state: StrategyState) => string | null;
}

/** The most a strategy's state may take as JSON: it is stored after every live callback. */
export const MAX_STATE_BYTES = 1024 * 1024;

/** Why `state` cannot be a strategy's state (not a JSON object, or too large), or null. */
export function stateProblem(state: unknown): string | null {
  const checked = stateJson(state);
  return "problem" in checked ? checked.problem : null;
}

/**
 * The JSON a strategy's state is stored as, or why it cannot be a strategy's state: the
 * check is the serialization, so a live host that checks a callback's state stores that
 * text rather than serializing the state again (`memoryJson`).
 */
export function stateJson(state: unknown): { json: string } | { problem: string } {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return { problem: "ctx.state must be a plain object" };
  let json: string | undefined;
  try {
    json = JSON.stringify(state);
  } catch (error) {
    return { problem: `ctx.state must be JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  // UTF-8 takes at most three bytes per UTF-16 unit: most states are measured by their length alone.
  const bytes = json.length * 3 <= MAX_STATE_BYTES ? json.length : new TextEncoder().encode(json).length;
  return bytes > MAX_STATE_BYTES ? { problem: `ctx.state is ${bytes} bytes as JSON; at most ${MAX_STATE_BYTES} are kept` } : { json };
}

/** A state and the JSON its check made of it (`stateJson`), while nothing has changed it since. */
export interface CheckedState {
  state: StrategyState;
  json: string;
}

/**
 * `JSON.stringify(memory)`, with the state's text taken from its check when `checked` is of
 * the state the memory holds: a state of up to a megabyte is serialized once per event
 * rather than twice. The caller vouches that nothing changed the state since its check.
 */
export function memoryJson(memory: StrategyMemory, checked: CheckedState | null): string {
  if (checked === null || checked.state !== memory.state) return JSON.stringify(memory);
  const { state: _state, ...rest } = memory;
  const others = JSON.stringify(rest);
  return others === "{}" ? `{"state":${checked.json}}` : `{"state":${checked.json},${others.slice(1)}`;
}

/** A callback's state refused by RuntimeOptions.checkState: the callback failed. */
export class StrategyStateError extends Error {
  override name = "StrategyStateError";
}

const FINAL_EVENTS = new Set<OrderUpdateEvent>(["fill", "canceled", "expired", "rejected", "replaced"]);

/**
 * One rule for grids: a price rounds to the nearest tick (half up), a quantity down to the
 * lot grid, a notional down to the cent. Numbers go through their shortest decimal text.
 */
export function roundPrice(value: number | string, spec: InstrumentSpec): number {
  // A number already on the grid (every bar price is) converts without its text.
  const onGrid = typeof value === "number" ? ticksOnGrid(value, spec) : undefined;
  return onGrid ?? decimalToNearestTicks(decimalText(value), spec) ?? 0;
}

/**
 * What is wrong with an amount a strategy gave (a qty, a notional), before any rounding:
 * not a number at all, or too large to be one an order could carry; null if neither.
 */
export function amountProblem(value: number | string, spec: InstrumentSpec, kind: "qty" | "notional" = "qty"): "not_a_number" | "too_large" | null {
  const text = decimalText(value);
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(text)) return "not_a_number";
  const whole = text.replace(/^-/, "").split(".")[0]!.replace(/^0+/, "");
  // Past 20 digits money cannot hold it; past 2^53 lots a quantity cannot be counted (a
  // notional is money, not lots: only the first bound applies to it).
  if (whole.length > 20) return "too_large";
  if (kind === "notional") return null;
  const amount = parseMoney(text);
  return amount !== undefined && amount / quantityOf(1, spec) > BigInt(Number.MAX_SAFE_INTEGER) ? "too_large" : null;
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

/** The callbacks a strategy object defines. */
export function callbacksOf(strategy: Strategy): Set<StrategyCallback> {
  const names: StrategyCallback[] = ["onStart", "onBar", "onTrade", "onQuote", "onOrderUpdate", "onStop"];
  return new Set(names.filter((n) => typeof strategy[n] === "function"));
}

/** A trade update of one of the strategy's orders, as onOrderUpdate receives it. */
export function orderUpdateOf(update: TradeUpdate, tag: string | null): OrderUpdate {
  const o = update.data.order;
  const { event, price } = update.data;
  // Two literals rather than a conditional spread, which V8 copies slowly.
  if (price === undefined) return { event, id: o.client_order_id, tag, side: o.side, status: o.status, filledQty: o.filled_qty };
  return { event, id: o.client_order_id, tag, side: o.side, status: o.status, filledQty: o.filled_qty, price: Number(price), qty: update.data.qty! };
}

/**
 * Drives one strategy: runs its callbacks through the invoker against the port's view,
 * then sends what each placed, in order, and answers the updates that come back until
 * nothing more is placed. The same class runs backtests (in-process port) and live
 * strategies (the account object's port); only the port and the invoker differ.
 */
export class StrategyRuntime {
  memory: StrategyMemory;
  /** Log lines not yet taken by `takeLogs` (a backtest takes them at the end). */
  logs: LogLine[] = [];
  droppedLogLines = 0;
  /** Callbacks of the strategy run so far (those it does not define are not run, nor counted). */
  invocations = 0;
  /** Orders refused so far, by the runtime's own checks or by the account's. */
  refusedOrders = 0;
  #commands: StrategyCommand[] = [];
  #updates: OrderUpdate[] = [];

  constructor(private readonly o: RuntimeOptions) {
    this.memory = o.memory ?? { state: {}, nextId: 0, tags: {} };
  }

  get state(): StrategyState {
    return this.memory.state;
  }

  get wantsTrades(): boolean {
    return this.o.callbacks.has("onTrade");
  }

  get wantsQuotes(): boolean {
    return this.o.callbacks.has("onQuote");
  }

  /** The account's trade updates; those of the strategy's own orders become onOrderUpdate calls. */
  committed(updates: readonly TradeUpdate[]): void {
    const { tags } = this.memory;
    for (const u of updates) {
      const o = u.data.order;
      if (o.symbol !== this.o.spec.symbol || !(o.client_order_id in tags)) continue;
      this.#updates.push(orderUpdateOf(u, tags[o.client_order_id] ?? null));
    }
  }

  async start(): Promise<void> {
    await this.#invoke("onStart", null);
    await this.flush();
  }

  async bar(bar: StrategyBar): Promise<void> {
    await this.#invoke("onBar", bar);
    await this.flush();
  }

  async trade(trade: StrategyTrade): Promise<void> {
    await this.#invoke("onTrade", trade);
    await this.flush();
  }

  async quote(quote: StrategyQuote): Promise<void> {
    await this.#invoke("onQuote", quote);
    await this.flush();
  }

  async stop(): Promise<void> {
    await this.#invoke("onStop", null);
    await this.flush();
  }

  /**
   * onBar without sending: a backtest holds the bar's orders until the next bar opens
   * (then `flush` sends them), because the venue's quote is still the close's until then.
   */
  barHolding(bar: StrategyBar): void | Promise<void> {
    return this.#invoke("onBar", bar);
  }

  /** onStop without sending: a backtest ends at the last close, where nothing more can trade. */
  async stopHolding(): Promise<void> {
    await this.#invoke("onStop", null);
  }

  /**
   * Forgets an order's tag: on its last update, when it is dropped unsent, and, for a caller
   * that builds no updates (a backtest whose strategy has no onOrderUpdate), when the order
   * is handed over.
   */
  forget(clientOrderId: string): void {
    delete this.memory.tags[clientOrderId];
  }

  /** Commands collected and not yet sent (a live strategy persists them with its memory). */
  get held(): readonly StrategyCommand[] {
    return this.#commands;
  }

  /** Restores commands held before a restart. */
  hold(commands: readonly StrategyCommand[]): void {
    this.#commands.push(...commands);
  }

  /**
   * Drops the commands collected but not sent, except those `keep` answers true for (a
   * live host keeps what completed callbacks held, a bar's orders, when a later callback
   * fails before they go out), and the updates not delivered. Answers how many orders
   * were dropped.
   */
  discard(keep: (command: StrategyCommand) => boolean = () => false): number {
    const dropped = this.#commands.filter((c) => !keep(c));
    this.#commands = this.#commands.filter(keep);
    const orders = dropped.filter((c) => c.kind === "place" || c.kind === "refuse");
    for (const c of orders) this.forget(c.id);
    this.#updates = [];
    return orders.length;
  }

  /**
   * Sends the collected commands, in order, then delivers the updates they caused (whose
   * own orders are sent in turn). Answers at once while the port and the invoker do (a
   * backtest's), a promise from the first step that gives one.
   */
  flush(): void | Promise<void> {
    return this.#flushFrom(0);
  }

  #flushFrom(round: number): void | Promise<void> {
    for (; round < MAX_ROUNDS; round++) {
      if (this.#commands.length === 0 && this.#updates.length === 0) return;
      const commands = this.#commands;
      this.#commands = [];
      const next = round + 1;
      const sending = inTurn(commands, this.#send);
      if (isPending(sending)) return sending.then(() => this.#deliverUpdates()).then(() => this.#flushFrom(next));
      const delivering = this.#deliverUpdates();
      if (isPending(delivering)) return delivering.then(() => this.#flushFrom(next));
    }
    throw new Error(`strategy did not settle after ${MAX_ROUNDS} rounds of orders and updates`);
  }

  /** Delivers the updates collected so far, one callback after another. */
  #deliverUpdates(): void | Promise<void> {
    const updates = this.#updates;
    if (updates.length === 0) return;
    this.#updates = [];
    return inTurn(updates, this.#deliver);
  }

  readonly #deliver = (update: OrderUpdate): void | Promise<void> => {
    if (FINAL_EVENTS.has(update.event)) this.forget(update.id);
    return this.#invoke("onOrderUpdate", update);
  };

  readonly #send = (command: StrategyCommand): MaybePromise<void> => {
    if (command.kind === "refuse") {
      this.#updates.push({ event: "rejected", id: command.id, tag: command.tag, side: command.side, status: "rejected", filledQty: "0", rule: "invalid_order", message: command.message });
      this.#refused(command.id, command.tag, "invalid_order", command.message);
      return;
    }
    return after(this.o.port.send(command), (refusal) => {
      if (refusal && command.kind === "place") {
        this.#updates.push({ event: "rejected", id: command.id, tag: command.tag, side: command.fields.side, status: "rejected", filledQty: "0", rule: refusal.rule, message: refusal.message });
        this.#refused(command.id, command.tag, refusal.rule, refusal.message);
      }
    });
  };

  /**
   * A refused order is also a line of the strategy's log: its owner reads the log (the live
   * tail, a backtest's result), and a strategy that does not listen to its updates would
   * otherwise lose its orders without a word.
   */
  #refused(id: string, tag: string | null | undefined, rule: string, message: string): void {
    this.refusedOrders += 1;
    const text = `order ${id}${tag ? ` "${tag}"` : ""} refused (${rule}): ${message}`;
    if (this.logs.length >= LOG_LINES) this.droppedLogLines += 1;
    else this.logs.push(hostLine({ t: this.o.now(), text }));
  }

  /**
   * Runs one callback. In-process ports and invokers answer at once, and then so does this:
   * a promise only when the view or the invoker gave one. A backtest runs a callback a bar,
   * and the promises and microtasks of an async call were most of a quiet bar's cost.
   */
  #invoke(callback: StrategyCallback, event: unknown): void | Promise<void> {
    if (!this.o.callbacks.has(callback)) return;
    this.invocations += 1;
    const view = this.o.port.view();
    return isPending(view) ? Promise.resolve(view).then((v) => this.#run(callback, event, v)) : this.#run(callback, event, view);
  }

  /**
   * The request, one object written again for each callback (a backtest calls one a bar):
   * an invoker reads it during the call (the sandbox's RPC copies it as it is sent), and
   * callbacks never overlap.
   */
  #request: InvokeRequest | null = null;

  #run(callback: StrategyCallback, event: unknown, view: StrategyView): void | Promise<void> {
    const { memory } = this;
    const request = (this.#request ??= {
      callback,
      event,
      instrument: this.o.spec,
      params: this.o.params,
      state: memory.state,
      view,
      now: 0,
      idPrefix: this.o.idPrefix,
      nextId: 0,
    } as InvokeRequest);
    request.callback = callback;
    request.event = event as null;
    request.params = this.o.params;
    request.state = memory.state;
    request.view = view;
    request.now = this.o.now();
    request.nextId = memory.nextId;
    const result = this.o.invoke(request);
    return isPending(result) ? Promise.resolve(result).then((r) => this.#take(r)) : this.#take(result);
  }

  #take(result: InvokeResult): void {
    const { memory } = this;
    const problem = this.o.checkState?.(result.state);
    if (problem) throw new StrategyStateError(problem);
    memory.state = result.state;
    memory.nextId = result.nextId;
    // Index loops, no spread: a bar's callback usually places nothing, and a spread call
    // costs even then; its empty lists are shared frozen arrays, which for…of iterates
    // through an allocated iterator.
    const { commands, logs } = result;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i]!;
      if (c.kind === "place" || c.kind === "refuse") memory.tags[c.id] = c.tag;
      this.#commands.push(c);
    }
    for (let i = 0; i < logs.length; i++) {
      if (this.logs.length >= LOG_LINES) this.droppedLogLines += 1;
      else this.logs.push(hostLine(logs[i]!));
    }
  }

  /** Keeps the lines a failed callback logged before it threw (failedCallbackLogs), as a completed one's are. */
  keepLogs(lines: readonly LogLine[]): void {
    for (let i = 0; i < lines.length; i++) {
      if (this.logs.length >= LOG_LINES) this.droppedLogLines += 1;
      else this.logs.push(hostLine(lines[i]!));
    }
  }

  /** Takes the log lines collected so far (a live host stores them and sends them to the owner). */
  takeLogs(): LogLine[] {
    const lines = this.logs;
    this.logs = [];
    return lines;
  }
}
