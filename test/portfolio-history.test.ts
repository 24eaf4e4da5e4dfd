import { beforeAll, describe, expect, it } from "vitest";
import type { PortfolioHistoryView } from "../shared/trading/portfolio-history";
import { call, createKey, expectError, json, signUp, type TestUser } from "./helpers";
import { accountJson, placed, traderAndMarket } from "./trading/helpers";

// `GET /v2/account/portfolio/history` through the API: Alpaca's shape, the equity the account
// shows at its last point (a fill valued at the symbol's last trade, cash moved in by a
// deposit), refusals that name the parameter, and the permissions. The windows' rules and
// the series against a model are test/trading/portfolio-history.test.ts.

type History = PortfolioHistoryView;

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

const history = async (user: TestUser, query: string) => {
  const res = await call(`/v2/account/portfolio/history?${query}`, { token: user.access, ip: user.ip });
  if (res.status !== 200) throw new Error(`history: ${res.status} ${await res.text()}`);
  return json<History>(res);
};
const MINUTES = "period=1D&timeframe=1Min&intraday_reporting=continuous";

describe("portfolio history", () => {
  it("starts with the account's opening deposit, in Alpaca's shape", async () => {
    const user = await signUp();
    const before = Date.now();
    const h = await history(user, MINUTES);
    expect(h.timeframe).toBe("1Min");
    expect(h.timestamp.length).toBeGreaterThan(0);
    // Left-labeled minutes, the first the one the account was opened in, the last this one.
    for (const t of h.timestamp) expect(t % 60).toBe(0);
    expect(h.timestamp.at(-1)! * 1000).toBeLessThanOrEqual(Date.now());
    expect(h.timestamp.at(-1)! * 1000).toBeGreaterThan(before - 120_000);
    const equity = Number((await accountJson(user)).equity);
    expect(h.equity.every((e) => e === equity)).toBe(true);
    expect(h.profit_loss.every((p) => p === 0)).toBe(true);
    expect(h.profit_loss_pct.every((p) => p === 0)).toBe(true);
    expect(h.base_value).toBe(equity);
    expect(h.base_value_asof).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect([h.equity.length, h.profit_loss.length, h.profit_loss_pct.length]).toEqual([h.timestamp.length, h.timestamp.length, h.timestamp.length]);
  });

  it("ends at the equity the account shows: a fill valued at the last trade, and cash deposited", async () => {
    const { user, market } = await traderAndMarket(admin);
    const opening = Number((await accountJson(user)).equity);
    const beforeTrading = new Date().toISOString();
    await placed(user, { symbol: market.symbol, qty: "10", side: "buy", type: "market", time_in_force: "day" });
    await market.trade("110.00");
    const deposit = await call(`/api/admin/accounts/${user.id}/deposits`, { body: { amount: "250.00" }, token: admin.access, ip: admin.ip });
    expect(deposit.status).toBe(200);
    const shown = Number((await accountJson(user)).equity);
    expect(shown).not.toBe(opening);
    const h = await history(user, `${MINUTES}&pnl_reset=no_reset`);
    expect(h.equity.at(-1)).toBe(shown);
    // P&L from the account's opening deposit (it opened within the span), to the cent.
    expect(h.base_value).toBe(opening);
    h.equity.forEach((e, i) => {
      expect(h.profit_loss[i]).toBeCloseTo(e - h.base_value, 2);
      expect(h.profit_loss_pct[i]).toBeCloseTo(e / h.base_value - 1, 9);
    });
    // A timestamp it answered (epoch seconds) is taken back as a bound.
    const fromPoint = await history(user, `timeframe=1Min&intraday_reporting=continuous&pnl_reset=no_reset&start=${h.timestamp.at(-1)}`);
    expect(fromPoint.timestamp[0]).toBe(h.timestamp.at(-1));
    // A history that ends before the order shows the opening equity at its end.
    const earlier = await history(user, `period=1D&timeframe=1Min&intraday_reporting=continuous&end=${beforeTrading}`);
    expect(earlier.equity.at(-1)).toBe(opening);
    // A day's point says the same.
    const daily = await history(user, "period=1W&timeframe=1D&intraday_reporting=continuous");
    expect(daily.timeframe).toBe("1D");
    expect(daily.equity.at(-1)).toBe(shown);
    // Today's New York midnight, in seconds.
    expect(new Date(daily.timestamp.at(-1)! * 1000).toLocaleString("en-US", { timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })).toBe("00:00");
  });

  it("refuses what it cannot answer with 422 naming the parameter, and changes nothing", async () => {
    const user = await signUp();
    const refused = async (query: string, path: string) => {
      const body = await expectError(await call(`/v2/account/portfolio/history?${query}`, { token: user.access, ip: user.ip }), 422);
      expect(body.details.map((d) => d.path)).toContain(path);
      return body.message;
    };
    expect(await refused("period=1D&start=2026-12-01T00:00:00Z&end=2026-12-02T00:00:00Z", "period")).toBe("give at most two of start, end (or date_end) and period");
    await refused("period=1X", "period");
    await refused("timeframe=1Week", "timeframe");
    expect(await refused("period=2M&timeframe=15Min", "timeframe")).toBe("15Min covers at most 30 days; use 1D for a longer span");
    await refused("date_end=2026-02-30", "date_end");
    await refused("start=yesterday", "start");
    await refused("cashflow_types=ALL", "cashflow_types");
    await refused("pnl_reset=sometimes", "pnl_reset");
    await refused("extended_hours=maybe", "extended_hours");
    expect((await history(user, "cashflow_types=NONE")).timeframe).toBe("1D");
  });

  it("needs trading:read: a read key may ask, no caller may not", async () => {
    const user = await signUp();
    const key = await createKey(user, ["read"]);
    expect((await call("/v2/account/portfolio/history", { apiKey: key })).status).toBe(200);
    await expectError(await call("/v2/account/portfolio/history"), 401);
  });
});
