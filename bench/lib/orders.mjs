// What the order benchmarks (orders.mjs, cpu.mjs) share: traders signed up in bulk and an
// autocannon request that places a fresh order each time, spread over their credentials.
import { randomBytes, randomUUID } from "node:crypto";
import { api, expectStatus } from "./platform.mjs";

const PASSWORD = "bench-password-0042";
// Small BTC/USD orders: the cheapest lot of a demo symbol, so cash never runs out.
export const SYMBOL = "BTC/USD";
export const QTY = "0.0001";

async function signUp(base) {
  const tag = randomBytes(5).toString("hex");
  const body = { email: `orders-${tag}@example.com`, username: `orders_${tag}`, password: PASSWORD };
  const registered = await expectStatus(api(base, "POST", "/api/auth/register", body), 201, "register");
  return `Bearer ${registered.access_token}`;
}

/** `n` new traders' `Authorization` values. Sign-ups hash a password (scrypt) each, so a few at a time rather than 100 at once. */
export async function signUpMany(base, n) {
  const tokens = [];
  while (tokens.length < n) tokens.push(...(await Promise.all(Array.from({ length: Math.min(4, n - tokens.length) }, () => signUp(base)))));
  return tokens;
}

/** Headers for each request in turn, over a list of credentials. */
export function rotating(credentials) {
  let next = 0;
  return () => credentials[next++ % credentials.length];
}

/** A buy of QTY SYMBOL with a fresh client order id: `kind` "market", or "limit" at `limitPrice`. */
export function orderBody(kind, limitPrice) {
  const order = { symbol: SYMBOL, qty: QTY, side: "buy", time_in_force: "gtc", client_order_id: `bench-${randomUUID()}` };
  return JSON.stringify(kind === "limit" ? { ...order, type: "limit", limit_price: limitPrice } : { ...order, type: "market" });
}

/** An autocannon request that places a fresh order, spreading requests over `credentials` (header sets) in turn. */
export function placingRequest(credentials, kind, limitPrice) {
  const headersOf = rotating(credentials);
  return {
    method: "POST",
    path: "/v2/orders",
    setupRequest: (request) => ({ ...request, headers: { "content-type": "application/json", ...headersOf() }, body: orderBody(kind, limitPrice) }),
  };
}
