import { decimalToLots, lotsToDecimal, ticksToDecimal, type InstrumentSpec } from "../market/instrument";
import { indicators } from "../indicators";
import { formatMoney } from "../trading/money";
import type { OrderRequestFields } from "../trading/orders";
import { isPending } from "../maybe";
import { amountProblem, floorCents, floorLots, roundPrice, LOG_LINE_CHARS, LOG_LINES, type AccountSummary, type LogLine, type OpenOrder, type OrderInput, type OrderUpdate, type PositionView, type Strategy, type StrategyBar, type StrategyContext, type StrategyQuote, type StrategyState, type StrategyTrade } from "./runtime";

// One callback of a strategy, run against a snapshot of its account: what a live strategy
// does on each event, in the symbol's object for templates and inside the sandbox for user
// code. The context records what the callback places, cancels and logs; the caller sends
// the commands afterwards, in order, exactly as the runtime does in a backtest (which uses
// the same orderCommand and logText). Pure: the view, the time and the next order number
// come in with the request.

export type StrategyCommand =
  | { kind: "place"; id: string; fields: OrderRequestFields; tag: string | null }
  | { kind: "refuse"; id: string; side: "buy" | "sell"; tag: string | null; message: string }
  | { kind: "cancel"; id: string }
  | { kind: "cancelAll" };

export type StrategyCallback = "onStart" | "onBar" | "onTrade" | "onQuote" | "onOrderUpdate" | "onStop";

/** What a callback may read of its account, as of just before it runs. */
export interface StrategyView {
  position: PositionView;
  account: AccountSummary;
  openOrders: OpenOrder[];
  /** ctx.maxBuyQty(), computed by whoever holds the account and the last price. */
  maxBuyQty: string;
  /** ctx.maxSellQty(), likewise. */
  maxSellQty: string;
}

export type InvokeRequest =
  | ({ callback: "onStart" | "onStop"; event: null } & InvokeCommon)
  | ({ callback: "onBar"; event: StrategyBar } & InvokeCommon)
  | ({ callback: "onTrade"; event: StrategyTrade } & InvokeCommon)
  | ({ callback: "onQuote"; event: StrategyQuote } & InvokeCommon)
  | ({ callback: "onOrderUpdate"; event: OrderUpdate } & InvokeCommon);

interface InvokeCommon {
  instrument: InstrumentSpec;
  params: Record<string, unknown>;
  state: StrategyState;
  view: StrategyView;
  /** The event's time: ctx.now. */
  now: number;
  /** Order ids are `${idPrefix}${n}` for n from nextId + 1. */
  idPrefix: string;
  nextId: number;
}

export interface InvokeResult {
  commands: StrategyCommand[];
  state: StrategyState;
  logs: LogLine[];
  nextId: number;
}

/** What ctx.buy and ctx.sell take (OrderInput's fields). */
const ORDER_INPUT_FIELDS = new Set(["qty", "notional", "type", "limit", "stop", "trailPrice", "trailPercent", "tif", "tag"]);
/** The longest tag an order carries (it is echoed in every update of the order). */
export const MAX_TAG_CHARS = 64;

/**
 * Why a price a strategy gave rounds to no ticks: too large to count (found in QA: 1e30 said
 * "rounds to zero"), not a number, below zero, or under half a tick. The float only picks
 * the message.
 */
function noTicks(key: string, value: number | string, spec: InstrumentSpec): string {
  const n = Number(value);
  const shown = String(value).slice(0, 40);
  if (!Number.isFinite(n)) return `${key} must be a number: ${shown}`;
  if (n < 0) return `${key} must be positive: ${shown}`;
  if (n > Number(spec.tickSize)) return `${key} is too large: ${shown}`;
  return `${key} rounds to zero on the tick grid ${spec.tickSize}`;
}

/**
 * Whether a qty is a positive quantity written exactly as lotsToDecimal writes its lots
 * (no sign, no exponent, no trailing zeros), with at most 20 digits before its point: then
 * amountProblem finds nothing wrong with it and floorLots gives its lots back unchanged.
 */
function gridText(qty: number | string | undefined, spec: InstrumentSpec): boolean {
  if (typeof qty !== "string") return false;
  const point = qty.indexOf(".");
  if ((point < 0 ? qty.length : point) > 20) return false;
  const lots = decimalToLots(qty, spec);
  return lots !== undefined && lots > 0 && lotsToDecimal(lots, spec) === qty;
}

/** The order a ctx.buy/ctx.sell makes: rounded to the grids by the runtime's one rule, or refused when it rounds to nothing. */
export function orderCommand(side: "buy" | "sell", input: OrderInput, spec: InstrumentSpec, id: string): StrategyCommand {
  // Code may pass anything: ctx.buy(null) was a TypeError that failed the callback, ctx.buy(42) "rounds down to zero" (found in QA).
  if (typeof input !== "object" || input === null || Array.isArray(input)) return { kind: "refuse", id, side, tag: null, message: `an order is an object with qty or notional, e.g. ctx.${side}({ qty: 1 }), not ${input === null ? "null" : Array.isArray(input) ? "an array" : typeof input}` };
  const tagGiven: unknown = input.tag;
  const tagFits = tagGiven === undefined || tagGiven === null || (typeof tagGiven === "string" && tagGiven.length <= MAX_TAG_CHARS);
  const tag = tagFits ? ((tagGiven as string | null | undefined) ?? null) : null;
  const type = input.type ?? "market";
  const fields: OrderRequestFields = { side, type, time_in_force: input.tif ?? "gtc", client_order_id: id };
  const refuse = (message: string): StrategyCommand => ({ kind: "refuse", id, side, tag, message });
  // Found in QA: a field the order does not take was ignored (a `symbol` bought the strategy's
  // own symbol), and a tag of 100,000 characters went into every update.
  for (const key of Object.keys(input)) if (!ORDER_INPUT_FIELDS.has(key)) return refuse(`unknown field ${key.slice(0, 40)}: an order takes ${[...ORDER_INPUT_FIELDS].join(", ")} (a strategy trades its own symbol, for its owner's account)`);
  if (!tagFits) return refuse(`tag must be a string of at most ${MAX_TAG_CHARS} characters`);
  if (input.qty === undefined && input.notional === undefined) return refuse("an order needs qty or notional");
  if (input.qty !== undefined && input.notional !== undefined) return refuse("give qty or notional, not both");
  // A qty in the very text the lot grid writes (ctx.maxBuyQty's, ctx.position's: most
  // orders' qty) is a positive number on the grid, which the checks below pass and floor
  // to itself: it is read once, rather than checked, parsed twice and written again.
  if (input.notional === undefined && gridText(input.qty, spec)) fields.qty = input.qty as string;
  else {
    const given = input.notional !== undefined ? "notional" : "qty";
    const problem = amountProblem(input.notional ?? input.qty ?? 0, spec, given);
    if (problem) return refuse(`${given} ${problem === "too_large" ? "is too large" : "must be a number"}: ${String(input.notional ?? input.qty).slice(0, 40)}`);
    if (Number(input.notional ?? input.qty) < 0) return refuse(`${given} must be positive: ${String(input.notional ?? input.qty).slice(0, 40)}`);
    if (input.notional !== undefined) {
      const amount = floorCents(input.notional);
      if (amount <= 0n) return refuse("notional rounds to zero cents");
      fields.notional = formatMoney(amount);
    } else {
      const lots = floorLots(input.qty ?? 0, spec);
      if (lots <= 0) return refuse(`qty rounds down to zero on the lot grid ${spec.lotSize}`);
      fields.qty = lotsToDecimal(lots, spec);
    }
  }
  for (const key of ["limit", "stop"] as const) {
    if (input[key] === undefined) continue;
    const ticks = roundPrice(input[key]!, spec);
    if (ticks <= 0) return refuse(noTicks(key, input[key]!, spec));
    fields[key === "limit" ? "limit_price" : "stop_price"] = ticksToDecimal(ticks, spec);
  }
  if (input.trailPrice !== undefined) {
    const ticks = roundPrice(input.trailPrice, spec);
    if (!(ticks > 0)) return refuse(noTicks("trailPrice", input.trailPrice, spec));
    fields.trail_price = ticksToDecimal(ticks, spec);
  }
  // The account checks it (above 0, below 100, four decimals at most) and says what is wrong.
  if (input.trailPercent !== undefined) fields.trail_percent = String(input.trailPercent).slice(0, 40);
  return { kind: "place", id, fields, tag };
}

/** One log line's text: strings as they are, anything else as JSON, cut to LOG_LINE_CHARS. */
export function logText(parts: unknown[]): string {
  const text = parts.map((p) => (typeof p === "string" ? p : safeJson(p))).join(" ");
  return text.length > LOG_LINE_CHARS ? `${text.slice(0, LOG_LINE_CHARS - 1)}…` : text;
}

const NO_COMMANDS: StrategyCommand[] = Object.freeze([]) as unknown as StrategyCommand[];
const NO_LOGS: LogLine[] = Object.freeze([]) as unknown as LogLine[];

/**
 * The lines a callback logged before it threw, kept with what it threw: they are what its
 * owner needs to see why (a failed callback's orders and state are dropped, its log was
 * too; found in QA). Read back with failedCallbackLogs, in process or, through the
 * sandbox's fault, by the host.
 */
const failedLogs = new WeakMap<object, LogLine[]>();

/**
 * The lines logged by the callback that threw `error` in this isolate, or none. (Only what
 * ctx.log collected: a property of the thrown value is the user's, not a log.)
 */
export function failedCallbackLogs(error: unknown): LogLine[] {
  return (typeof error === "object" && error !== null && failedLogs.get(error)) || NO_LOGS;
}

/** Runs one callback of `strategy` against the request's snapshot; a throw propagates to the caller. */
export function invokeStrategy(strategy: Strategy, request: InvokeRequest): InvokeResult {
  return strategyInvoker(strategy)(request);
}

/**
 * An invoker for one strategy: the same as invokeStrategy, with one context object reused
 * across calls (a backtest makes a call per bar; building a dozen closures each time was a
 * large share of its cost). Each call points the context at the request, then runs the
 * callback; nothing of one call is visible to the next except through `state`. Its answer
 * is valid until the next call, which writes the same object again.
 */
export function strategyInvoker(strategy: Strategy): (request: InvokeRequest) => InvokeResult {
  let request!: InvokeRequest;
  // Most callbacks place nothing and log nothing: each call starts with the shared empty
  // lists and makes its own only when it first adds to one (two arrays a bar were a fifth
  // of what a quiet bar allocated).
  let commands: StrategyCommand[] = NO_COMMANDS;
  let logs: LogLine[] = NO_LOGS;
  let nextId = 0;
  let state: StrategyState = {};
  let paramsFor: Record<string, unknown> | undefined;
  let params: Record<string, unknown> = {};
  const order = (side: "buy" | "sell", input: OrderInput) => {
    const id = `${request.idPrefix}${++nextId}`;
    command(orderCommand(side, input, request.instrument, id));
    return id;
  };
  const command = (c: StrategyCommand) => {
    if (commands === NO_COMMANDS) commands = [];
    commands.push(c);
  };
  const ctx = {
    buy: (input: OrderInput) => order("buy", input),
    sell: (input: OrderInput) => order("sell", input),
    cancel: (id: string) => command({ kind: "cancel", id }),
    cancelAll: () => command({ kind: "cancelAll" }),
    maxBuyQty: () => request.view.maxBuyQty,
    maxSellQty: () => request.view.maxSellQty,
    log: (...parts: unknown[]) => {
      if (logs === NO_LOGS) logs = [];
      if (logs.length < LOG_LINES) logs.push({ t: request.now, text: logText(parts) });
    },
    indicators,
  };
  // The view's fields are read when the callback reads them (an in-process view computes lazily).
  Object.defineProperties(ctx, {
    // A frozen copy: the engine's own spec, written to by the strategy, changed the grid it ran on.
    instrument: { get: () => instrumentOf(request.instrument), enumerable: true },
    now: { get: () => request.now, enumerable: true },
    params: { get: () => params, enumerable: true },
    state: { get: () => state, set: (value: StrategyState) => (state = value), enumerable: true },
    position: { get: () => request.view.position, enumerable: true },
    account: { get: () => request.view.account, enumerable: true },
    openOrders: { get: () => request.view.openOrders, enumerable: true },
  });
  let instrumentFor: InstrumentSpec | undefined;
  let instrument: InstrumentSpec | undefined;
  const instrumentOf = (spec: InstrumentSpec): InstrumentSpec => {
    if (spec !== instrumentFor) {
      instrumentFor = spec;
      instrument = Object.freeze({ ...spec });
    }
    return instrument!;
  };
  const c = ctx as unknown as StrategyContext;
  // The answer is one object, written again by each call (one fewer allocation a bar): its
  // reader takes it before calling again (the runtime at once, the sandbox's RPC by copying it).
  const result: InvokeResult = { commands: NO_COMMANDS, state: {}, logs: NO_LOGS, nextId: 0 };
  return (next) => {
    request = next;
    commands = NO_COMMANDS;
    logs = NO_LOGS;
    nextId = next.nextId;
    state = next.state;
    if (paramsFor !== next.params) {
      paramsFor = next.params;
      params = { ...(strategy.params ?? {}), ...next.params };
    }
    let returned: unknown;
    try {
      returned = call(next);
    } catch (error) {
      if (logs.length > 0 && typeof error === "object" && error !== null) failedLogs.set(error, logs);
      throw error;
    }
    // An async callback's orders and logs after its first await would land in a later
    // callback's answer (or nowhere), differently live and in a backtest: it fails, at once,
    // the same everywhere, and its promise's own failure is not left unhandled.
    if (isPending(returned)) {
      Promise.resolve(returned).catch(() => undefined);
      const error = new TypeError(`${next.callback} returned a promise: callbacks run synchronously (no async or await), so everything a callback does happens before it returns`);
      // What it logged before its first await is its owner's clue, kept as a throw's is (found in QA).
      if (logs.length > 0) failedLogs.set(error, logs);
      throw error;
    }
    // A live host stores the state as JSON and the sandbox returns it through RPC: what does
    // not survive JSON is not state (in-process backtests keep the object as it is).
    result.commands = commands;
    result.state = state ?? {};
    result.logs = logs;
    result.nextId = nextId;
    return result;
  };

  function call(next: InvokeRequest): unknown {
    let returned: unknown;
    switch (next.callback) {
      case "onStart":
        returned = strategy.onStart?.(c);
        break;
      case "onStop":
        returned = strategy.onStop?.(c);
        break;
      case "onBar":
        returned = strategy.onBar?.(next.event, c);
        break;
      case "onTrade":
        returned = strategy.onTrade?.(next.event, c);
        break;
      case "onQuote":
        returned = strategy.onQuote?.(next.event, c);
        break;
      case "onOrderUpdate":
        returned = strategy.onOrderUpdate?.(next.event, c);
        break;
      default: {
        const never: never = next;
        throw new Error(`unknown callback ${JSON.stringify(never)}`);
      }
    }
    return returned;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
