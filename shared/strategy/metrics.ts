import { formatMoney, type Money } from "../trading/money";

// A backtest's metrics, one definition each (docs/strategies.md). Money (P&L, fees,
// expectancy) stays exact bigint arithmetic and is answered as decimal strings; ratios are
// numbers. Whatever is undefined for the data (no trades, zero volatility, no time spanned)
// is null, never NaN or Infinity.

export interface EquityPoint {
  t: number;
  equity: Money;
}

/** One fill, as money: `qty` in money-scaled units (1 share = 10^18), `value` = price × qty. */
export interface MetricFill {
  side: "buy" | "sell";
  qty: Money;
  value: Money;
  fee: Money;
}

export interface Metrics {
  bars: number;
  startEquity: string | null;
  endEquity: string | null;
  totalReturn: number | null;
  cagr: number | null;
  volatility: number | null;
  sharpe: number | null;
  sortino: number | null;
  maxDrawdown: number | null;
  /** ms from a peak to the first later bar at or above it (or the last bar); 0 when the curve never falls. */
  maxDrawdownDuration: number | null;
  calmar: number | null;
  trades: number;
  wins: number;
  winRate: number | null;
  profitFactor: number | null;
  expectancy: string | null;
  grossProfit: string;
  grossLoss: string;
  exposure: number | null;
  fees: string;
}

export interface MetricOptions {
  /** Bars whose close found a non-zero position. */
  exposedBars: number;
  /** Annual risk-free rate (0.02 = 2 %). */
  riskFree?: number;
}

const YEAR_MS = 365.25 * 24 * 3_600_000;
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
/**
 * a / b as a number: each exact amount rounded once to a double, then divided, so the
 * ratio is good to about 3·10⁻¹⁶ of itself, however small (a bar's return often is). One
 * float division instead of bigint arithmetic: a backtest takes two a bar.
 */
const ratio = (a: Money, b: Money): number => Number(a) / Number(b);

/**
 * An equity curve as a column of times and the equity at each index: what a long backtest
 * keeps (no object per bar; a backtest makes each point's bigint only when it is read).
 */
export interface EquityCurve {
  /** Each point's time: an array, or a typed column (a backtest's). */
  t: ArrayLike<number>;
  /** The equity at point i, for 0 ≤ i < t.length. */
  at(i: number): Money;
  /**
   * The last index j ≥ i whose points i..j are known to have point i's equity (a backtest's
   * bars while flat): the metrics skip such runs (absent, or answering i: each point is read).
   */
  sameUntil?(i: number): number;
  /**
   * The equity at point i less the equity at point i − 1 (0 < i), when the curve has it
   * without the equity itself (a backtest's bars while a position is held: the lots' value
   * of the close's move), else undefined: the metrics then add it to the point before
   * rather than make the point's equity and subtract.
   */
  change?(i: number): Money | undefined;
}

/** A curve over an array of equities, one per time. */
export const arrayCurve = (t: ArrayLike<number>, equity: readonly Money[]): EquityCurve => ({ t, at: (i) => equity[i]! });

/** Every point's equity, in order. */
export const equityValues = (curve: EquityCurve): Money[] => Array.from({ length: curve.t.length }, (_, i) => curve.at(i));

const columns = (curve: EquityPoint[] | EquityCurve): EquityCurve =>
  Array.isArray(curve)
    ? arrayCurve(
        curve.map((p) => p.t),
        curve.map((p) => p.equity),
      )
    : (curve as EquityCurve);

export function computeMetrics(points: EquityPoint[] | EquityCurve, fills: MetricFill[], options: MetricOptions): Metrics {
  const curve = columns(points);
  const n = curve.t.length;
  const first = n > 0 ? { t: curve.t[0]!, equity: curve.at(0) } : undefined;
  const last = n > 0 ? { t: curve.t[n - 1]!, equity: curve.at(n - 1) } : undefined;
  const years = first && last ? (last.t - first.t) / YEAR_MS : 0;
  // Bar returns in a typed column (no boxed number per bar); each sum runs in index order.
  const count = Math.max(0, n - 1);
  const returns = new Float64Array(count);
  let valid = true;
  let sum = 0;
  const fall = new Drawdown();
  let before = first?.equity ?? 0n;
  if (first) fall.add(first.t, before);
  for (let i = 1; i < n; i++) {
    const change = curve.change?.(i);
    const now = change === undefined ? curve.at(i) : before + change;
    fall.add(curve.t[i]!, now);
    // An unchanged equity (most bars of a flat account) is a zero return without the division.
    const r = before > 0n ? (now === before ? 0 : ratio(change ?? now - before, before)) : NaN;
    returns[i - 1] = r;
    if (!Number.isFinite(r)) valid = false;
    sum += r;
    before = now;
    // A run of points with this equity: zero returns (the column's zeros; the sum unchanged),
    // and to the drawdown the same as its last point alone.
    const same = now > 0n && curve.sameUntil ? curve.sameUntil(i) : i;
    if (same > i) {
      i = same;
      fall.add(curve.t[i]!, now);
    }
  }
  const growth = first && last && first.equity > 0n ? ratio(last.equity, first.equity) : null;
  // From the exact difference: end/start − 1 in floating point leaves noise (100 → 121 gives 0.20999999999999996).
  const totalReturn = first && last && first.equity > 0n ? finite(ratio(last.equity - first.equity, first.equity)) : null;
  const P = years > 0 && count > 0 ? count / years : null;
  const rfPerPeriod = P === null ? 0 : (options.riskFree ?? 0) / P;
  const mean = count > 0 ? sum / count : NaN;
  let squares = 0;
  let downSquares = 0;
  for (let i = 0; i < count; i++) {
    const r = returns[i]!;
    // Products, not `** 2`: exactly rounded in every runtime (see cagr below).
    const d = r - mean;
    const down = Math.min(r, 0);
    squares += d * d;
    downSquares += down * down;
  }
  const sd = count > 1 ? Math.sqrt(squares / (count - 1)) : NaN;
  const downside = count > 0 ? Math.sqrt(downSquares / count) : NaN;
  const annual = P === null || !valid ? null : Math.sqrt(P);
  // e^(ln g / years), not g ** (1 / years): V8's pow differs in the last bit between the
  // Workers runtime and Node 20 (found in QA: a platform backtest's cagr and calmar one unit
  // in the last place from the CLI's), its exp and log do not.
  const cagr = growth === null || years <= 0 ? null : finite(Math.exp(Math.log(growth) / years) - 1);
  const { drawdown, duration } = fall.result();
  const trades = roundTrips(fills);
  const profits = trades.filter((pl) => pl > 0n);
  const grossProfit = profits.reduce((s, pl) => s + pl, 0n);
  const grossLoss = trades.filter((pl) => pl < 0n).reduce((s, pl) => s - pl, 0n);
  return {
    bars: n,
    startEquity: first ? formatMoney(first.equity) : null,
    endEquity: last ? formatMoney(last.equity) : null,
    totalReturn,
    cagr,
    volatility: annual === null || !Number.isFinite(sd) ? null : finite(sd * annual),
    sharpe: annual === null || !(sd > 0) ? null : finite(((mean - rfPerPeriod) / sd) * annual),
    sortino: annual === null || !(downside > 0) ? null : finite(((mean - rfPerPeriod) / downside) * annual),
    maxDrawdown: drawdown,
    maxDrawdownDuration: duration,
    calmar: cagr === null || drawdown === null || drawdown === 0 ? null : finite(cagr / drawdown),
    trades: trades.length,
    wins: profits.length,
    winRate: trades.length === 0 ? null : profits.length / trades.length,
    profitFactor: grossLoss === 0n ? null : ratio(grossProfit, grossLoss),
    expectancy: trades.length === 0 ? null : formatMoney(trades.reduce((s, pl) => s + pl, 0n) / BigInt(trades.length)),
    grossProfit: formatMoney(grossProfit),
    grossLoss: formatMoney(grossLoss),
    exposure: n === 0 ? null : options.exposedBars / n,
    fees: formatMoney(fills.reduce((s, f) => s + f.fee, 0n)),
  };
}

/**
 * max_t (1 − E_t / max_{s≤t} E_s), and the longest peak-to-recovery time of a fall, made
 * point by point (in the returns' pass, so each point's equity is read once).
 */
class Drawdown {
  #peakT = 0;
  #peak = 0n;
  // The lowest value since the peak: the deepest fall from one peak is at its lowest value
  // (the rounded ratio is monotone in it), so one division per peak rather than per bar.
  #low = 0n;
  #lastT = 0;
  #drawdown = 0;
  #duration = 0;
  #fellSince = false;
  #points = 0;

  add(t: number, value: Money): void {
    this.#lastT = t;
    if (this.#points++ === 0 || value >= this.#peak) {
      // At or above the peak: a fall since it (if any) has recovered here.
      this.#deepest();
      if (this.#fellSince && t - this.#peakT > 0) this.#duration = Math.max(this.#duration, t - this.#peakT);
      this.#peakT = t;
      this.#peak = value;
      this.#low = value;
      this.#fellSince = false;
      return;
    }
    this.#fellSince = true;
    if (value < this.#low) this.#low = value;
  }

  result(): { drawdown: number | null; duration: number | null } {
    if (this.#points === 0) return { drawdown: null, duration: null };
    this.#deepest();
    const duration = this.#fellSince ? Math.max(this.#duration, this.#lastT - this.#peakT) : this.#duration;
    return { drawdown: this.#drawdown, duration };
  }

  #deepest(): void {
    if (this.#fellSince && this.#peak > 0n) this.#drawdown = Math.max(this.#drawdown, ratio(this.#peak - this.#low, this.#peak));
  }
}

/** P&L of each closed round trip (flat → position → flat), fees included; an open one at the end is not counted. */
export function roundTrips(fills: MetricFill[]): Money[] {
  const closed: Money[] = [];
  let position = 0n;
  let pl = 0n;
  for (const f of fills) {
    position += f.side === "buy" ? f.qty : -f.qty;
    pl += (f.side === "sell" ? f.value : -f.value) - f.fee;
    if (position === 0n) {
      closed.push(pl);
      pl = 0n;
    }
  }
  return closed;
}
