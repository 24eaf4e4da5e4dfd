// What the backtest CLI prints: the metrics under the names of docs/strategies.md in
// snake_case (JSON) or as a table, and the fills. JSON money is the engine's exact decimal strings.

/** The engine's Metrics (shared/strategy/metrics.ts) under the documented snake_case names. */
export function metricsJson(m) {
  return {
    total_return: m.totalReturn,
    cagr: m.cagr,
    annualized_volatility: m.volatility,
    sharpe: m.sharpe,
    sortino: m.sortino,
    calmar: m.calmar,
    max_drawdown: m.maxDrawdown,
    // Milliseconds, as the engine measures it (bars carry epoch-ms times).
    max_drawdown_duration: m.maxDrawdownDuration,
    win_rate: m.winRate,
    profit_factor: m.profitFactor,
    // Both are the mean P&L of a closed round trip, fees included (USD, a decimal string):
    // the contract defines expectancy that way, and the average trade is the same number.
    expectancy: m.expectancy,
    average_trade: m.expectancy,
    exposure: m.exposure,
    trades: m.trades,
    fees: m.fees,
    wins: m.wins,
    gross_profit: m.grossProfit,
    gross_loss: m.grossLoss,
    bars: m.bars,
    start_equity: m.startEquity,
    end_equity: m.endEquity,
  };
}

/** Each fill as the CLI reports it: time (RFC 3339), side, and decimal strings. */
export const fillsJson = (fills) => fills.map((f) => ({ time: f.transaction_time, side: f.side, qty: f.qty, price: f.price, fee: f.fee }));

// The table is for reading: a ratio too large for fixed notation (a CAGR over a few days)
// shows three significant digits with its exponent, and money shows cents, rounded half
// away from zero from the exact decimal by the engine's own money module (--json keeps
// every digit).
const FIXED_LIMIT = 1e9;
const number = (x, digits) => (Math.abs(x) < FIXED_LIMIT ? x.toFixed(digits) : x.toExponential(2));
const percent = (x) => (x === null ? "n/a" : `${number(x * 100, 2)} %`);
const fixed = (x, digits = 3) => (x === null ? "n/a" : number(x, digits));

/**
 * A decimal string in cents through shared/trading/money.ts (`parseMoney`, `roundHalfUp`,
 * `CENT`, `formatMoney`), which the CLI's bundle hands in; text that is not money stays as it is.
 */
function centsWith(money) {
  return (decimal) => {
    const value = money.parseMoney(decimal);
    return value === undefined ? decimal : money.formatMoney(money.roundHalfUp(value, money.CENT));
  };
}

function duration(ms) {
  if (ms === null) return "n/a";
  const minutes = Math.round(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  return `${days} d ${hours} h ${minutes % 60} min (${ms} ms)`;
}

function table(rows) {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
}

/** The readable report: run summary, metrics, then one line per fill. */
export function textReport({ spec, strategyName, result, bars, money: moneyModule }) {
  const cents = centsWith(moneyModule);
  const money = (x) => (x === null ? "n/a" : `${cents(x)} USD`);
  const m = metricsJson(result.metrics);
  const first = bars[0];
  const last = bars[bars.length - 1];
  const lines = [
    `${strategyName} on ${spec.symbol}: ${bars.length} bar${bars.length === 1 ? "" : "s"}${first ? ` from ${new Date(first.t).toISOString()} to ${new Date(last.t).toISOString()}` : ""}`,
    "",
    "Metrics",
    table([
      ["start equity", money(m.start_equity)],
      ["end equity", money(m.end_equity)],
      ["total return", percent(m.total_return)],
      ["CAGR", percent(m.cagr)],
      ["annualized volatility", percent(m.annualized_volatility)],
      ["Sharpe", fixed(m.sharpe)],
      ["Sortino", fixed(m.sortino)],
      ["Calmar", fixed(m.calmar)],
      ["max drawdown", percent(m.max_drawdown)],
      ["max drawdown duration", duration(m.max_drawdown_duration)],
      ["trades (closed round trips)", String(m.trades)],
      ["win rate", percent(m.win_rate)],
      // null when no trade lost (the ratio has no denominator), which reads better said.
      ["profit factor", m.profit_factor === null && m.trades > 0 ? "n/a (no losing trade)" : fixed(m.profit_factor)],
      ["expectancy / average trade", money(m.expectancy)],
      ["exposure", percent(m.exposure)],
      ["fees", money(m.fees)],
    ]),
    "",
    `Fills (${result.fills.length})`,
  ];
  const header = ["time", "side", "qty", "price", "fee"];
  const rows = result.fills.map((f) => [f.transaction_time, f.side, f.qty, f.price, f.fee]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => "  " + cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  if (rows.length > 0) lines.push(line(header), ...rows.map(line));
  else lines.push("  none");
  if (result.unsent > 0) lines.push("", `${result.unsent} order(s) placed on the last bar or in onStop were never sent.`);
  if (result.logs.length > 0) lines.push("", "Strategy log", ...result.logs.map((l) => `  ${new Date(l.t).toISOString()}  ${l.text}`));
  return lines.join("\n");
}
