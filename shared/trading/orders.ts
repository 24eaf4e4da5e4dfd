import { decimalToLots, decimalToTicks, lotsToDecimal, ticksToDecimal, tooManySteps, type InstrumentSpec } from "../market/instrument";
import type { OrderType, TimeInForce } from "../venue/venue";
import { PPM, type Trail } from "../venue/trailing";
import type { AssetInfo } from "./asset";
import { dayOrderExpiry } from "./session";
import type { Side } from "./ledger";
import { CENT, formatMoney, quantityOf, type Money } from "./money";

// An order as its account keeps it, its life cycle, and its Alpaca JSON shape. Prices are
// ticks, quantities lots, money bigints; decimals exist only in `orderView`.

export const ORDER_STATUSES = ["pending_new", "new", "partially_filled", "filled", "canceled", "expired", "rejected", "replaced"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TERMINAL: ReadonlySet<OrderStatus> = new Set(["filled", "canceled", "expired", "rejected", "replaced"]);
export const isOpen = (status: OrderStatus) => !TERMINAL.has(status);

/** Lots an order may still fill: qty less filled while it is open; none for a notional order or a finished one. */
export const openLots = (o: { status: OrderStatus; qty: number | null; filledQty: number }): number => (isOpen(o.status) && o.qty !== null ? o.qty - o.filledQty : 0);

// The only moves an order may make. pending_new: stored by the account, not yet
// acknowledged by the venue.
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_new: ["new", "partially_filled", "filled", "canceled", "expired", "rejected"],
  new: ["partially_filled", "filled", "canceled", "expired", "replaced"],
  partially_filled: ["partially_filled", "filled", "canceled", "expired", "replaced"],
  filled: [],
  canceled: [],
  expired: [],
  rejected: [],
  replaced: [],
};

export const canMove = (from: OrderStatus, to: OrderStatus) => TRANSITIONS[from].includes(to);

export interface AccountOrder {
  id: string;
  clientOrderId: string;
  assetId: string;
  spec: InstrumentSpec;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  qty: number | null;
  /** Money as a bigint string (storage and RPC stay JSON). */
  notional: string | null;
  limit: number | null;
  stop: number | null;
  cap: number | null;
  status: OrderStatus;
  filledQty: number;
  filledNotional: string;
  fees: string;
  createdAt: number;
  updatedAt: number;
  submittedAt: number;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  failedAt: number | null;
  replacedAt: number | null;
  replacedBy: string | null;
  replaces: string | null;
  expiresAt: number | null;
  /** The venue has the order (or its outcome); until then the account resends it. */
  atVenue: boolean;
  /** A cancel the venue has not yet confirmed; the account resends it. */
  cancelRequested: boolean;
  /** Why it ended, when the venue said. */
  reason: string | null;
  /** Being replaced: the venue's cancel ends it as "replaced". */
  replacing?: boolean;
  /** The account's resets before this order was placed (absent: none): an order of an earlier one is not answered for a client_order_id. */
  resets?: number;
  /** A trailing stop's distance (absent: not a trailing stop). */
  trail?: Trail | null;
  /** A trailing stop's high-water mark as the venue last reported it; `stop` follows it. */
  hwm?: number | null;
}

// An order's times are mostly two instants (created, submitted; updated, filled), a view
// writes six of them, and its fill's activity and trade update the fill's again: the last
// two written are remembered.
let isoMs = Number.NaN;
let isoText = "";
let isoMsBefore = Number.NaN;
let isoTextBefore = "";

// `toISOString` costs most of a microsecond (a Date and its calendar each time), and a
// backtest writes a few hundred thousand distinct instants: the day's "yyyy-mm-ddT" is
// remembered and the time of day written from the remainder, about an eighth of the cost.
const DAY_MS = 86_400_000;
/** After 9999-12-31 an ISO time has a six-digit year with a sign; those take `toISOString`. */
const YEAR_10000_MS = 253_402_300_800_000;
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
let dayStart = Number.NaN;
let dayPrefix = "";

/** `new Date(ms).toISOString()` of a whole number of ms from 1970 to 9999, the day's part remembered. */
function formatIso(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS && Number.isInteger(ms))) return new Date(ms).toISOString();
  const ofDay = ms % DAY_MS;
  if (ms - ofDay !== dayStart) {
    dayStart = ms - ofDay;
    dayPrefix = new Date(dayStart).toISOString().slice(0, 11);
  }
  const hours = Math.floor(ofDay / 3_600_000);
  const minutes = Math.floor((ofDay % 3_600_000) / 60_000);
  const seconds = Math.floor((ofDay % 60_000) / 1000);
  return `${dayPrefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[ofDay % 1000]}Z`;
}

/** `new Date(ms).toISOString()`, remembered for the last two instants asked. */
export function isoTime(ms: number): string {
  if (ms === isoMs) return isoText;
  if (ms === isoMsBefore) return isoTextBefore;
  const text = formatIso(ms);
  isoMsBefore = isoMs;
  isoTextBefore = isoText;
  isoMs = ms;
  isoText = text;
  return text;
}

const iso = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

let stampDay = Number.NaN;
let stampPrefix = "";

/**
 * An activity id's time part, yyyymmddHHMMSSmmm: the ISO time's digits, cut out of it
 * rather than by a regular expression (one per fill); a year outside 0–9999 (a longer ISO
 * form) takes the expression, which gives the same digits.
 */
export function activityStamp(t: number): string {
  // Within years 1970–9999, from the day's digits (remembered) and the time of day's, as formatIso writes them.
  if (t >= 0 && t < YEAR_10000_MS && Number.isInteger(t)) {
    const ofDay = t % DAY_MS;
    if (t - ofDay !== stampDay) {
      stampDay = t - ofDay;
      const day = new Date(stampDay).toISOString();
      stampPrefix = day.slice(0, 4) + day.slice(5, 7) + day.slice(8, 10);
    }
    return `${stampPrefix}${TWO_DIGITS[Math.floor(ofDay / 3_600_000)]}${TWO_DIGITS[Math.floor((ofDay % 3_600_000) / 60_000)]}${TWO_DIGITS[Math.floor((ofDay % 60_000) / 1000)]}${THREE_DIGITS[ofDay % 1000]}`;
  }
  const at = isoTime(t);
  if (at.length !== 24) return at.replace(/\D/g, "").slice(0, 17);
  return at.slice(0, 4) + at.slice(5, 7) + at.slice(8, 10) + at.slice(11, 13) + at.slice(14, 16) + at.slice(17, 19) + at.slice(20, 23);
}

const NANO = 10n ** 9n;

/**
 * Σ notional / Σ quantity as a decimal string, rounded half up to nine decimals, written
 * with at least the tick size's decimals and no trailing zeros beyond them.
 */
export function averagePrice(total: Money, lots: number, spec: InstrumentSpec): string | null {
  if (lots === 0) return null;
  const qty = quantityOf(lots, spec);
  const scaled = (total * NANO * 2n + qty) / (qty * 2n);
  const abs = scaled < 0n ? -scaled : scaled;
  const dot = spec.tickSize.indexOf(".");
  const tickDecimals = dot < 0 ? 0 : spec.tickSize.length - dot - 1;
  let fraction = (abs % NANO).toString().padStart(9, "0");
  let end = fraction.length;
  while (end > tickDecimals && fraction.charCodeAt(end - 1) === 48) end--;
  fraction = fraction.slice(0, end).padEnd(tickDecimals, "0");
  return `${scaled < 0n ? "-" : ""}${abs / NANO}${fraction ? `.${fraction}` : ""}`;
}

/** A trail in millionths of the price as the percent a client writes: 15_000 is "1.5". */
function trailPercentText(ppm: number): string {
  const fraction = (ppm % 10_000).toString().padStart(4, "0").replace(/0+$/, "");
  return `${Math.floor(ppm / 10_000)}${fraction ? `.${fraction}` : ""}`;
}

const positionIntent = (side: Side) => (side === "buy" ? "buy_to_open" : "sell_to_close");

/** The order in Alpaca's shape: numbers as decimal strings, absent values null. */
export function orderView(o: AccountOrder) {
  const { spec } = o;
  return {
    id: o.id,
    client_order_id: o.clientOrderId,
    created_at: iso(o.createdAt)!,
    updated_at: iso(o.updatedAt)!,
    submitted_at: iso(o.submittedAt)!,
    filled_at: iso(o.filledAt),
    expired_at: iso(o.expiredAt),
    expires_at: iso(o.expiresAt),
    canceled_at: iso(o.canceledAt),
    failed_at: iso(o.failedAt),
    replaced_at: iso(o.replacedAt),
    replaced_by: o.replacedBy,
    replaces: o.replaces,
    asset_id: o.assetId,
    symbol: spec.symbol,
    asset_class: spec.assetClass,
    notional: o.notional === null ? null : formatMoney(BigInt(o.notional)),
    qty: o.qty === null ? null : lotsToDecimal(o.qty, spec),
    filled_qty: lotsToDecimal(o.filledQty, spec),
    filled_avg_price: averagePrice(BigInt(o.filledNotional), o.filledQty, spec),
    order_class: "simple",
    order_type: o.type,
    type: o.type,
    side: o.side,
    position_intent: positionIntent(o.side),
    time_in_force: o.tif,
    limit_price: o.limit === null ? null : ticksToDecimal(o.limit, spec),
    stop_price: o.stop === null ? null : ticksToDecimal(o.stop, spec),
    status: o.status,
    extended_hours: false,
    legs: null,
    trail_percent: o.trail && "ppm" in o.trail ? trailPercentText(o.trail.ppm) : null,
    trail_price: o.trail && "ticks" in o.trail ? ticksToDecimal(o.trail.ticks, spec) : null,
    hwm: o.hwm === undefined || o.hwm === null ? null : ticksToDecimal(o.hwm, spec),
    subtag: null,
    source: null,
    commission: formatMoney(BigInt(o.fees)),
  };
}
export type OrderView = ReturnType<typeof orderView>;

// ---- requests ---------------------------------------------------------------------------

/** What a client asked for, parsed onto the instrument's grids. */
export interface OrderIntent {
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  qty: number | null;
  notional: Money | null;
  limit: number | null;
  /** A trailing stop's is set from the price it is placed at (null here until then). */
  stop: number | null;
  trail: Trail | null;
  clientOrderId: string | null;
}

export interface OrderRequestFields {
  side: Side;
  type: OrderType;
  time_in_force: TimeInForce;
  qty?: string | number | null;
  notional?: string | number | null;
  limit_price?: string | number | null;
  stop_price?: string | number | null;
  trail_price?: string | number | null;
  trail_percent?: string | number | null;
  client_order_id?: string | null;
}

export interface FieldProblem {
  path: string;
  message: string;
}

/** A field given: not absent, null or empty (clients send unset fields as null). */
const has = (v: unknown): boolean => v !== undefined && v !== null && v !== "";
const decimalText = (v: string | number) => (typeof v === "number" ? String(v) : v.trim());
const SIDES: ReadonlySet<unknown> = new Set(["buy", "sell"]);
const ORDER_TYPES: ReadonlySet<unknown> = new Set(["market", "limit", "stop", "stop_limit", "trailing_stop"]);
/** A trail percent's grid: four decimals of a percent, a millionth of the price. */
const TRAIL_PERCENT_GRID = { lotSize: "0.0001" };
const TIMES_IN_FORCE: ReadonlySet<unknown> = new Set(["day", "gtc", "ioc", "fok"]);
/** Plain or exponent notation, as JSON numbers and the grids' parsers accept. */
/**
 * A decimal number as the grids read it (shared/market/instrument.ts): digits, a fraction
 * with digits on both sides of its point, an exponent; and here a sign, which picks the
 * message. ".5" and "5." are not read there, so they are not numbers here either: taken
 * as numbers, they were refused as off the lot grid.
 */
const DECIMAL_TEXT = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;
/** The grid a notional is on: cents. */
const CENTS = { lotSize: "0.01" };

/**
 * Places the request on the instrument's grids and checks the combinations Alpaca
 * checks. Returns the problems found (each naming its field) or the intent.
 */
export function parseOrderRequest(body: OrderRequestFields, spec: InstrumentSpec): { intent: OrderIntent } | { problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  let qty: number | null = null;
  let notionalValue: Money | null = null;
  // The API's schema has checked these already; a strategy's order has not (ctx.buy takes
  // what the code gives), and an unknown type would have no price rule to follow.
  if (!SIDES.has(body.side)) problems.push({ path: "side", message: `side must be buy or sell, not ${JSON.stringify(body.side)}` });
  if (!ORDER_TYPES.has(body.type)) problems.push({ path: "type", message: `type must be market, limit, stop, stop_limit or trailing_stop, not ${JSON.stringify(body.type)}` });
  if (!TIMES_IN_FORCE.has(body.time_in_force)) problems.push({ path: "time_in_force", message: `time_in_force must be day, gtc, ioc or fok, not ${JSON.stringify(body.time_in_force)}` });
  if (problems.length > 0) return { problems };
  if (has(body.qty) === has(body.notional)) problems.push({ path: "qty", message: "give exactly one of qty and notional" });
  if (has(body.qty)) {
    const text = decimalText(body.qty!);
    const lots = decimalToLots(text, spec);
    // Off the grid, not positive, and not a number at all are three different mistakes.
    if (lots === undefined && !DECIMAL_TEXT.test(text)) problems.push({ path: "qty", message: `qty must be a decimal number, not ${JSON.stringify(text.slice(0, 40))}` });
    else if (lots === undefined ? text.startsWith("-") : lots <= 0) problems.push({ path: "qty", message: "qty must be greater than zero" });
    // (The float only picks the message: the quantity itself is never a float.)
    else if (lots === undefined && Number(text) / Number(spec.lotSize) > Number.MAX_SAFE_INTEGER) problems.push({ path: "qty", message: `qty ${text.slice(0, 40)} is too large` });
    else if (lots === undefined) problems.push({ path: "qty", message: `qty must be a multiple of the lot size ${spec.lotSize}` });
    else qty = lots;
  }
  if (has(body.notional)) {
    // Read as qty is (exponents too: "2e1" is 20), on the grid of cents.
    const text = decimalText(body.notional!);
    const cents = decimalToLots(text, CENTS);
    if (cents === undefined ? !DECIMAL_TEXT.test(text) || text.startsWith("-") : cents <= 0) problems.push({ path: "notional", message: "notional must be a positive decimal amount in USD" });
    else if (cents === undefined && Number(text) * 100 > Number.MAX_SAFE_INTEGER) problems.push({ path: "notional", message: `notional ${text.slice(0, 40)} is too large` });
    else if (cents === undefined) problems.push({ path: "notional", message: "notional has at most two decimals (cents)" });
    else notionalValue = BigInt(cents) * CENT;
    if (body.type !== "market") problems.push({ path: "notional", message: "notional orders must be market orders" });
    if (body.time_in_force !== "day" && body.time_in_force !== "gtc" && body.time_in_force !== "ioc")
      problems.push({ path: "time_in_force", message: "notional orders must be day, gtc or ioc" });
  }
  const price = (field: "limit_price" | "stop_price", needed: boolean): number | null => {
    const raw = body[field];
    if (!has(raw)) {
      if (needed) problems.push({ path: field, message: `${field} is required for ${body.type} orders` });
      return null;
    }
    if (!needed) {
      problems.push({ path: field, message: `${field} is not allowed for ${body.type} orders` });
      return null;
    }
    const text = decimalText(raw!);
    const ticks = decimalToTicks(text, spec);
    if (ticks === undefined) {
      problems.push(offTickGrid(field, text, spec));
      return null;
    }
    return ticks;
  };
  const limit = price("limit_price", body.type === "limit" || body.type === "stop_limit");
  const stop = price("stop_price", body.type === "stop" || body.type === "stop_limit");
  const trail = trailOf(body, spec, problems);
  if (problems.length > 0) return { problems };
  return { intent: { side: body.side, type: body.type, tif: body.time_in_force, qty, notional: notionalValue, limit, stop, trail, clientOrderId: body.client_order_id ?? null } };
}

/** Why a price gives no ticks: more than a count of ticks holds (found in QA: 1e30 was "not a multiple"), or off the grid. */
function offTickGrid(field: string, text: string, spec: InstrumentSpec): FieldProblem {
  if (tooManySteps(text, spec.tickSize)) return { path: field, message: `${field} ${text.slice(0, 40)} is too large` };
  return { path: field, message: `${field} must be a positive multiple of the tick size ${spec.tickSize}` };
}

/** A trailing stop's distance: exactly one of trail_price and trail_percent, and neither on other types (Alpaca's rules). */
function trailOf(body: OrderRequestFields, spec: InstrumentSpec, problems: FieldProblem[]): Trail | null {
  const trailing = body.type === "trailing_stop";
  for (const field of ["trail_price", "trail_percent"] as const) {
    if (!trailing && has(body[field])) problems.push({ path: field, message: `${field} is only for trailing_stop orders` });
  }
  if (!trailing) return null;
  if (has(body.trail_price) === has(body.trail_percent)) {
    problems.push({ path: "trail_price", message: "trailing_stop orders take exactly one of trail_price and trail_percent" });
    return null;
  }
  if (body.time_in_force !== "day" && body.time_in_force !== "gtc") problems.push({ path: "time_in_force", message: "trailing_stop orders must be day or gtc" });
  if (has(body.trail_price)) {
    const text = decimalText(body.trail_price!);
    const ticks = decimalToTicks(text, spec);
    if (ticks === undefined) {
      problems.push(offTickGrid("trail_price", text, spec));
      return null;
    }
    return { ticks };
  }
  const text = decimalText(body.trail_percent!);
  // Read as every other number is (exponents, trailing zeros), on the grid of 0.0001 percent:
  // millionths of the price (found in QA: "1e0" and "1.00000" were refused where prices take them).
  const ppm = decimalToLots(text, TRAIL_PERCENT_GRID) ?? 0;
  if (ppm <= 0 || ppm >= PPM) {
    problems.push({ path: "trail_percent", message: `trail_percent must be a percent above 0 and below 100 with at most four decimals, not ${JSON.stringify(text.slice(0, 40))}` });
    return null;
  }
  return { ppm };
}

/** A replace's fields as a client sends them: any may be left out, or null. */
export type ReplaceFields = Pick<OrderRequestFields, "qty" | "limit_price" | "stop_price" | "client_order_id"> & {
  time_in_force?: TimeInForce | null;
  /** A trailing stop's new trail, in the kind it was placed with (a price or a percent). */
  trail?: string | number | null;
};

/** What givenReplaceFields reads: the order's fields, and a trailing stop's `trail`. */
export type GivenReplaceFields = Partial<OrderRequestFields> & { trail?: string | number };

/**
 * The fields a replace changes: a null field, or an empty `qty`, is one left out (the
 * order's stays), as clients send them (Alpaca's SDKs send every field, null when unset).
 * The one place that reading is made, for the API and a strategy alike.
 */
export function givenReplaceFields(fields: ReplaceFields): GivenReplaceFields {
  const given: GivenReplaceFields = {};
  if (fields.trail !== undefined && fields.trail !== null && fields.trail !== "") given.trail = fields.trail;
  if (fields.qty !== undefined && fields.qty !== null && fields.qty !== "") given.qty = fields.qty;
  if (fields.time_in_force !== undefined && fields.time_in_force !== null) given.time_in_force = fields.time_in_force;
  if (fields.limit_price !== undefined && fields.limit_price !== null) given.limit_price = fields.limit_price;
  if (fields.stop_price !== undefined && fields.stop_price !== null) given.stop_price = fields.stop_price;
  if (fields.client_order_id !== undefined && fields.client_order_id !== null) given.client_order_id = fields.client_order_id;
  return given;
}

/** A replace request filled in from the order it replaces: what the client left out (givenReplaceFields) stays as it was. */
export function replacementFields(old: AccountOrder, fields: GivenReplaceFields, remaining: number | null): OrderRequestFields {
  const { spec } = old;
  const merged: OrderRequestFields = {
    side: old.side,
    type: old.type,
    time_in_force: fields.time_in_force ?? old.tif,
    qty: fields.qty ?? (remaining === null ? null : lotsToDecimal(remaining, spec)),
    notional: remaining === null ? formatMoney(BigInt(old.notional!)) : null,
    limit_price: fields.limit_price ?? (old.limit === null ? null : ticksToDecimal(old.limit, spec)),
    // A trailing stop's stop is the venue's to move: what a replace changes is its trail
    // (its mark starts again from the price the replacement is placed at).
    stop_price: fields.stop_price ?? (old.stop === null || old.trail ? null : ticksToDecimal(old.stop, spec)),
    client_order_id: fields.client_order_id ?? null,
  };
  if (old.trail && "ticks" in old.trail) merged.trail_price = fields.trail ?? ticksToDecimal(old.trail.ticks, spec);
  else if (old.trail) merged.trail_percent = fields.trail ?? trailPercentText(old.trail.ppm);
  return merged;
}

/** Whether two trails are the same distance (both absent counts). */
export function sameTrail(a: Trail | null | undefined, b: Trail | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return "ticks" in a ? "ticks" in b && a.ticks === b.ticks : "ppm" in b && a.ppm === b.ppm;
}

/** A new order as the account stores it before its venue has seen it. */
export function newOrder(id: string, intent: OrderIntent, asset: AssetInfo, cap: number | null, replaces: string | null, now: number, hwm: number | null = null): AccountOrder {
  const order: AccountOrder = {
    id,
    clientOrderId: intent.clientOrderId ?? id,
    assetId: asset.id,
    spec: asset.spec,
    side: intent.side,
    type: intent.type,
    tif: intent.tif,
    qty: intent.qty,
    notional: intent.notional === null ? null : intent.notional.toString(),
    limit: intent.limit,
    stop: intent.stop,
    cap,
    status: "pending_new",
    filledQty: 0,
    filledNotional: "0",
    fees: "0",
    createdAt: now,
    updatedAt: now,
    submittedAt: now,
    filledAt: null,
    canceledAt: null,
    expiredAt: null,
    failedAt: null,
    replacedAt: null,
    replacedBy: null,
    replaces,
    expiresAt: intent.tif === "day" ? dayOrderExpiry(asset.session, now) : null,
    atVenue: false,
    cancelRequested: false,
    reason: null,
  };
  // Only a trailing stop carries these, so other orders' stored shape is unchanged.
  if (intent.trail) {
    order.trail = intent.trail;
    order.hwm = hwm;
  }
  return order;
}
