import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccountEngine, type EngineDeps } from "../../shared/trading/account-engine";
import { MemoryBook } from "../../shared/trading/memory";
import { basisPoints, formatMoney, parseMoney } from "../../shared/trading/money";
import { DEFAULT_LIMITS } from "../../shared/trading/risk";
import { DEFAULT_VENUE } from "../../shared/venue/venue";
import { orderFee, type Report } from "../../shared/venue/venue";
import { fillView, type FillRecord } from "../../shared/trading/views";
import { COIN, harness, STOCK, usd } from "./engine-harness";

// The account's rules on the AccountEngine, in memory: no Durable Object, no clock but the
// test's. Each defect the engine split exposed has its test here.

const refusal = (o: { ok: boolean; refusal?: { rule: string } }) => (o.ok ? "accepted" : o.refusal!.rule);
const refusalMessage = (o: { ok: boolean; refusal?: { message: string } }) => (o.ok ? "accepted" : o.refusal!.message);

describe("placing orders", () => {
  it("an engine that builds no domain events or no trade updates, or keeps fills as records (a backtest's), places, fills and numbers everything as one that does", async () => {
    const run = async (events: boolean, tradeUpdates = true, fillRecords = false) => {
      const h = harness({ events, tradeUpdates, fillRecords });
      await h.quote("99.00", "100.00");
      await h.trade("99.50");
      const answers = [
        await h.place({ side: "buy", qty: "10" }),
        await h.place({ side: "buy", qty: "5", type: "limit", limit_price: "98.00" }),
        await h.place({ side: "sell", qty: "4", type: "limit", limit_price: "101.00" }),
      ];
      await h.quote("101.00", "102.00");
      await h.trade("101.50");
      await h.deliver();
      const open = h.book.openOrders();
      answers.push(...(await Promise.all(open.map((o) => h.runner.cancel(o.id).then(() => h.runner.place({ side: "sell", type: "market", time_in_force: "day", qty: "1" }, h.asset(), null))))));
      await h.deliver();
      // The harness reconciles fills by their views' execution ids.
      if (!fillRecords) h.reconcile();
      const query = { open: null, after: null, until: null, direction: "asc", limit: 500, symbols: null, side: null } as const;
      const activities = h.book.activities({ types: null, after: null, until: null, direction: "asc", pageSize: 500, pageToken: null });
      return {
        answers,
        orders: h.book.orders(query),
        // A record's view is the activity an engine without records stores.
        activities: fillRecords ? activities.map((a) => (a.type === "FILL" ? { ...a, data: fillView(a.data as unknown as FillRecord) } : a)) : activities,
        records: activities.filter((a) => a.type === "FILL" && "priceTicks" in a.data).length,
        ledger: h.engine.ledger,
        eventSeq: h.engine.state.eventSeq,
        events: h.book.events.length,
        tradeUpdates: h.tradeUpdates,
      };
    };
    const built = await run(true);
    const skipped = await run(false);
    expect(built.events).toBeGreaterThan(5);
    expect(skipped.events).toBe(0);
    // Numbered and their ids drawn all the same: every order, fill and id is the same.
    expect(skipped.eventSeq).toBe(built.eventSeq);
    expect({ ...skipped, events: built.events }).toEqual(built);
    // Trade updates are built unless asked not to; without them, nothing else changes.
    expect(built.tradeUpdates).toBeGreaterThan(5);
    const silent = await run(false, false);
    expect(silent.tradeUpdates).toBe(0);
    expect({ ...silent, tradeUpdates: skipped.tradeUpdates }).toEqual(skipped);
    const quietWithEvents = await run(true, false);
    expect(quietWithEvents.tradeUpdates).toBe(0);
    expect({ ...quietWithEvents, tradeUpdates: built.tradeUpdates }).toEqual(built);
    // Fills kept as records: the same account, each record's view the fill activity.
    const records = await run(false, false, true);
    expect(records.records).toBeGreaterThanOrEqual(3);
    expect({ ...records, records: 0 }).toEqual(silent);
    const recordsWithUpdates = await run(true, true, true);
    expect({ ...recordsWithUpdates, records: 0 }).toEqual(built);
  });

  it("a market buy fills at the ask and reconciles with the venue's fill", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "10" });
    expect(placed.ok && placed.value.status).toBe("filled");
    expect(h.engine.ledger.positions.AAA?.qty).toBe(10);
    h.reconcile();
  });

  it("refuses with the rule that refused, and changes nothing", async () => {
    const h = harness({ limits: { maxOrderQty: "50", maxOrderNotional: "6000", priceBandPct: 10, dailyLossLimit: "100" }, cash: "4000" });
    await h.quote("99.00", "100.00");
    await h.trade("100.00");
    const before = h.book.commits;
    expect(refusal(await h.place({ side: "buy", qty: "51" }))).toBe("max_order_qty");
    expect(refusal(await h.place({ side: "buy", qty: "50", type: "limit", limit_price: "99.00" }))).toBe("buying_power");
    expect(refusal(await h.place({ side: "buy", qty: "1", type: "limit", limit_price: "111.00" }))).toBe("price_band");
    // A stop limit's band is around its stop: through it at the stop is refused, ...
    expect(refusal(await h.place({ side: "buy", qty: "1", type: "stop_limit", stop_price: "120.00", limit_price: "132.01", time_in_force: "gtc" }))).toBe("price_band");
    expect(refusal(await h.place({ side: "sell", qty: "1", type: "stop_limit", stop_price: "80.00", limit_price: "71.99", time_in_force: "gtc" }))).toBe("price_band");
    expect(refusal(await h.place({ side: "sell", qty: "1" }))).toBe("position");
    expect(refusal(await h.place({ side: "buy", qty: "1.5" }))).toBe("invalid_order");
    expect(refusal(await h.runner.place({ side: "buy", type: "market", time_in_force: "day", qty: "1" }, { ...h.asset(), tradable: false }, null))).toBe("tradable");
    expect(h.book.commits).toBe(before);
    h.reconcile();
  });

  it("takes a stop limit far from the market whose limit is within the band around its stop, as Alpaca does", async () => {
    const h = harness({ limits: { priceBandPct: 10 } });
    await h.quote("99.00", "100.00");
    await h.trade("100.00");
    const placed = await h.place({ side: "buy", stop_price: "120.00", limit_price: "132.00", qty: "1", type: "stop_limit", time_in_force: "gtc" });
    expect(placed.ok ? placed.value.status : placed.refusal.message).toBe("new");
    h.reconcile();
  });

  it("refuses a stop already at or through the last price, which would trigger on arrival, as Alpaca does (QA: a sell stop above the market sold at once)", async () => {
    const h = harness({ limits: { priceBandPct: 10 } });
    await h.quote("99.00", "100.00");
    await h.trade("100.00");
    const before = h.book.commits;
    for (const fields of [
      { side: "buy", type: "stop", stop_price: "95.00" },
      { side: "buy", type: "stop", stop_price: "100.00" },
      { side: "buy", type: "stop_limit", stop_price: "95.00", limit_price: "110.00" },
      { side: "sell", type: "stop", stop_price: "100.00" },
      { side: "sell", type: "stop_limit", stop_price: "105.00", limit_price: "104.00" },
    ] as const) {
      const placed = await h.place({ ...fields, qty: "1", time_in_force: "gtc" });
      expect(placed.ok, JSON.stringify(fields)).toBe(false);
      if (placed.ok) continue;
      expect(placed.refusal.rule).toBe("invalid_order");
      expect(placed.refusal.details).toEqual([{ path: "stop_price", message: expect.stringContaining(`${fields.side} stop must be ${fields.side === "buy" ? "above" : "below"} it`) }]);
    }
    expect(refusalMessage(await h.place({ side: "sell", type: "stop", stop_price: "105.00", qty: "1", time_in_force: "gtc" }))).toBe(
      "stop_price 105.00 is above the last price 100.00: a sell stop must be below it, or it would trigger at once (to trade now, send a market or limit order)",
    );
    // Nothing was placed or reserved; a stop on the right side still rests.
    expect(h.book.commits).toBe(before);
    expect((await h.place({ side: "buy", type: "stop", stop_price: "100.01", qty: "1", time_in_force: "gtc" })).ok).toBe(true);
    h.reconcile();
  });

  it("refuses everything when the symbol has no price, and marketable orders when its quote is stale", async () => {
    const h = harness();
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("no_price");
    await h.quote("99.00", "100.00");
    const fresh = h.venues.marketPrice.bind(h.venues);
    h.venues.marketPrice = async (symbol) => ({ ...(await fresh(symbol))!, stale: true });
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("stale_quote");
    expect(refusal(await h.place({ side: "buy", qty: "1", type: "limit", limit_price: "100.00" }))).toBe("stale_quote");
    // A passive limit does not trade on arrival, so a stale quote does not matter to it.
    expect(refusal(await h.place({ side: "buy", qty: "1", type: "limit", limit_price: "98.00" }))).toBe("accepted");
  });

  it("refuses a notional sell worth more than the free position, and sells one that fits", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    await h.trade("100.00");
    expect(refusal(await h.place({ side: "buy", qty: "6" }))).toBe("accepted");
    await h.trade("100.00");
    const before = structuredClone(h.engine.ledger);
    // Six shares at the last price are worth 600: 5,000 is refused, naming both amounts.
    const tooMuch = await h.place({ side: "sell", notional: "5000", qty: undefined });
    expect(refusal(tooMuch)).toBe("position");
    expect(tooMuch.ok ? "" : tooMuch.refusal.message).toBe("insufficient qty available for order (requested: 5000.00 USD of AAA, available: 600.00 USD at the last price 100.00)");
    expect(h.engine.ledger).toEqual(before);
    expect(h.engine.ledger.positions.AAA!.qty).toBe(6);
    // 250 fits: it sells three shares at the bid (99) and stops short of a fourth.
    const fits = await h.place({ side: "sell", notional: "250", qty: undefined });
    if (!fits.ok) throw new Error(fits.refusal.message);
    expect(h.engine.ledger.positions.AAA!.qty).toBe(4);
    h.reconcile();
  });

  it("a notional order's last execution is its fill, with price and quantity, as a qty order's is", async () => {
    const h = harness();
    // Four shares at the ask, then the levels behind it: 1,000 USD takes several executions.
    await h.quote("99.00", "100.00", "4");
    await h.trade("99.50");
    const placed = await h.place({ side: "buy", notional: "1000", qty: undefined });
    if (!placed.ok) throw new Error(placed.refusal.message);
    const order = h.book.order(placed.value.id)!;
    expect(order.status).toBe("filled");
    const events = h.updates.filter((u) => u.data.order.id === order.id).map((u) => u.data);
    expect(events.map((e) => e.event)).toEqual(["new", ...events.slice(1, -1).map(() => "partial_fill"), "fill"]);
    expect(events.length).toBeGreaterThan(2);
    // Every execution carries its price and quantity, and they add up to the order's.
    const executions = events.filter((e) => e.event !== "new");
    for (const e of executions) expect([e.execution_id, e.price, e.qty]).not.toContain(undefined);
    const lots = executions.reduce((sum, e) => sum + Number(e.qty), 0);
    expect(lots).toBe(order.filledQty);
    expect(events.at(-1)!.order.status).toBe("filled");
    h.reconcile();
  });

  it("lists the fills of one millisecond in the order they happened, both ways", async () => {
    const h = harness({ randomIds: true });
    await h.quote("99.00", "100.00", "2");
    await h.trade("99.50");
    // One sweep: several fills, all at the same instant.
    expect(refusal(await h.place({ side: "buy", qty: "9" }))).toBe("accepted");
    const query = { types: ["FILL"], after: null, until: null, pageSize: 100, pageToken: null };
    const asc = h.book.activities({ ...query, direction: "asc" }).map((a) => a.data as { cum_qty: string; transaction_time: string });
    expect(asc.length).toBeGreaterThan(2);
    expect(new Set(asc.map((a) => a.transaction_time)).size).toBe(1);
    expect(asc.map((a) => Number(a.cum_qty))).toEqual([...asc.map((a) => Number(a.cum_qty))].sort((x, y) => x - y));
    const desc = h.book.activities({ ...query, direction: "desc" }).map((a) => a.data as { cum_qty: string });
    expect(desc.map((a) => a.cum_qty)).toEqual(asc.map((a) => a.cum_qty).reverse());
  });

  it("counts what open buys may still fill toward the position limit: not a canceled one, not the one a replace replaces", async () => {
    const h = harness({ limits: { maxPositionNotional: "1000" } });
    await h.quote("99.00", "101.00");
    await h.trade("100.00");
    const rest = async (qty: string) => h.place({ side: "buy", qty, type: "limit", limit_price: "95.00" });
    const first = await rest("4");
    const second = await rest("4");
    if (!first.ok || !second.ok) throw new Error("not placed");
    // Every lot at the last price: 8 open and 3 more, 1,100, above 1,000.
    expect(refusal(await rest("3"))).toBe("max_position");
    await h.runner.cancel(first.value.id);
    expect(h.book.order(first.value.id)!.status).toBe("canceled");
    const third = await rest("3");
    expect(refusal(third)).toBe("accepted");
    // Replacing the second with 6 lots: the 3 of the third and the 6, 900; the second's own
    // 4 are not counted again.
    const replaced = await h.runner.replace(second.value.id, { qty: "6" }, h.asset(), null);
    expect(refusal(replaced)).toBe("accepted");
    // Now 9 open lots (900): one more fits (1,000), two do not (1,100).
    expect(refusal(await rest("2"))).toBe("max_position");
    expect(refusal(await rest("1"))).toBe("accepted");
    h.reconcile();
  });

  it("values every lot toward the position limit at the last price, so an order it accepts never makes the same order refused", async () => {
    // Found in QA: a buy far below the market was valued at its limit (100,000 at 0.01,
    // 1,000) and accepted; resting, its lots were valued at the last price (18,750,000), and
    // the identical order, and every other buy, was refused.
    const h = harness({ limits: { maxPositionNotional: "2000000", maxOrderQty: "1000000" }, cash: "1000000" });
    await h.quote("187.00", "188.00");
    await h.trade("187.50");
    const far = () => h.place({ side: "buy", qty: "100000", type: "limit", limit_price: "0.01" });
    expect(refusal(await far())).toBe("max_position");
    const fits = () => h.place({ side: "buy", qty: "5000", type: "limit", limit_price: "0.01" });
    expect(refusal(await fits())).toBe("accepted");
    // 5,000 resting (937,500 at the last price) and 5,000 more fit under 2,000,000: the same order is accepted again.
    expect(refusal(await fits())).toBe("accepted");
    expect(refusal(await fits())).toBe("max_position");
    h.reconcile();
  });

  it("a repeated client_order_id returns the original order; reused for a different order it is refused", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const mine = { side: "buy", qty: "1", type: "limit", limit_price: "90.00", client_order_id: "mine" } as const;
    const a = await h.place(mine);
    // Retries of the same order (also at once, and written differently) get the original.
    const [b, c] = await Promise.all([h.place(mine), h.place({ ...mine, qty: "1.0", limit_price: "90" })]);
    expect(a.ok && b.ok && c.ok && b.value.id === a.value.id && c.value.id === a.value.id).toBe(true);
    // A different order under the same id is a mistake: refused, nothing placed.
    for (const other of [{ ...mine, qty: "2" }, { ...mine, type: "market", limit_price: undefined }, { ...mine, side: "sell" }, { ...mine, time_in_force: "day" }] as const) {
      const refusedOrder = await h.place(other);
      expect(refusal(refusedOrder)).toBe("client_order_id");
    }
    expect(h.book.openOrders()).toHaveLength(1);
  });

  it("enforces the daily loss limit on buys only, and a new trading day clears it", async () => {
    const h = harness({ limits: { dailyLossLimit: "5" }, venue: { takerBps: 0 } });
    await h.quote("99.00", "100.00");
    await h.place({ side: "buy", qty: "10" });
    await h.quote("90.00", "91.00");
    await h.place({ side: "sell", qty: "5" });
    expect(h.engine.state.day.loss).toBe(usd("50").toString());
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("daily_loss");
    expect(refusal(await h.place({ side: "sell", qty: "1" }))).toBe("accepted");
    h.advance(24 * 3_600_000);
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("accepted");
    h.reconcile();
  });

  it("closes a position by qty and by percentage", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    await h.place({ side: "buy", qty: "10" });
    const close = (qty: string | null, pct: string | null) => h.runner.closePosition("AAA", h.asset(), qty, pct, null);
    const tooMuch = await close("11", null);
    expect(refusal(tooMuch)).toBe("position");
    // Nothing holds any of it: the message does not send the trader to cancel orders they do not have.
    expect(tooMuch.ok ? "" : tooMuch.refusal.message).toBe("insufficient qty available for order (requested: 11, available: 10): more than the position holds");
    expect(refusal(await close(null, "0.5"))).toBe("invalid_order");
    // Read as a qty is: plain or exponent notation, at most nine decimals, above 0 and at most 100.
    for (const bad of ["abc", "0", "-5", "100.000000001", "1e3", "12.3456789012", ""]) {
      const outcome = await close(null, bad);
      expect(refusal(outcome), bad).toBe("invalid_order");
      if (!outcome.ok) expect(outcome.refusal.message).toBe("percentage must be a number above 0 and at most 100, with at most nine decimals");
    }
    expect(refusal(await close(null, " 5e1 "))).toBe("accepted");
    expect(h.engine.ledger.positions.AAA?.qty).toBe(5);
    expect(refusal(await close("2", null))).toBe("accepted");
    expect(refusal(await close(null, null))).toBe("accepted");
    expect(h.engine.ledger.positions.AAA?.qty).toBe(0);
    h.reconcile();
  });

  it("refuses to close the whole position while open sells hold part of it, and sells nothing", async () => {
    // Found in QA: the close sold the free part and answered as if the position were closed.
    const h = harness();
    await h.quote("99.00", "100.00");
    await h.place({ side: "buy", qty: "10" });
    const resting = await h.place({ side: "sell", qty: "6", type: "limit", limit_price: "105.00" });
    if (!resting.ok) throw new Error("not placed");
    const close = (qty: string | null, pct: string | null) => h.runner.closePosition("AAA", h.asset(), qty, pct, null);
    for (const [qty, pct] of [[null, null], [null, "100"], [null, "50"]] as const) {
      const outcome = await close(qty, pct);
      expect(refusal(outcome), `${qty} ${pct}`).toBe("position");
      if (!outcome.ok) expect(outcome.refusal.message).toContain(`(requested: ${pct === "50" ? 5 : 10}, available: 4): the rest is held by open orders`);
    }
    expect(h.engine.ledger.positions.AAA?.qty).toBe(10);
    expect(refusal(await close("4", null))).toBe("accepted");
    expect(h.engine.ledger.positions.AAA?.qty).toBe(6);
    await h.runner.cancel(resting.value.id);
    expect(refusal(await close(null, null))).toBe("accepted");
    expect(h.engine.ledger.positions.AAA?.qty).toBe(0);
    h.reconcile();
  });
});

describe("a blocked account", () => {
  it("cancels its open orders, refuses new ones and says so, until the block is lifted", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const resting = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00" });
    if (!resting.ok) throw new Error("not placed");
    await h.runner.setTradingBlocked(true, "user disabled", null);
    expect(h.book.order(resting.value.id)!.status).toBe("canceled");
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("trading_blocked");
    const blocked = await h.runner.account();
    expect([blocked.status, blocked.trading_blocked, blocked.buying_power]).toEqual(["INACTIVE", true, "100000.00"]);
    await h.runner.setTradingBlocked(false, "user enabled", null);
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("accepted");
    const active = await h.runner.account();
    expect([active.status, active.trading_blocked]).toEqual(["ACTIVE", false]);
    h.reconcile();
  });
});

describe("resetting the account", () => {
  it("is bounded, keeps the day's loss, and leaves a record", async () => {
    const h = harness({ limits: { dailyLossLimit: "5", maxResetCash: "200000" }, venue: { takerBps: 0 } });
    await h.quote("99.00", "100.00");
    await h.place({ side: "buy", qty: "10" });
    await h.quote("90.00", "91.00");
    await h.place({ side: "sell", qty: "10" });
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("daily_loss");
    expect(refusal(await h.runner.reset(usd("200000.01"), null))).toBe("reset_limit");
    expect(h.engine.ledger.cash).toBe(usd("99900"));
    expect(refusal(await h.runner.reset(usd("200000"), null))).toBe("accepted");
    expect(h.engine.ledger.cash).toBe(usd("200000"));
    // The reset is no way around the daily loss limit.
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("daily_loss");
    const records = h.book.activities({ types: ["JNLC"], after: null, until: null, direction: "asc", pageSize: 10, pageToken: null });
    // The amount moved: with the fills and the opening deposit, the activities add up to the cash.
    expect(records.map((r) => r.data.net_amount)).toEqual(["100100.00"]);
    const all = h.book.activities({ types: null, after: null, until: null, direction: "asc", pageSize: 100, pageToken: null });
    const moved = all.reduce((sum, a) => {
      const d = a.data as { net_amount?: string; side?: string; price?: string; qty?: string; fee?: string };
      if (a.type !== "FILL") return sum + parseMoney(d.net_amount!)!;
      const value = (parseMoney(d.price!)! * parseMoney(d.qty!)!) / 10n ** 18n;
      return sum + (d.side === "sell" ? value : -value) - parseMoney(d.fee!)!;
    }, 0n);
    expect(moved).toBe(h.engine.ledger.cash);
    expect(String(records[0]!.data.description)).toContain("cash was 99900.00");
    h.advance(24 * 3_600_000);
    expect(refusal(await h.place({ side: "buy", qty: "1" }))).toBe("accepted");
  });

  it("starts last_equity over at the new cash, and answers no client_order_id with an order from before it", async () => {
    const h = harness({ venue: { takerBps: 0 } });
    await h.quote("99.00", "100.00");
    const before = await h.place({ side: "buy", qty: "5", client_order_id: "strat-1" });
    expect(refusal(before)).toBe("accepted");
    // In the same millisecond (the clock moves only on I/O): a time comparison could not tell the order was before the reset.
    expect(refusal(await h.runner.reset(usd("50000"), null))).toBe("accepted");
    const account = await h.runner.account();
    // Nothing traded since: no day's change (it read 100000.00, a loss of 50,000 that never happened).
    expect([account.equity, account.last_equity]).toEqual(["50000.00", "50000.00"]);
    // The retry of the order before the reset is refused loudly, not answered with a fill the reset wiped.
    const retry = await h.place({ side: "buy", qty: "5", client_order_id: "strat-1" });
    expect(retry.ok ? "accepted" : retry.refusal).toMatchObject({ rule: "client_order_id", details: [{ message: expect.stringContaining("before the account was reset") }] });
    expect(h.engine.ledger.positions[STOCK.symbol]?.qty ?? 0).toBe(0);
    // A new id places; its retry after the reset is still the same order (exactly once).
    const after = await h.place({ side: "buy", qty: "5", client_order_id: "strat-2" });
    expect(refusal(after)).toBe("accepted");
    const again = await h.place({ side: "buy", qty: "5", client_order_id: "strat-2" });
    expect(again.ok && after.ok && again.value.id === after.value.id).toBe(true);
    expect(h.engine.ledger.positions[STOCK.symbol]?.qty).toBe(5);
  });
});

describe("replacing orders", () => {
  it("of five concurrent replaces of one order exactly one wins; the others are refused and change nothing", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00" });
    if (!placed.ok) throw new Error("not placed");
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => h.runner.replace(placed.value.id, { limit_price: `9${i}.50` }, h.asset(), null)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map(refusal)).toEqual(["replace_pending", "replace_pending", "replace_pending", "replace_pending"]);
    const open = h.book.openOrders();
    expect(open).toHaveLength(1);
    expect(h.book.order(placed.value.id)!.status).toBe("replaced");
    expect(h.book.order(placed.value.id)!.replacedBy).toBe(open[0]!.id);
    h.reconcile();
  });

  it("concurrent replaces reusing one new client_order_id: one wins, no orphan, no phantom reservation, also after a restart", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const a = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00" });
    const b = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "94.00" });
    if (!a.ok || !b.ok) throw new Error("not placed");
    const results = await Promise.all([
      h.runner.replace(a.value.id, { limit_price: "96.00", client_order_id: "same" }, h.asset(), null),
      h.runner.replace(b.value.id, { limit_price: "93.00", client_order_id: "same" }, h.asset(), null),
    ]);
    expect(results.map(refusal).sort()).toEqual(["accepted", "client_order_id"]);
    expect(h.book.openOrders()).toHaveLength(2);
    expect(h.book.openOrders().every((o) => o.status === "new")).toBe(true);
    h.reconcile();
    await h.runner.cancelAll();
    expect(h.engine.ledger.reservedCash).toBe(0n);
    h.restart();
    expect(h.engine.ledger.reservedCash).toBe(0n);
    h.reconcile();
  });

  it("a qty given to a replace is the order's total: it must exceed what has filled, and the new order is for the rest", async () => {
    const h = harness();
    await h.quote("99.00", "100.00", "4");
    // A marketable limit for 10 takes the 4 shown at the ask (and the levels behind it, at
    // most the band), then rests what is left.
    const placed = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "100.00" });
    if (!placed.ok) throw new Error("not placed");
    const filled = h.book.order(placed.value.id)!.filledQty;
    expect(filled).toBeGreaterThan(0);
    expect(filled).toBeLessThan(10);
    // Not above what has filled: refused, and nothing changes.
    const before = structuredClone(h.engine.ledger);
    for (const qty of [String(filled), "1"]) {
      const refused = await h.runner.replace(placed.value.id, { qty }, h.asset(), null);
      expect(refusal(refused)).toBe("invalid_order");
      expect(refused.ok ? "" : refused.refusal.message).toBe("qty must be > filled_qty");
    }
    expect(h.engine.ledger).toEqual(before);
    expect(h.book.order(placed.value.id)!.status).toBe("partially_filled");
    // Ten in all, at a lower price: the new order is for what has not filled.
    const replaced = await h.runner.replace(placed.value.id, { qty: "10", limit_price: "98.00" }, h.asset(), null);
    if (!replaced.ok) throw new Error(`not replaced: ${replaced.refusal.message}`);
    expect(replaced.value.qty).toBe(String(10 - filled));
    expect(replaced.value.replaces).toBe(placed.value.id);
    // The same total and price again changes nothing; a larger total buys more.
    expect(refusal(await h.runner.replace(replaced.value.id, { qty: String(10 - filled) }, h.asset(), null))).toBe("unchanged");
    const more = await h.runner.replace(replaced.value.id, { qty: "12" }, h.asset(), null);
    if (!more.ok) throw new Error("not replaced");
    expect(more.value.qty).toBe("12");
    h.reconcile();
  });

  it("a null field or an empty qty leaves the order's as it is; with nothing else given the replace changes nothing", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00", time_in_force: "day" });
    if (!placed.ok) throw new Error("not placed");
    const before = structuredClone(h.engine.ledger);
    // Alpaca's SDKs send every field, null when unset.
    const nothing = await h.runner.replace(placed.value.id, { qty: "", time_in_force: null, limit_price: null, stop_price: null, client_order_id: null }, h.asset(), null);
    expect(refusal(nothing)).toBe("unchanged");
    expect(h.engine.ledger).toEqual(before);
    const priced = await h.runner.replace(placed.value.id, { qty: "", time_in_force: null, limit_price: "94.00", stop_price: null }, h.asset(), null);
    if (!priced.ok) throw new Error(`not replaced: ${priced.refusal.message}`);
    expect(priced.value).toMatchObject({ qty: "10", limit_price: "94.00", time_in_force: "day", replaces: placed.value.id });
    h.reconcile();
  });
  it("a replace whose cancel the venue cannot confirm answers that the order will end canceled", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00" });
    if (!placed.ok) throw new Error("not placed");
    h.setFault((call) => (call === "cancel" ? "unreachable" : null));
    expect(refusal(await h.runner.replace(placed.value.id, { limit_price: "96.00" }, h.asset(), null))).toBe("cancel_pending");
    h.setFault(() => null);
    await h.recover();
    expect(h.book.order(placed.value.id)!.status).toBe("canceled");
    expect(h.book.openOrders()).toHaveLength(0);
    h.reconcile();
  });
});

describe("fees and cash", () => {
  it("a buy holds the larger of the maker and taker fees, so a maker fill above the taker rate applies", async () => {
    const h = harness({ venue: { makerBps: 30, takerBps: 0 } });
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "100", type: "limit", limit_price: "98.00" });
    if (!placed.ok) throw new Error("not placed");
    await h.quote("97.00", "98.00");
    expect(h.book.order(placed.value.id)!.status).toBe("filled");
    expect(h.engine.state.anomalies).toBe(0);
    expect(h.engine.ledger.fees).toBe(usd("29.40"));
    h.reconcile();
  });

  it("a fill the ledger refuses stops the symbol's cursor and raises an anomaly, and is applied when it can be", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "10", type: "limit", limit_price: "95.00" });
    if (!placed.ok) throw new Error("not placed");
    const cursor = h.engine.cursor("AAA");
    const overfill: Report = { kind: "fill", seq: cursor + 1, account: h.owner, orderId: placed.value.id, executionId: "AAA:x", price: 9500, qty: 11, fee: "0", liquidity: "maker", cumQty: 11, leaves: 0, t: h.now() };
    const after: Report = { kind: "done", seq: cursor + 2, account: h.owner, orderId: placed.value.id, reason: "canceled", cumQty: 0, message: "x", t: h.now() };
    expect(await h.runner.venueReports("AAA", [overfill, after])).toBe(cursor);
    expect(await h.runner.venueReports("AAA", [overfill, after])).toBe(cursor);
    expect(h.engine.state.anomalies).toBe(1);
    expect(h.engine.state.held.AAA?.seq).toBe(cursor + 1);
    expect(h.book.order(placed.value.id)!.status).toBe("new");
    h.restart();
    expect(h.engine.state.held.AAA?.seq).toBe(cursor + 1);
  });

  it("a minimum fee larger than a sell's proceeds never drives cash below zero", async () => {
    const h = harness({ specs: [COIN], venue: { minFee: "0.01" }, cash: "0.02" });
    await h.quote("0.99", "1.00", "1", COIN.symbol);
    const buy = await h.place({ side: "buy", qty: "0.000000001" }, COIN.symbol);
    expect(buy.ok && buy.value.status).toBe("filled");
    expect(refusal(await h.place({ side: "sell", qty: "0.000000001" }, COIN.symbol))).toBe("buying_power");
    await h.runner.deposit(usd("0.01"), null);
    const sell = await h.place({ side: "sell", qty: "0.000000001" }, COIN.symbol);
    expect(sell.ok && sell.value.status).toBe("filled");
    expect(h.engine.ledger.cash >= 0n).toBe(true);
    h.reconcile();
  });

  it("cash never goes below zero over random orders, fee schedules and lot sizes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          makerBps: fc.integer({ min: 0, max: 100_000 }).map((n) => n / 100),
          takerBps: fc.integer({ min: 0, max: 100_000 }).map((n) => n / 100),
          minFee: fc.constantFrom("0", "0.01", "1", "25"),
          lot: fc.constantFrom("1", "0.0001", "0.000000001"),
          cash: fc.constantFrom("1", "100", "100000"),
        }),
        fc.array(fc.record({ side: fc.constantFrom("buy" as const, "sell" as const), lots: fc.integer({ min: 1, max: 2000 }), limit: fc.option(fc.integer({ min: 9000, max: 11000 })), move: fc.integer({ min: -300, max: 300 }) }), { minLength: 1, maxLength: 25 }),
        async (fees, steps) => {
          const spec = { ...COIN, symbol: "P/USD", lotSize: fees.lot };
          const h = harness({ specs: [spec], venue: { makerBps: fees.makerBps > 1000 ? 1000 : fees.makerBps, takerBps: fees.takerBps > 1000 ? 1000 : fees.takerBps, minFee: fees.minFee }, cash: fees.cash, limits: { priceBandPct: 50 } });
          let mid = 10_000;
          for (const s of steps) {
            await h.quote(((mid - 1) / 100).toFixed(2), ((mid + 1) / 100).toFixed(2), "5", spec.symbol);
            const qty = (BigInt(s.lots) * BigInt(Math.round(Number(fees.lot) * 1e9))).toString().padStart(10, "0");
            const text = `${qty.slice(0, -9) || "0"}.${qty.slice(-9)}`.replace(/\.?0+$/, "") || "0";
            await h.place({ side: s.side, qty: text, ...(s.limit === null ? {} : { type: "limit", limit_price: (s.limit / 100).toFixed(2) }) }, spec.symbol);
            mid = Math.max(200, mid + s.move);
            expect(h.engine.ledger.cash >= 0n).toBe(true);
          }
          await h.quote(((mid - 1) / 100).toFixed(2), ((mid + 1) / 100).toFixed(2), "100000", spec.symbol);
          expect(h.engine.state.anomalies).toBe(0);
          h.reconcile();
        },
      ),
      { numRuns: 200 },
    );
  });

  it("fee rates with two decimals of a basis point are exact", () => {
    expect(formatMoney(basisPoints(usd("10000"), 0.29))).toBe("0.29");
    expect(formatMoney(basisPoints(usd("10000"), "0.29"))).toBe("0.29");
    expect(formatMoney(orderFee({ makerBps: 0.29, takerBps: 0.57, minFee: "0", depthLevels: 1, slippageTicks: 0, crossUsers: false }, usd("10000"), usd("10000")))).toBe("0.86");
    expect(() => basisPoints(usd("1"), 0.001)).toThrow(RangeError);
  });
});

describe("the trading day", () => {
  it("last_equity is the equity at the previous trading day's close, and balance_asof the New York date", async () => {
    // 2026-01-06 23:30 New York is already the 7th in UTC.
    const h = harness({ start: Date.UTC(2026, 0, 7, 4, 30) });
    await h.quote("99.00", "100.00");
    await h.trade("100.00");
    await h.place({ side: "buy", qty: "10" });
    let view = await h.runner.account();
    expect(view.last_equity).toBe("100000.00");
    expect(view.balance_asof).toBe("2026-01-06");
    h.advance(12 * 3_600_000);
    await h.trade("110.00");
    view = await h.runner.account();
    expect(view.balance_asof).toBe("2026-01-07");
    // The close: cash after the buy plus 10 shares at the last price then (no previous daily close here).
    expect(view.last_equity).toBe(formatMoney(usd("100000") - usd("1000") + usd("1100")));
    expect(view.equity).toBe(formatMoney(usd("100000") - usd("1000") + usd("1100")));
  });

  it("a day order placed on the day before daylight saving begins does not expire at once", async () => {
    const h = harness({ start: Date.UTC(2025, 2, 8, 17) });
    await h.quote("99.00", "100.00");
    const placed = await h.place({ side: "buy", qty: "1", type: "limit", limit_price: "90.00", time_in_force: "day" });
    expect(placed.ok && placed.value.status).toBe("new");
    expect(placed.ok && Date.parse(placed.value.expires_at!)).toBe(Date.UTC(2025, 2, 9, 5));
  });
});

describe("the account's risk limits", () => {
  it("are the global limits as the shell last replaced them, with the account's own on top, at every check", () => {
    // The account object replaces deps.config when the run-time configuration changes; the
    // engine keeps the merged limits between checks and must see either side replaced.
    const deps: EngineDeps = { owner: "trader-1", now: () => 0, newId: () => "id", config: { startingCash: usd("1000"), limits: { ...DEFAULT_LIMITS, maxOrderQty: "100" }, venue: DEFAULT_VENUE } };
    const engine = new AccountEngine(new MemoryBook(), deps);
    expect(engine.limits().maxOrderQty).toBe("100");
    deps.config = { ...deps.config, limits: { ...deps.config.limits, maxOrderQty: "5" } };
    expect(engine.limits().maxOrderQty).toBe("5");
    engine.setLimits({ maxOrderQty: "3" });
    expect(engine.limits().maxOrderQty).toBe("3");
    deps.config = { ...deps.config, limits: { ...deps.config.limits, maxOrderNotional: "7" } };
    expect(engine.limits()).toMatchObject({ maxOrderQty: "3", maxOrderNotional: "7" });
    expect(Object.isFrozen(engine.limits())).toBe(true);
  });
});
