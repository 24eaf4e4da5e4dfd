import { createExecutionContext, createMessageBatch, env, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { domainEvent } from "../../shared/events";
import { parseMoney, type Money } from "../../shared/trading/money";
import { canMove, type OrderStatus } from "../../shared/trading/orders";
import worker from "../../workers/index";
import { call, expectError, json, restartObject, signUp, type TestUser } from "../helpers";
import { accountJson, order, orderReaching, placeOrder, placed, quotedMarket, until, type Market, type OrderJson } from "./helpers";

// The order and fill path under faults: Durable Objects restarted (their memory dropped,
// their storage kept) between the steps of an order's life, reports delivered twice,
// queue messages redelivered. What must hold: an acknowledged order is never lost, a fill
// is applied exactly once, and every account reconciles exactly with its fill list.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});


const restartAccount = (user: TestUser) => restartObject(env.ACCOUNT.getByName(user.id));

async function restartVenue(market: Market): Promise<void> {
  await restartObject(env.MARKET.getByName(market.symbol));
  // The restarted object dials its feed again; the steered market needs it connected. A
  // stub of the aborted object stays broken, so each probe takes a fresh one.
  await until(async () => (await env.MARKET.getByName(market.symbol).status()).upstream?.connected, `${market.symbol}'s feed to reconnect`, 20_000);
}

const fresh = () => quotedMarket(admin);

interface FillActivity {
  execution_id: string;
  order_id: string;
  side: "buy" | "sell";
  symbol: string;
  price: string;
  qty: string;
  fee: string;
}

async function fillsOf(user: TestUser): Promise<FillActivity[]> {
  const stub = env.ACCOUNT.getByName(user.id);
  const out: FillActivity[] = [];
  let pageToken: string | null = null;
  for (;;) {
    const page = (await stub.activities({ types: ["FILL"], after: null, until: null, pageToken, direction: "asc", pageSize: 100 })) as unknown as (FillActivity & { id: string })[];
    out.push(...page);
    if (page.length < 100) return out;
    pageToken = page[page.length - 1]!.id;
  }
}

const money = (text: string): Money => parseMoney(text)!;
const ONE = 10n ** 18n;

interface LedgerJson {
  cash: string;
  reservedCash: string;
  deposits: string;
  fees: string;
  buys: string;
  sells: string;
  positions: Record<string, { qty: number; reserved: number }>;
  reservations: Record<string, { side: string; cash: string; lots: number }>;
}

/** The venue's own fill log for one account in one symbol, once its outbox has drained. */
async function venueFillsOf(user: TestUser, symbol: string): Promise<{ executionId: string; price: number; qty: number; fee: string }[]> {
  await until(async () => (await env.MARKET.getByName(symbol).venueStatus()).outbox === 0, `${symbol}'s reports to reach their accounts`, 15_000);
  const out: { executionId: string; price: number; qty: number; fee: string; seq: number }[] = [];
  for (;;) {
    const page = await env.MARKET.getByName(symbol).venueFills(user.id, out[out.length - 1]?.seq ?? 0);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/**
 * The account against the venue's side and against itself, exactly: every fill the venues
 * made for it applied once (same execution ids, prices, quantities and fees), cash and
 * positions what the fills say, reservations held for open orders only.
 */
async function expectReconciled(user: TestUser, lotSize = "1"): Promise<void> {
  const orders = await json<OrderJson[]>(await call("/v2/orders?status=all&limit=500", { token: user.access, ip: user.ip }));
  const venueFills = (await Promise.all([...new Set(orders.map((o) => o.symbol))].map((symbol) => venueFillsOf(user, symbol)))).flat();
  const audit = await env.ACCOUNT.getByName(user.id).audit();
  const ledger = (JSON.parse(audit.ledger.replace(/"(-?\d+)n"/g, '"$1"')) as { ledger: LedgerJson }).ledger;
  const fills = await fillsOf(user);
  const ids = fills.map((f) => f.execution_id);
  expect(new Set(ids).size, "an execution was applied twice").toBe(ids.length);
  // The venue's side: the same executions, at the same price, quantity and fee.
  const tick = money("0.01");
  expect(new Map(fills.map((f) => [f.execution_id, [money(f.price), money(f.qty), money(f.fee)]]))).toEqual(
    new Map(venueFills.map((f) => [f.executionId, [BigInt(f.price) * tick, BigInt(f.qty) * money(lotSize), BigInt(f.fee)]])),
  );

  let buys = 0n;
  let sells = 0n;
  let fees = 0n;
  const held = new Map<string, Money>();
  const perOrder = new Map<string, Money>();
  for (const f of fills) {
    const value = (money(f.price) * money(f.qty)) / ONE;
    if (f.side === "buy") buys += value;
    else sells += value;
    fees += money(f.fee);
    held.set(f.symbol, (held.get(f.symbol) ?? 0n) + (f.side === "buy" ? money(f.qty) : -money(f.qty)));
    perOrder.set(f.order_id, (perOrder.get(f.order_id) ?? 0n) + money(f.qty));
  }
  expect(BigInt(ledger.buys)).toBe(buys);
  expect(BigInt(ledger.sells)).toBe(sells);
  expect(BigInt(ledger.fees)).toBe(fees);
  expect(BigInt(ledger.cash) + BigInt(ledger.reservedCash)).toBe(BigInt(ledger.deposits) - fees - buys + sells);
  expect(BigInt(ledger.cash) >= 0n && BigInt(ledger.reservedCash) >= 0n).toBe(true);
  const lot = money(lotSize);
  for (const [symbol, qty] of held) {
    expect(qty >= 0n, `negative ${symbol} position`).toBe(true);
    expect(BigInt(ledger.positions[symbol]?.qty ?? 0) * lot).toBe(qty);
  }

  // Every order's filled quantity is the sum of its fills; reservations belong to open orders.
  for (const o of orders) expect(money(o.filled_qty), `order ${o.id}`).toBe(perOrder.get(o.id) ?? 0n);
  const open = new Set(orders.filter((o) => ["new", "partially_filled", "pending_new", "accepted"].includes(o.status)).map((o) => o.id));
  expect(new Set(Object.keys(ledger.reservations))).toEqual(open);
  const reservedCash = Object.values(ledger.reservations).reduce((s, r) => s + BigInt(r.cash), 0n);
  expect(BigInt(ledger.reservedCash)).toBe(reservedCash);
}

/**
 * Every order's life as its events tell it (through the queue into the audit log) is a
 * chain of legal moves, and ends where the account says the order is now.
 */
async function expectLegalHistories(user: TestUser): Promise<void> {
  const orders = await json<OrderJson[]>(await call("/v2/orders?status=all&limit=500", { token: user.access, ip: user.ip }));
  const lives = await until(async () => {
    const { results } = await env.DB.prepare("SELECT data FROM audit_log WHERE subject = ?").bind(`account:${user.id}`).all<{ data: string }>();
    const byOrder = new Map<string, { version: number; status: OrderStatus }[]>();
    for (const row of results) {
      const data = JSON.parse(row.data) as { version: number; order?: { id: string; status: OrderStatus } };
      if (!data.order) continue; // cash events
      const order = data.order;
      byOrder.set(order.id, [...(byOrder.get(order.id) ?? []), { version: data.version, status: order.status }]);
    }
    for (const life of byOrder.values()) life.sort((a, b) => a.version - b.version);
    return orders.every((o) => byOrder.get(o.id)?.at(-1)?.status === o.status) ? byOrder : undefined;
  }, "every order's events to reach the audit log", 15_000);
  for (const [id, life] of lives) {
    expect(life[0]!.status, `order ${id} starts`).toBe("pending_new");
    for (let i = 1; i < life.length; i++) {
      const [from, to] = [life[i - 1]!.status, life[i]!.status];
      expect(from === to || canMove(from, to), `order ${id}: ${from} → ${to}`).toBe(true);
    }
  }
}

describe("restarts on the order path", () => {
  it("an acknowledged resting order survives its account restarting, and still fills", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    const o = await placed(user, { symbol: market.symbol, qty: "5", side: "buy", type: "limit", limit_price: "99.50", time_in_force: "gtc" });
    expect(o.status).toBe("new");
    await restartAccount(user);
    expect((await order(user, o.id)).status).toBe("new");
    expect((await accountJson(user)).buying_power).not.toBe("100000.00");
    await market.quote("99.40", "99.50");
    expect(await orderReaching(user, o.id, "filled")).toMatchObject({ filled_qty: "5", filled_avg_price: "99.50" });
    await expectReconciled(user);
  });

  it("resting orders survive their venue restarting and keep their time priority", async () => {
    const [first, second, market] = await Promise.all([signUp(), signUp(), fresh()]);
    const a = await placed(first, { symbol: market.symbol, qty: "3", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    const b = await placed(second, { symbol: market.symbol, qty: "3", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    await restartVenue(market);
    // Three lots offered at 99.00: the older order takes them all.
    await market.quote("98.90", "99.00", "100", "3");
    await orderReaching(first, a.id, "filled");
    expect((await order(second, b.id)).status).toBe("new");
    await market.quote("98.90", "99.00", "100", "3");
    await orderReaching(second, b.id, "filled");
    await Promise.all([expectReconciled(first), expectReconciled(second)]);
  });

  it("a fill made while its account is down reaches it once, and a repeated report changes nothing", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    const o = await placed(user, { symbol: market.symbol, qty: "2", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    await restartAccount(user);
    await market.quote("98.90", "99.00");
    await orderReaching(user, o.id, "filled");
    const [fill] = await fillsOf(user);
    const before = await env.ACCOUNT.getByName(user.id).audit();
    // The venue sends the same report again (as after a lost acknowledgement).
    // Its sequence number, from the venue's own record of the fill (execution ids are UUIDs).
    const venueFill = (await env.MARKET.getByName(market.symbol).venueFills(user.id)).find((f) => f.executionId === fill!.execution_id);
    const seq = venueFill!.seq;
    const { applied } = await env.ACCOUNT.getByName(user.id).venueReports(market.symbol, [
      { kind: "fill", seq, account: user.id, orderId: o.id, executionId: fill!.execution_id, price: 9900, qty: 2, fee: "0", liquidity: "maker", cumQty: 2, leaves: 0, t: Date.now() },
    ]);
    expect(applied).toBeGreaterThanOrEqual(seq);
    expect(await env.ACCOUNT.getByName(user.id).audit()).toEqual(before);
    await expectReconciled(user);
  });

  it("the order-rate limit still counts the orders placed before a restart", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    expect((await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { ordersPerMinute: 2 }, token: admin.access, ip: admin.ip })).status).toBe(200);
    for (let i = 0; i < 2; i++) await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    await restartAccount(user);
    const res = await placeOrder(user, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    expect(res.status).toBe(429);
  });

  it("a market order placed just after its venue restarts is filled once", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    await restartVenue(market);
    const o = await placed(user, { symbol: market.symbol, qty: "4", side: "buy", type: "market", time_in_force: "day" });
    await restartVenue(market);
    await restartAccount(user);
    expect(await orderReaching(user, o.id, "filled")).toMatchObject({ filled_qty: "4" });
    await expectReconciled(user);
  });

  it("random orders, cancels, replaces, quotes and restarts of either object leave every account reconciled", async () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant("limit" as const), user: fc.nat(2), side: fc.constantFrom("buy", "sell"), offset: fc.integer({ min: -30, max: 30 }), qty: fc.integer({ min: 1, max: 40 }), tif: fc.constantFrom("gtc", "day", "ioc", "fok") }),
      fc.record({ kind: fc.constant("market" as const), user: fc.nat(2), side: fc.constantFrom("buy", "sell"), qty: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant("cancel" as const), user: fc.nat(2) }),
      fc.record({ kind: fc.constant("replace" as const), user: fc.nat(2), qty: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant("quote" as const), mid: fc.integer({ min: 9_900, max: 10_100 }), size: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant("restartAccount" as const), user: fc.nat(2) }),
      fc.record({ kind: fc.constant("restartVenue" as const) }),
    );
    // A property over whole scripts: each run is a fresh market and three fresh accounts.
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 20, maxLength: 30 }), async (script) => {
        const market = await fresh();
        const users = await Promise.all([signUp(), signUp(), signUp()]);
        const acknowledged: { user: TestUser; id: string }[] = [];
        let mid = 10_000;
        const price = (ticks: number) => (ticks / 100).toFixed(2);
        for (const step of script) {
          switch (step.kind) {
            case "limit":
            case "market": {
              const user = users[step.user]!;
              const body =
                step.kind === "limit"
                  ? { symbol: market.symbol, qty: String(step.qty), side: step.side, type: "limit", limit_price: price(mid + step.offset), time_in_force: step.tif }
                  : { symbol: market.symbol, qty: String(step.qty), side: step.side, type: "market", time_in_force: "day" };
              const res = await placeOrder(user, body);
              expect(res.status, await res.clone().text()).toBeLessThan(500);
              if (res.status === 200) acknowledged.push({ user, id: (await json<OrderJson>(res)).id });
              break;
            }
            case "cancel": {
              const user = users[step.user]!;
              const open = await json<OrderJson[]>(await call("/v2/orders?status=open", { token: user.access, ip: user.ip }));
              if (open[0]) expect([204, 422]).toContain((await call(`/v2/orders/${open[0].id}`, { method: "DELETE", token: user.access, ip: user.ip })).status);
              break;
            }
            case "replace": {
              const user = users[step.user]!;
              const open = await json<OrderJson[]>(await call("/v2/orders?status=open", { token: user.access, ip: user.ip }));
              if (!open[0]) break;
              const res = await call(`/v2/orders/${open[0].id}`, { method: "PATCH", body: { qty: String(step.qty) }, token: user.access, ip: user.ip });
              expect(res.status, await res.clone().text()).toBeLessThan(500);
              if (res.status === 200) acknowledged.push({ user, id: (await json<OrderJson>(res)).id });
              break;
            }
            case "quote":
              mid = step.mid;
              await market.quote(price(mid - 2), price(mid + 2), String(step.size), String(step.size));
              break;
            case "restartAccount":
              await restartAccount(users[step.user]!);
              break;
            case "restartVenue":
              await restartVenue(market);
              break;
          }
        }
        // Every acknowledged order is still there, and none is left waiting for the venue.
        for (const { user, id } of acknowledged) await until(async () => (await order(user, id)).status !== "pending_new", `order ${id} to reach the venue`, 15_000);
        await until(async () => (await env.MARKET.getByName(market.symbol).venueStatus()).outbox === 0, "the venue's outbox to drain", 15_000);
        for (const user of users) {
          await expectReconciled(user);
          await expectLegalHistories(user);
        }
      }),
      // Each run takes seconds of real time: a handful of runs, no shrinking in CI.
      { numRuns: 4, seed: 20261201, endOnFailure: true },
    );
  }, 240_000);
});

describe("concurrent requests on one account", () => {
  it("random bursts of orders (client_order_ids reused), replaces, cancels, cancel-all and position closes sent at once leave it reconciled", async () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant("limit" as const), side: fc.constantFrom("buy", "sell"), offset: fc.integer({ min: -20, max: 20 }), qty: fc.integer({ min: 1, max: 30 }), tif: fc.constantFrom("gtc", "day", "ioc", "fok"), id: fc.option(fc.constantFrom("a", "b"), { nil: undefined }) }),
      fc.record({ kind: fc.constant("market" as const), side: fc.constantFrom("buy", "sell"), qty: fc.integer({ min: 1, max: 30 }), id: fc.option(fc.constantFrom("a", "b"), { nil: undefined }) }),
      fc.record({ kind: fc.constant("cancel" as const), which: fc.nat(3) }),
      fc.record({ kind: fc.constant("replace" as const), which: fc.nat(3), qty: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant("cancelAll" as const) }),
      fc.record({ kind: fc.constant("closeAll" as const) }),
      fc.record({ kind: fc.constant("closeOne" as const), percentage: fc.constantFrom(undefined, "50", "100") }),
    );
    type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;
    const burst = fc.record({ actions: fc.array(action, { minLength: 2, maxLength: 8 }), mid: fc.option(fc.integer({ min: 9_950, max: 10_050 }), { nil: undefined }) });
    await fc.assert(
      fc.asyncProperty(fc.array(burst, { minLength: 3, maxLength: 6 }), async (bursts) => {
        const market = await fresh();
        const user = await signUp();
        const as = { token: user.access, ip: user.ip };
        const acknowledged: string[] = [];
        let mid = 10_002;
        const price = (ticks: number) => (ticks / 100).toFixed(2);
        /** Sends one action; answers its response. */
        const send = (step: Action, open: OrderJson[], tag: string): Promise<Response> => {
          switch (step.kind) {
            case "limit":
            case "market": {
              const clientId = step.id === undefined ? {} : { client_order_id: `${tag}-${step.id}` };
              const body =
                step.kind === "limit"
                  ? { symbol: market.symbol, qty: String(step.qty), side: step.side, type: "limit", limit_price: price(mid + step.offset), time_in_force: step.tif, ...clientId }
                  : { symbol: market.symbol, qty: String(step.qty), side: step.side, type: "market", time_in_force: "day", ...clientId };
              return placeOrder(user, body);
            }
            case "cancel":
              return call(`/v2/orders/${open[step.which % Math.max(1, open.length)]?.id ?? "none"}`, { method: "DELETE", ...as });
            case "replace":
              return call(`/v2/orders/${open[step.which % Math.max(1, open.length)]?.id ?? "none"}`, { method: "PATCH", body: { qty: String(step.qty) }, ...as });
            case "cancelAll":
              return call("/v2/orders", { method: "DELETE", ...as });
            case "closeAll":
              return call("/v2/positions?cancel_orders=true", { method: "DELETE", ...as });
            case "closeOne":
              return call(`/v2/positions/${encodeURIComponent(market.symbol)}${step.percentage ? `?percentage=${step.percentage}` : ""}`, { method: "DELETE", ...as });
          }
        };
        for (const [b, { actions, mid: next }] of bursts.entries()) {
          if (next !== undefined) {
            mid = next;
            await market.quote(price(mid - 2), price(mid + 2), "40", "40");
          }
          const open = await json<OrderJson[]>(await call("/v2/orders?status=open", as));
          const answers = await Promise.all(actions.map((step) => send(step, open, `burst${b}`)));
          for (const [i, res] of answers.entries()) {
            const kind = actions[i]!.kind;
            expect(res.status, `${kind} → ${res.status} ${await res.clone().text()}`).toBeLessThan(500);
            if (res.status >= 400) await expectError(res, res.status);
            else if ((kind === "limit" || kind === "market" || kind === "replace") && res.status === 200) acknowledged.push((await json<OrderJson>(res)).id);
          }
        }
        for (const id of acknowledged) await until(async () => (await order(user, id)).status !== "pending_new", `order ${id} to reach the venue`, 15_000);
        // Two orders acknowledged under one client_order_id are one order.
        const all = await json<OrderJson[]>(await call("/v2/orders?status=all&limit=500", as));
        const clientIds = all.map((o) => o.client_order_id);
        expect(new Set(clientIds).size, "two orders share a client_order_id").toBe(clientIds.length);
        await until(async () => (await env.MARKET.getByName(market.symbol).venueStatus()).outbox === 0, "the venue's outbox to drain", 15_000);
        await expectReconciled(user);
        await expectLegalHistories(user);
      }),
      // Each run takes seconds of real time: a handful of runs, no shrinking in CI.
      { numRuns: 6, seed: 20261205, endOnFailure: true },
    );
  }, 240_000);
});

describe("order events through the queue", () => {
  async function deliver(id: string, body: unknown, attempts: number) {
    const batch = createMessageBatch("redfire-events-dev", [{ id, timestamp: new Date(), attempts, body }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    return getQueueResult(batch, ctx);
  }

  it("the same fill event delivered three times is projected once", async () => {
    const userId = crypto.randomUUID();
    const orderId = crypto.randomUUID();
    const event = domainEvent("order.filled", `account:${userId}`, {
      user_id: userId,
      version: 7,
      order: { id: orderId, symbol: "AAPL", side: "buy", status: "filled" },
      execution_id: `AAPL:${orderId}`,
      price: "100.05",
      qty: "3",
      fee: "0.75",
      realized_pl: "0.00",
    }, null);
    for (let attempt = 1; attempt <= 3; attempt++) expect((await deliver(`m${attempt}`, event, attempt)).explicitAcks).toEqual([`m${attempt}`]);
    const fills = await env.DB.prepare("SELECT execution_id, qty FROM fill_history WHERE order_id = ?").bind(orderId).all();
    expect(fills.results).toEqual([{ execution_id: `AAPL:${orderId}`, qty: "3" }]);
    const orders = await env.DB.prepare("SELECT status, version FROM order_history WHERE order_id = ?").bind(orderId).all();
    expect(orders.results).toEqual([{ status: "filled", version: 7 }]);
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE event_id = ?").bind(event.id).first<{ n: number }>();
    expect(audit?.n).toBe(1);
  });

  it("an older order event arriving late does not move the projection back", async () => {
    const userId = crypto.randomUUID();
    const orderId = crypto.randomUUID();
    const at = (version: number, status: string) => domainEvent(`order.${status}` as "order.new", `account:${userId}`, { user_id: userId, version, order: { id: orderId, symbol: "AAPL", side: "buy", status } }, null);
    await deliver("late-1", at(2, "canceled"), 1);
    await deliver("late-2", at(1, "new"), 1);
    const row = await env.DB.prepare("SELECT status, version FROM order_history WHERE order_id = ?").bind(orderId).first();
    expect(row).toEqual({ status: "canceled", version: 2 });
  });

  it("events the queue took before their account restarted, rows not yet deleted, are sent again and projected once", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    const o = await placed(user, { symbol: market.symbol, qty: "2", side: "buy", type: "market", time_in_force: "day" });
    expect(o.status).toBe("filled");
    const account = () => env.ACCOUNT.getByName(user.id);
    // The retry alarm would delete the sent rows a second from now: hold it off, so the
    // crash below lands while they wait for the next commit.
    await runInDurableObject(account(), (_i, state) => state.storage.setAlarm(Date.now() + 600_000));
    await until(async () => (await account().audit()).outbox === 0, "the order's events to reach the queue");
    let waiting = 0;
    await runInDurableObject(account(), (_i, state) => {
      waiting = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n;
      state.abort("crash before the sent events' rows are deleted");
    }).catch(() => undefined);
    expect(waiting).toBe(3); // submitted, new, filled
    // The next incarnation owes them again and its alarm sends them and deletes the rows.
    expect((await account().audit()).outbox).toBe(3);
    await runDurableObjectAlarm(account());
    await until(async () => (await account().audit()).outbox === 0, "the events to be sent again");
    await runInDurableObject(account(), (_i, state) => {
      expect(state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n).toBe(0);
    });
    const history = await until(
      async () => (await env.DB.prepare("SELECT status FROM order_history WHERE order_id = ?").bind(o.id).first<{ status: string }>())?.status === "filled" || undefined,
      "the order's history row",
    );
    expect(history).toBe(true);
    const fills = await env.DB.prepare("SELECT COUNT(*) AS n FROM fill_history WHERE order_id = ?").bind(o.id).first<{ n: number }>();
    expect(fills?.n).toBe(1);
    const audit = await env.DB.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS events FROM audit_log WHERE subject = ?").bind(`account:${user.id}`).first<{ n: number; events: number }>();
    expect(audit?.n).toBe(audit?.events);
  });

  it("a real order's events reach the history tables", async () => {
    const [user, market] = await Promise.all([signUp(), fresh()]);
    const o = await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    await orderReaching(user, o.id, "filled");
    const row = await until(
      async () => (await env.DB.prepare("SELECT status, user_id FROM order_history WHERE order_id = ?").bind(o.id).first<{ status: string; user_id: string }>()) ?? undefined,
      "the order's history row",
    );
    expect(row.user_id).toBe(user.id);
    await until(async () => (await env.DB.prepare("SELECT status FROM order_history WHERE order_id = ?").bind(o.id).first<{ status: string }>())?.status === "filled", "the filled state");
    const fills = await until(async () => (await env.DB.prepare("SELECT qty FROM fill_history WHERE order_id = ?").bind(o.id).all()).results.length > 0 || undefined, "the fill row");
    expect(fills).toBe(true);
  });
});
