import { env } from "cloudflare:test";
import { inject } from "vitest";
import { call, json, signUp, until, type TestUser } from "../helpers";

export { until };
import { createInstrument, freshSymbol } from "../market-helpers";

// A market the test steers: an instrument fed by the fake upstream server (a real
// WebSocket feed), so each test sets the exact quotes and trades the venue sees.

const upstream = inject("upstream");
const control = (command: Record<string, unknown>) => fetch(upstream.control, { method: "POST", body: JSON.stringify(command) });


export interface Market {
  symbol: string;
  quote(bid: string, ask: string, bidSize?: string, askSize?: string): Promise<void>;
  trade(price: string, size?: string): Promise<void>;
}

export async function steeredMarket(admin: TestUser, options: { class?: "us_equity" | "crypto"; lot_size?: string } = {}): Promise<Market> {
  const crypto = options.class === "crypto";
  const symbol = crypto ? `${freshSymbol("K")}/USD` : freshSymbol("M");
  await createInstrument(admin, { symbol, class: options.class, lot_size: options.lot_size, feed: { kind: "upstream", url: upstream.url, symbol, staleAfterMs: 600_000 } });
  // A fresh stub per call: one held across a restart of the object stays broken.
  const stub = () => env.MARKET.getByName(symbol);
  await until(async () => (await stub().status()).upstream?.connected, `${symbol}'s feed to connect`);
  // Frames carry strictly increasing times, so the test can tell when each one has landed.
  let clock = Date.now();
  const next = () => (clock = Math.max(clock + 1, Date.now()));
  const ticks = (price: string) => Math.round(Number(price) * 100);
  let trades = 0;
  return {
    symbol,
    async quote(bid, ask, bidSize = "100", askSize = "100") {
      const t = next();
      await control({ action: "send", frames: [{ T: "q", S: symbol, t: new Date(t).toISOString(), bp: Number(bid), ap: Number(ask), bs: Number(bidSize), as: Number(askSize) }] });
      await until(async () => {
        const p = await stub().marketPrice();
        return p && p.t >= t && p.bid === ticks(bid) && p.ask === ticks(ask);
      }, `quote ${bid}/${ask}`);
    },
    async trade(price, size = "1") {
      const t = next();
      trades += 1;
      await control({ action: "send", frames: [{ T: "t", S: symbol, t: new Date(t).toISOString(), p: Number(price), s: Number(size), i: trades }] });
      await until(async () => {
        const p = await stub().marketPrice();
        return p && p.t >= t && p.reference === ticks(price);
      }, `trade at ${price}`);
    },
  };
}

export interface OrderJson {
  id: string;
  client_order_id: string;
  status: string;
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  limit_price: string | null;
  replaced_by: string | null;
  replaces: string | null;
  commission: string;
  symbol: string;
  side: string;
  type: string;
}

export async function placeOrder(user: TestUser, body: Record<string, unknown>): Promise<Response> {
  return call("/v2/orders", { token: user.access, body, ip: user.ip });
}

/** Places an order that must be accepted, and answers it. */
export async function placed(user: TestUser, body: Record<string, unknown>): Promise<OrderJson> {
  const res = await placeOrder(user, body);
  if (res.status !== 200) throw new Error(`order refused: ${res.status} ${await res.text()}`);
  return json<OrderJson>(res);
}

/** A fresh trader and a fresh quoted market (below). */
export async function traderAndMarket(admin: TestUser): Promise<{ user: TestUser; market: Market }> {
  const [user, market] = await Promise.all([signUp(), quotedMarket(admin)]);
  return { user, market };
}

/** A steered market quoted 100.00 / 100.05 (100 each side) with a last trade at 100.02. */
export async function quotedMarket(admin: TestUser): Promise<Market> {
  const market = await steeredMarket(admin);
  await market.quote("100.00", "100.05");
  await market.trade("100.02");
  return market;
}

export async function order(user: TestUser, id: string): Promise<OrderJson> {
  const res = await call(`/v2/orders/${id}`, { token: user.access, ip: user.ip });
  if (res.status !== 200) throw new Error(`order ${id}: ${res.status} ${await res.text()}`);
  return json<OrderJson>(res);
}

export async function orderReaching(user: TestUser, id: string, status: string): Promise<OrderJson> {
  return until(async () => {
    const o = await order(user, id);
    return o.status === status ? o : undefined;
  }, `order ${id} to be ${status}`);
}

export async function accountJson(user: TestUser): Promise<Record<string, string>> {
  const res = await call("/v2/account", { token: user.access, ip: user.ip });
  if (res.status !== 200) throw new Error(`account: ${res.status} ${await res.text()}`);
  return json<Record<string, string>>(res);
}
