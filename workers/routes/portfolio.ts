import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { unprocessable } from "../../shared/errors";
import { nextBucketStart, parseTimeframe } from "../../shared/market/timeframe";
import { decimalToTicks, ticksOnGrid, type InstrumentSpec } from "../../shared/market/instrument";
import type { HistoryQuery } from "../../shared/market/history";
import { errorResponses, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { PortfolioHistory, PortfolioHistoryQuery } from "../../shared/schemas/trading";
import { priceOf } from "../../shared/trading/money";
import { portfolioHistory, portfolioSpan, portfolioWindows, readSpan, type PortfolioPlan, type PortfolioTimeframe, type PricePoint } from "../../shared/trading/portfolio-history";
import { assetInfo, findAssets } from "../../platform/assets";
import type { AppEnv } from "../context";
import { instantParam, tracedAccountOf } from "../lib/accounts";
import { marketOf } from "../lib/objects";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// `GET /v2/account/portfolio/history` (docs/alpaca-compat.md, "Portfolio history"): the
// account object folds its activities over the span, each symbol held in it gives its bars
// at the timeframe, and shared/trading/portfolio-history.ts makes the series.
export const portfolio = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** The symbol objects' bars each window is valued with: the timeframe's own (a New York day's, the symbol's day). */
const BAR_TIMEFRAME: Record<PortfolioTimeframe, string> = { "1Min": "1Min", "5Min": "5Min", "15Min": "15Min", "1H": "1Hour", "1D": "1Day" };
const PAGE = 10_000;

portfolio.openapi(
  createRoute({
    method: "get",
    path: "/v2/account/portfolio/history",
    tags: ["account"],
    summary: "The account's equity and P&L over time (Alpaca's portfolio history)",
    description:
      "Equity at the end of each window, from the account's fills and cash activities and each held symbol's bars (its last bar that ended by then, or a later fill's price). Windows start no earlier than the account. P&L is equity less the base: the equity when the span began (1D: the previous close) or, per_day (intraday's default), when the window's New York day began; or at the account's opening if that came later.",
    security: SESSION_OR_KEY,
    middleware: [requirePermission("trading:read")] as const,
    request: { query: PortfolioHistoryQuery },
    responses: { 200: jsonContent(PortfolioHistory, "The history"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.cashflow_types !== undefined && q.cashflow_types.trim().toUpperCase() !== "NONE") {
      throw unprocessable("cashflow_types is not supported: send NONE or leave it out (deposits and resets show in equity and P&L)", [{ path: "cashflow_types", message: "only NONE" }]);
    }
    const request = {
      period: q.period,
      timeframe: q.timeframe,
      intradayReporting: q.intraday_reporting ?? (q.extended_hours ? "extended_hours" : undefined),
      pnlReset: q.pnl_reset,
      start: instantParam("start", q.start) ?? undefined,
      end: instantParam("end", q.end) ?? undefined,
      dateEnd: q.date_end,
    };
    const now = Date.now();
    // The span first (no window made), the account's history over it, then the windows from its opening on.
    const spanned = portfolioSpan(request, now);
    if (!spanned.ok) throw unprocessable(spanned.problem.message, [spanned.problem]);
    const traceparent = c.get("traceparent");
    const { from, until } = readSpan(spanned.span, now);
    const fold = await tracedAccountOf(c.env, principalOf(c).userId, traceparent).portfolioFold(from, until);
    const plan = portfolioWindows(spanned.span, now, fold.createdAt);
    // No window to value (a span before the account, or after now): no bars to read.
    const prices = plan.starts.length === 0 ? {} : await barPrices(c.env, fold.symbols, plan, from, until, now, traceparent);
    return c.json(portfolioHistory(plan, fold, prices), 200);
  },
);

/**
 * Each symbol's closes over [from, until), and its last one before, as the instants they
 * became known: a bar's end, or now for the bar still open (its close so far is the last
 * trade), so the window still open is valued as the account is.
 */
async function barPrices(env: Env, symbols: string[], plan: PortfolioPlan, from: number, until: number, now: number, traceparent: string | null): Promise<Record<string, PricePoint[]>> {
  const rows = await findAssets(env, symbols);
  const label = BAR_TIMEFRAME[plan.timeframe];
  const parsed = parseTimeframe(label);
  if (!parsed.ok) throw new Error(parsed.message);
  const timeframe = parsed.timeframe;
  const entries = await Promise.all(
    symbols.map(async (symbol, i) => {
      const row = rows[i];
      // A symbol the registry no longer lists is valued at its last fill.
      if (!row) return [symbol, []] as const;
      const spec: InstrumentSpec = assetInfo(row).spec;
      const stub = marketOf(env, symbol, traceparent);
      const points: PricePoint[] = [];
      // A close (a JSON number, the double nearest its decimal) back to its ticks by the
      // instrument's exact reading, then to money: no arithmetic on the double.
      const add = (bars: { t: string; c: number }[]) => {
        for (const bar of bars) {
          const ticks = ticksOnGrid(bar.c, spec) ?? decimalToTicks(bar.c, spec);
          if (ticks !== undefined) points.push({ known: Math.min(nextBucketStart(Date.parse(bar.t), timeframe, spec.timeZone), now), price: priceOf(ticks, spec) });
        }
      };
      // The last bar before the span values it until the span's first bar ends.
      add((await stub.bars(label, { start: 0, end: from - 1, limit: 1, sort: "desc" })).items);
      let query: HistoryQuery = { start: from, end: until, limit: PAGE, sort: "asc" };
      for (;;) {
        const page = await stub.bars(label, query);
        add(page.items);
        if (!page.next) break;
        query = { ...query, cursor: page.next as [number, number] };
      }
      return [symbol, points] as const;
    }),
  );
  return Object.fromEntries(entries);
}
