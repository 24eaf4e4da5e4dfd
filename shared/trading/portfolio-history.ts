import { addDays, calendar, CALENDAR_LAST, newYorkDay, newYorkTime } from "../calendar";
import { CENT, formatMoney, MONEY_ONE, parseMoney, roundHalfUp, type Money } from "./money";
import { newYorkDateOf } from "./trading-date";

// The account's portfolio history (Alpaca's `GET /v2/account/portfolio/history`): its equity
// at the end of each window of a timeframe, rebuilt from what the account recorded (every
// fill and cash movement, resets included) and each held symbol's bars. Pure: the account
// object reads its activities through `PortfolioFold`, the gateway fetches the bars, and
// `portfolioHistory` answers (docs/alpaca-compat.md §3; its deviations in §7).

export const PORTFOLIO_TIMEFRAMES = ["1Min", "5Min", "15Min", "1H", "1D"] as const;
export type PortfolioTimeframe = (typeof PORTFOLIO_TIMEFRAMES)[number];
export const INTRADAY_REPORTING = ["market_hours", "extended_hours", "continuous"] as const;
export type IntradayReporting = (typeof INTRADAY_REPORTING)[number];
export const PNL_RESETS = ["per_day", "no_reset"] as const;
export type PnlReset = (typeof PNL_RESETS)[number];

const MINUTE = 60_000;
const DAY = 86_400_000;
const STEP: Record<Exclude<PortfolioTimeframe, "1D">, number> = { "1Min": MINUTE, "5Min": 5 * MINUTE, "15Min": 15 * MINUTE, "1H": 60 * MINUTE };
/** An intraday timeframe covers at most this many days (Alpaca's bound). */
export const INTRADAY_MAX_DAYS = 30;

export interface PortfolioRequest {
  /** `<n><D|W|M|A>`: days, weeks, months, years. */
  period?: string;
  timeframe?: string;
  intradayReporting?: IntradayReporting;
  pnlReset?: PnlReset;
  /** Instants (ms), read by the route from RFC 3339. */
  start?: number;
  end?: number;
  /** A New York date (YYYY-MM-DD): the period ends with it (Alpaca's older parameter). */
  dateEnd?: string;
}

/** What is wrong with a request: the parameter and why (the route answers 422). */
export interface PortfolioProblem {
  path: string;
  message: string;
}

/** The windows a history reports: point i covers [starts[i], ends[i]), its equity at ends[i] (or now, for the one still open). */
export interface PortfolioPlan {
  timeframe: PortfolioTimeframe;
  starts: number[];
  ends: number[];
  /** Per point, the instant its P&L is measured from: the start of its New York day (per_day), or of the first window. */
  baseAt: number[];
}

type Plan = { ok: true; plan: PortfolioPlan } | { ok: false; problem: PortfolioProblem };

// Up to six digits: the span check bounds the rest (10,000 days is a span inside the calendar).
const PERIOD = /^(\d{1,6})([DWMA])$/;

/** A New York date moved by whole months, the day kept where the month has it (Jan 31 + 1 month is Feb 28 or 29). */
function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return `${String(year).padStart(4, "0")}-${String(month + 1).padStart(2, "0")}-${String(Math.min(d, last)).padStart(2, "0")}`;
}

/** The date `period` after (sign 1) or before (sign -1) `date`. */
function movePeriod(date: string, period: { n: number; unit: string }, sign: 1 | -1): string {
  const { n, unit } = period;
  if (unit === "D") return addDays(date, sign * n);
  if (unit === "W") return addDays(date, sign * 7 * n);
  return addMonths(date, sign * (unit === "M" ? n : 12 * n));
}

/** A period's length in days, a month counted as 30 and a year as 365 (how Alpaca picks a default timeframe). */
const periodDays = (p: { n: number; unit: string }): number => p.n * { D: 1, W: 7, M: 30, A: 365 }[p.unit as "D" | "W" | "M" | "A"];

const dayStart = (date: string): number => newYorkDay(date)!.start;
// The calendar's first New York day began before the epoch (its midnight is 05:00 UTC): the day after is the bound.
const FIRST_DATE = "1970-01-02";
const FIRST_INSTANT = newYorkDay(FIRST_DATE)!.start;
const LAST_INSTANT = newYorkDay(CALENDAR_LAST)!.end;
/** The bounds as a refusal states them: New York dates, as every day here is. */
const RANGE = `${FIRST_DATE} to ${CALENDAR_LAST} (New York dates)`;

/** A request read: its span, timeframe and reporting, before the account's age trims its windows. */
export interface PortfolioSpan {
  start: number;
  end: number;
  timeframe: PortfolioTimeframe;
  reporting: IntradayReporting;
  perDay: boolean;
}

type Spanned = { ok: true; span: PortfolioSpan } | { ok: false; problem: PortfolioProblem };
const spanProblem = (path: string, message: string): Spanned => ({ ok: false, problem: { path, message } });

/** New York's offset from UTC at noon of a date, in ms (−4 or −5 hours). */
const noonOffset = (date: string): number => newYorkTime(date, "12:00") - Date.parse(`${date}T12:00:00Z`);

/**
 * The span a request asks for, as Alpaca reads its parameters: at most two of start, end
 * (or date_end) and period; a period ends at end (default now) or starts at start; without
 * either bound nor start, one month. A period counts New York dates: `1D` is the day `end`
 * falls in, `1W` that day and the six before. Cheap: no window is made here.
 */
export function portfolioSpan(q: PortfolioRequest, now: number): Spanned {
  if (q.dateEnd !== undefined && q.end !== undefined) return spanProblem("date_end", "date_end cannot be combined with end");
  let endAt = q.end;
  if (q.dateEnd !== undefined) {
    const day = newYorkDay(q.dateEnd);
    // A real date outside the calendar's years is out of range, not malformed.
    if (!day) return spanProblem("date_end", /^\d{4}-\d{2}-\d{2}$/.test(q.dateEnd) && !Number.isNaN(Date.parse(`${q.dateEnd}T00:00:00Z`)) ? `date_end must be from ${RANGE}` : "date_end must be a date, YYYY-MM-DD");
    endAt = day.end;
  }
  if (q.start !== undefined && endAt !== undefined && q.period !== undefined) return spanProblem("period", "give at most two of start, end (or date_end) and period");
  let period: { n: number; unit: string } | undefined;
  const outside = `the span must be from ${RANGE}`;
  if (q.period !== undefined) {
    const match = PERIOD.exec(q.period.toUpperCase());
    if (!match || Number(match[1]) < 1) return spanProblem("period", `"${q.period}" is not a period: a number and D, W, M or A (1D, 2W, 3M, 1A)`);
    period = { n: Number(match[1]), unit: match[2]! };
    if (periodDays(period) > 130 * 365) return spanProblem("period", outside);
  }
  // Every instant is within the calendar's years (a New York date must have a day to start).
  const inRange = (t: number) => t >= FIRST_INSTANT && t <= LAST_INSTANT;
  const endPath = q.dateEnd !== undefined ? "date_end" : "end";
  if (q.start !== undefined && !inRange(q.start)) return spanProblem("start", `start must be from ${RANGE}`);
  if (endAt !== undefined && !inRange(endAt)) return spanProblem(endPath, `${endPath} must be from ${RANGE}`);
  let start: number;
  let end: number;
  if (q.start !== undefined) {
    start = q.start;
    end = endAt ?? (period ? (newYorkDay(movePeriod(newYorkDateOf(start), period, 1))?.start ?? Infinity) : now);
    // A period that runs past the calendar is the period's fault.
    if (!inRange(end)) return spanProblem("period", outside);
  } else {
    end = endAt ?? now;
    period ??= { n: 1, unit: "M" };
    start = newYorkDay(addDays(movePeriod(newYorkDateOf(end - 1), period, -1), 1))?.start ?? -Infinity;
    // Reaching back before the calendar: the period's fault, or the end's when it took the default month.
    if (!inRange(start)) return spanProblem(q.period !== undefined ? "period" : endPath, q.period !== undefined ? outside : `${endPath} must leave a month after ${FIRST_DATE} (or give start or period)`);
  }
  if (!(start < end)) return spanProblem(q.start !== undefined ? "start" : endPath, "start must be before end");
  const spanDays = (end - start) / DAY;
  // Alpaca's default by the period (a month counted as 30 days), or by the span without one.
  const days = period ? periodDays(period) : spanDays;
  const timeframe = q.timeframe ?? (days < 7 ? "1Min" : days < INTRADAY_MAX_DAYS ? "15Min" : "1D");
  if (!(PORTFOLIO_TIMEFRAMES as readonly string[]).includes(timeframe)) return spanProblem("timeframe", `"${timeframe}" is not a timeframe here: one of ${PORTFOLIO_TIMEFRAMES.join(", ")}`);
  const tf = timeframe as PortfolioTimeframe;
  // Thirty days of New York's clock: an hour more of UTC when the clock falls back in the span.
  const clockChange = Math.abs(noonOffset(newYorkDateOf(end - 1)) - noonOffset(newYorkDateOf(start)));
  if (tf !== "1D" && end - start > INTRADAY_MAX_DAYS * DAY + clockChange) return spanProblem("timeframe", `${tf} covers at most ${INTRADAY_MAX_DAYS} days; use 1D for a longer span`);
  return { ok: true, span: { start, end, timeframe: tf, reporting: q.intradayReporting ?? "market_hours", perDay: tf !== "1D" && (q.pnlReset ?? "per_day") === "per_day" } };
}

/**
 * The windows of a span: New York days (1D) or the timeframe's grid, in the reported hours.
 * Windows end no later than now and begin no earlier than the account's first (the window
 * holding its opening); before it there is nothing to report. The work is in the windows
 * kept, not in the span: a year asked of a day-old account makes one day.
 */
export function portfolioWindows(span: PortfolioSpan, now: number, createdAt: number): PortfolioPlan {
  const { start, end, timeframe: tf, reporting, perDay } = span;
  const until = Math.min(end, now);
  const starts: number[] = [];
  const ends: number[] = [];
  const add = (s: number, e: number) => {
    const clipped = Math.min(e, until);
    // A window that ends (as reported) by the account's opening, or starts after now, has nothing to show.
    if (clipped <= createdAt || s > now || s >= end) return;
    starts.push(s);
    ends.push(clipped);
  };
  // The first date (or grid step) that can hold a window worth reporting.
  const first = Math.max(start, createdAt);
  if (first <= until) {
    const firstDate = newYorkDateOf(first);
    const lastDate = newYorkDateOf(until - 1 < first ? first : until - 1);
    if (tf === "1D") {
      // New York days; trading days only unless reporting is continuous (a crypto trader's week has seven).
      const dates = reporting === "continuous" ? datesBetween(firstDate, lastDate) : calendar(firstDate, lastDate).map((d) => d.date);
      for (const date of dates) {
        // None past the calendar's last year (a clock past 2099, found by the request property).
        const day = newYorkDay(date);
        if (day) add(day.start, day.end);
      }
    } else {
      const step = STEP[tf];
      const sessions = reporting === "continuous" ? null : sessionsBetween(firstDate, lastDate, reporting);
      let s = 0;
      // New York's offset from UTC is whole hours, so a grid of UTC minutes is New York's.
      for (let t = Math.floor(Math.max(start, createdAt - step) / step) * step; t < end && t <= now; t += step) {
        if (t + step <= start) continue;
        if (sessions) {
          while (s < sessions.length && sessions[s]!.close <= t) s++;
          const session = sessions[s];
          if (!session || t < session.open) continue;
        }
        add(t, t + step);
      }
    }
  }
  return { timeframe: tf, starts, ends, baseAt: perDay ? dayStarts(starts) : starts.map(() => starts[0]!) };
}

/** The New York day's start of each of `times` (ascending): one date computed a day, not one a window (43,200 in a month of minutes). */
function dayStarts(times: number[]): number[] {
  let day = { start: 0, end: 0 };
  return times.map((t) => {
    if (t < day.start || t >= day.end) day = newYorkDay(newYorkDateOf(t))!;
    return day.start;
  });
}

/** `portfolioSpan` then `portfolioWindows`: a request's windows for an account opened at `createdAt`. */
export function planPortfolio(q: PortfolioRequest, now: number, createdAt: number): Plan {
  const spanned = portfolioSpan(q, now);
  return spanned.ok ? { ok: true, plan: portfolioWindows(spanned.span, now, createdAt) } : spanned;
}

/**
 * The span of the account's history a request reads: from the New York day its span starts
 * in (every base and window starts there or later: a per_day base is a day's start, before
 * the day's first window) to its end or now. The account folds what came before `from`
 * into its opening holdings.
 */
export function readSpan(span: PortfolioSpan, now: number): { from: number; until: number } {
  return { from: dayStart(newYorkDateOf(span.start)), until: Math.min(span.end, now) };
}

function datesBetween(first: string, last: string): string[] {
  const dates: string[] = [];
  for (let d = first; d <= last; d = addDays(d, 1)) dates.push(d);
  return dates;
}

/** Each trading day's reporting hours: the regular session, or the extended one (04:00 to its close). */
function sessionsBetween(first: string, last: string, reporting: "market_hours" | "extended_hours"): { open: number; close: number }[] {
  // The calendar writes extended hours as "0400", regular ones as "09:30".
  const hhmm = (s: string) => (s.includes(":") ? s : `${s.slice(0, 2)}:${s.slice(2)}`);
  return calendar(first, last).map((d) => {
    const [open, close] = reporting === "market_hours" ? [d.open, d.close] : [d.session_open, d.session_close];
    return { open: newYorkTime(d.date, hhmm(open)), close: newYorkTime(d.date, hhmm(close)) };
  });
}

// ---- the account's side: its activities folded ----------------------------------------------

/** One recorded change to the account's holdings, as money: a fill, or cash moved (a reset closes every position). */
export interface HoldingChange {
  t: number;
  /** Cash it moved (a fill's notional and fee). */
  cash: Money;
  /** A fill's symbol, its signed quantity (money-scaled: one share is 10^18) and price. */
  symbol?: string;
  qty?: Money;
  price?: Money;
  reset?: boolean;
}

/** Holdings at an instant: cash, each symbol's quantity, its latest price, and the instant of its last fill. */
export interface Holdings {
  cash: Money;
  qty: Record<string, Money>;
  price: Record<string, Money>;
  priceAt: Record<string, number>;
}

/** How a reset's cash activity (JNLC) begins its description: what tells it from other cash moved (the engine writes it). */
export const RESET_DESCRIPTION = "account reset to";

/** A stored activity (its Alpaca fields) as a change of holdings; null for one that moves nothing. */
export function holdingChange(a: { type: string; t: number; data: Record<string, unknown> }): HoldingChange | null {
  const money = (value: unknown): Money => (typeof value === "string" ? (parseMoney(value) ?? 0n) : 0n);
  if (a.type === "FILL") {
    const qty = money(a.data.qty);
    const price = money(a.data.price);
    const value = (qty * price) / MONEY_ONE;
    const fee = money(a.data.fee);
    const buy = a.data.side === "buy";
    return { t: a.t, cash: (buy ? -value : value) - fee, symbol: String(a.data.symbol), qty: buy ? qty : -qty, price };
  }
  const amount = money(a.data.net_amount);
  const reset = a.type === "JNLC" && typeof a.data.description === "string" && a.data.description.startsWith(RESET_DESCRIPTION);
  return amount === 0n && !reset ? null : { t: a.t, cash: amount, ...(reset ? { reset: true } : {}) };
}

/** `h` after one change, in place: a reset empties the positions before its cash moves. */
export function applyChange(h: Holdings, c: HoldingChange): void {
  if (c.reset) h.qty = {};
  h.cash += c.cash;
  if (c.symbol !== undefined) {
    const qty = (h.qty[c.symbol] ?? 0n) + c.qty!;
    if (qty === 0n) delete h.qty[c.symbol];
    else h.qty[c.symbol] = qty;
    h.price[c.symbol] = c.price!;
    h.priceAt[c.symbol] = c.t;
  }
}

/** What the account answers for a history: its holdings when the span starts, and every change in it. */
export interface PortfolioFold {
  createdAt: number;
  /** The instant `opening` holds the account at: nothing earlier can be valued from this fold. */
  from: number;
  opening: Holdings;
  changes: HoldingChange[];
  /** Symbols held at some point of the span: the ones whose bars value it. */
  symbols: string[];
}

/**
 * A mark: the holdings after every activity up to and including the one at (`t`, `id`), in
 * time order. An account keeps one every so many activities, so a history folds only what
 * came after the latest mark before its span, not the account's whole past.
 */
export interface HoldingsMark {
  t: number;
  id: string;
  holdings: Holdings;
}

export interface FoldOptions {
  /** The mark the activities follow (they are those after it); the account's opening otherwise. */
  start?: HoldingsMark | null;
  /** Make a mark every this many activities folded before `from` (counted from the start). */
  markEvery?: number;
  /** Receives each mark made. */
  mark?: (mark: HoldingsMark) => void;
}

const copyHoldings = (h: Holdings): Holdings => ({ cash: h.cash, qty: { ...h.qty }, price: { ...h.price }, priceAt: { ...h.priceAt } });

/** Folds the account's activities (in time order) up to `from`, and keeps those in [from, until). */
export function foldActivities(
  activities: Iterable<{ id?: string; type: string; t: number; data: Record<string, unknown> }>,
  from: number,
  until: number,
  createdAt: number,
  options: FoldOptions = {},
): PortfolioFold {
  const opening: Holdings = options.start ? copyHoldings(options.start.holdings) : { cash: 0n, qty: {}, price: {}, priceAt: {} };
  const changes: HoldingChange[] = [];
  const held = new Set<string>();
  const every = options.markEvery ?? 0;
  let folded = 0;
  for (const a of activities) {
    if (a.t >= until) break;
    const change = holdingChange(a);
    if (a.t < from) {
      if (change) applyChange(opening, change);
      if (every > 0 && ++folded % every === 0 && a.id !== undefined) options.mark?.({ t: a.t, id: a.id, holdings: copyHoldings(opening) });
    } else if (change) {
      changes.push(change);
      if (change.symbol !== undefined) held.add(change.symbol);
    }
  }
  for (const symbol of Object.keys(opening.qty)) held.add(symbol);
  return { createdAt, from, opening, changes, symbols: [...held].sort() };
}

// ---- the series -----------------------------------------------------------------------------

/** A symbol's price from an instant on: a bar's close once the bar has ended. */
export interface PricePoint {
  known: number;
  price: Money;
}

/**
 * The account's equity at each of `instants` (ascending): its cash plus each holding at the
 * symbol's latest price by then, the later of its last bar ended by the instant and its last
 * fill before it. A change at an instant counts from that instant on (windows are [start, end)).
 */
export function equityAt(fold: Pick<PortfolioFold, "from" | "opening" | "changes">, prices: Record<string, PricePoint[]>, instants: number[]): Money[] {
  // The opening already holds every change before `from`: an instant before it would count them.
  if (instants.length > 0 && instants[0]! < fold.from) throw new RangeError(`equity asked at ${instants[0]}, before the fold's start ${fold.from}`);
  const h: Holdings = { cash: fold.opening.cash, qty: { ...fold.opening.qty }, price: { ...fold.opening.price }, priceAt: { ...fold.opening.priceAt } };
  // Bars merged into one stream in time order, each tagged with its symbol.
  const bars = Object.entries(prices)
    .flatMap(([symbol, points]) => points.map((p) => ({ symbol, ...p })))
    .sort((a, b) => a.known - b.known);
  let c = 0;
  let b = 0;
  const out: Money[] = [];
  for (const at of instants) {
    for (;;) {
      const change = fold.changes[c];
      const bar = bars[b];
      const changeDue = change !== undefined && change.t < at;
      const barDue = bar !== undefined && bar.known <= at;
      if (!changeDue && !barDue) break;
      // Whichever came first; a bar ending at a fill's instant first, so the fill's price stands.
      if (barDue && (!changeDue || bar.known <= change.t)) {
        // Not over a fill the opening holdings saw later (the span's first bar can end before it).
        if (!(bar.known <= (h.priceAt[bar.symbol] ?? -Infinity))) h.price[bar.symbol] = bar.price;
        b++;
      } else {
        applyChange(h, change!);
        c++;
      }
    }
    let equity = h.cash;
    for (const [symbol, qty] of Object.entries(h.qty)) equity += (qty * (h.price[symbol] ?? 0n)) / MONEY_ONE;
    out.push(equity);
  }
  return out;
}

/** Alpaca's answer (`PortfolioHistory`): dollars as numbers to the cent, P&L against the base. */
export interface PortfolioHistoryView {
  timestamp: number[];
  equity: number[];
  profit_loss: number[];
  profit_loss_pct: number[];
  base_value: number;
  base_value_asof?: string;
  timeframe: PortfolioTimeframe;
}

const dollars = (m: Money): number => Number(formatMoney(roundHalfUp(m, CENT)));
/** a ÷ b to twelve decimals (toward zero), as the number that prints so: no float noise (0.010000000000000009) in a ratio; 0 while b is 0. */
const ratioOf = (a: Money, b: Money): number => (b === 0n ? 0 : Number((a * 10n ** 12n) / b) / 1e12);

/**
 * The history of a plan's windows. P&L is Alpaca's simple one, equity less the base (cash
 * moved in or out counts in it, as there). The base is the equity when the span began (its
 * first window's start: for 1D the previous day's close) or, per_day, when the point's New
 * York day began; or when the account opened, if that was later: a new account's P&L is
 * measured from its opening deposit, not from a point that already holds its first trades.
 * A reset is such an opening too: a point after one is measured from the equity the reset
 * left (as /v2/account's last_equity is; found in QA: the day's P&L after a reset to 50,000
 * read −49,999.45 here and 0 there). `pct` is equity ÷ base − 1 to twelve decimals, 0 while
 * the base is 0.
 */
export function portfolioHistory(plan: PortfolioPlan, fold: Pick<PortfolioFold, "from" | "opening" | "changes" | "createdAt">, prices: Record<string, PricePoint[]>): PortfolioHistoryView {
  // Each point's base is the equity at its base instant, or when the account opened if that came later.
  const opened = fold.createdAt + 1;
  const resets = fold.changes.filter((c) => c.reset).map((c) => c.t);
  let r = -1;
  const baseInstants = plan.baseAt.map((t, i) => {
    // The last reset before the point's end (the ends are in order).
    while (r + 1 < resets.length && resets[r + 1]! < plan.ends[i]!) r++;
    return Math.max(t, opened, r >= 0 ? resets[r]! + 1 : -Infinity);
  });
  // No window (a weekend of regular-session windows): the base is still the equity the span
  // began with, and said as of when (found in QA: base_value 0 and no base_value_asof).
  if (baseInstants.length === 0) baseInstants.push(Math.max(fold.from, opened));
  // One pass over the changes: the ends and the bases' instants together, in order.
  const instants = [...new Set([...plan.ends, ...baseInstants])].sort((a, b) => a - b);
  const values = equityAt(fold, prices, instants);
  const at = new Map(instants.map((t, i) => [t, values[i]!]));
  const equity = plan.ends.map((t) => at.get(t)!);
  const base = baseInstants.map((t) => at.get(t)!);
  const first = baseInstants[0];
  // The close of the day before the base (a day's start), or the day the account opened.
  const asof = first === undefined ? undefined : first === opened ? newYorkDateOf(fold.createdAt) : newYorkDateOf(first - 1);
  return {
    timestamp: plan.starts.map((t) => Math.floor(t / 1000)),
    equity: equity.map(dollars),
    profit_loss: equity.map((e, i) => dollars(e - base[i]!)),
    profit_loss_pct: equity.map((e, i) => ratioOf(e - base[i]!, base[i]!)),
    base_value: dollars(base[0] ?? 0n),
    ...(asof !== undefined ? { base_value_asof: asof } : {}),
    timeframe: plan.timeframe,
  };
}
