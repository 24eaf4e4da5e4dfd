import fc from "fast-check";
import { expect } from "vitest";
import { call, createKey, expectError, freshIp, json, signUp, type TestUser } from "./helpers";

// Random and malformed requests against every endpoint (test/fuzz.test.ts one at a time,
// test/fuzz-concurrent.test.ts eight at a time): never a 5xx, every failure in the
// envelope. The endpoints are every operation the OpenAPI document names (read when the
// test starts, so a new route is fuzzed from the day it is added), plus the routes outside
// it: the document itself, the docs page and the socket upgrades.
const OUTSIDE_THE_DOCUMENT: [string, string][] = [
  ["GET", "/openapi.json"],
  ["GET", "/docs"],
  ["GET", "/stream"],
  ["GET", "/v2/iex"],
  ["GET", "/v2/sip"],
  ["GET", "/v2/all"],
  ["GET", "/v1beta3/crypto/us"],
  ["GET", "/v1beta2/crypto"],
];

/** Every operation of the OpenAPI document as [method, path template], plus OUTSIDE_THE_DOCUMENT. */
async function endpoints(): Promise<[string, string][]> {
  const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call("/openapi.json"));
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method): [string, string] => [method.toUpperCase(), path]));
  return [...operations, ...OUTSIDE_THE_DOCUMENT];
}

const FIELDS = ["email", "username", "password", "display_name", "refresh_token", "current_password", "new_password", "name", "scopes", "role", "status", "symbol", "class", "exchange", "tick_size", "lot_size", "feed", "session", "tradable", "qty", "notional", "side", "type", "time_in_force", "limit_price", "stop_price", "client_order_id", "cash", "amount", "percentage", "ordersPerMinute", "template", "params", "source", "language", "timeframe", "after", "limit"];


/** A value from `usual` `weight` times for each one from `unusual`. */
const mostly = <T, U>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<U>, weight = 9) => fc.oneof({ arbitrary: usual, weight }, { arbitrary: unusual, weight: 1 });

const jsonValue = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
  fc.constantFrom("read", "trade", "admin", "guest", "disabled", "a@b.co", "x".repeat(5000), "\u0000", "😀", "__proto__", "buy", "sell", "market", "limit", "stop_limit", "gtc", "ioc", "fok", "1", "0.5", "100.00", "-1", "1e3"),
  fc.object({ maxDepth: 2 }),
);

// Order-shaped bodies, mostly well-formed, so requests get past parsing into risk checks.
const orderBody = fc
  .record(
    {
      symbol: mostly(fc.constantFrom("AAPL", "BTC/USD", "SPY"), jsonValue, 4),
      qty: mostly(fc.constantFrom("1", "0.001", "2.5", "100000000", 3), jsonValue, 4),
      notional: mostly(fc.constantFrom("10", "0.001", "1e9"), jsonValue, 4),
      side: mostly(fc.constantFrom("buy", "sell"), jsonValue, 4),
      type: mostly(fc.constantFrom("market", "limit", "stop", "stop_limit", "trailing_stop"), jsonValue, 4),
      time_in_force: mostly(fc.constantFrom("day", "gtc", "ioc", "fok", "opg"), jsonValue, 4),
      limit_price: mostly(fc.constantFrom("1.00", "100.005", "-5", "99999999"), jsonValue, 4),
      stop_price: mostly(fc.constantFrom("1.00", "0", "250.5"), jsonValue, 4),
      client_order_id: mostly(fc.string({ maxLength: 60 }), jsonValue, 4),
    },
    { requiredKeys: ["symbol", "side", "type", "time_in_force"] },
  )
  .map((o) => JSON.stringify(o));

const body = fc.oneof(
  orderBody,
  fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
  fc.dictionary(fc.constantFrom(...FIELDS), jsonValue, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("", "{", "[]", "null", "{\"__proto__\":{\"role\":\"admin\"}}", "{\"email\":\"a@b.c\",\"email\":1}"),
);

const segment = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom("RKAAAAAAAAAAAAAAAAAA", "..", "%2e%2e", "%00", "100%25", "%25E0%25A4", "%E0%A4%A", "BTCUSD", "me", "a".repeat(300), "AAPL", "BTC/USD", "b0b6dd9d-8b9b-48a9-ba46-b9d54a423796"),
);

const headerValue = fc.oneof(fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")), fc.constantFrom("", "Bearer", "Bearer a.b.c", "Bearer x:y"));


/** Who sends the requests (a trader, a guest, an admin, the trader's key) and the endpoints they go to. */
export interface Fuzz {
  users: TestUser[];
  key: { key_id: string; secret: string };
  endpoints: [string, string][];
}

/** Three users and a key, and the endpoints the OpenAPI document names: for a beforeAll. */
export async function fuzzSetup(): Promise<Fuzz> {
  const users = await Promise.all([signUp("trader"), signUp("guest"), signUp("admin")]);
  return { users, key: await createKey(users[0]!), endpoints: await endpoints() };
}

/**
 * The clients' addresses: a few dozen, as a real crowd has. A fresh address per request made
 * a rate-limiter object per request, and past a thousand of them the local runtime logged
 * internal assertion failures from its own actor bookkeeping (workerd's, not RedFire's).
 */
const ADDRESSES = Array.from({ length: 48 }, () => freshIp());

/** A random request to one of the endpoints: method, path, query, body, headers and credentials. */
export const request = (fuzz: Fuzz) =>
  fc.record({
    endpoint: fc.constantFrom(...fuzz.endpoints),
    method: mostly(fc.constant(undefined), fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")),
    segment,
    extraPath: mostly(fc.constant(undefined), fc.webPath()),
    query: fc.option(
      fc.dictionary(
        fc.constantFrom("limit", "after", "until", "role", "status", "x", "symbols", "timeframe", "start", "end", "page_token", "sort", "asset_class", "client_order_id", "qty", "percentage", "direction", "activity_types", "cancel_orders"),
        fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("AAPL", "AAPL,MSFT", "BTC/USD", "1Min", "1Day", "3D", "2024-01-01", "-1", "0", "10001", "desc")),
      ),
      { nil: undefined },
    ),
    body: mostly(body, fc.constant(undefined)),
    contentType: mostly(fc.constant("application/json"), fc.constantFrom("application/json; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded")),
    auth: fc.constantFrom("none", "trader", "guest", "admin", "key", "garbage"),
    garbage: fc.record({ authorization: headerValue, keyId: headerValue, secret: headerValue, traceparent: headerValue, requestId: headerValue }),
    address: fc.nat(ADDRESSES.length - 1),
  });

export type FuzzRequest = ReturnType<typeof request> extends fc.Arbitrary<infer T> ? T : never;

/**
 * Sends `r` and checks its answer: below 500, and a refusal (but to HEAD) in the envelope.
 * Answers the method, path and status, for the caller's own checks.
 */
export async function sendAndCheck(fuzz: Fuzz, r: FuzzRequest): Promise<{ method: string; path: string; status: number }> {
  const [defaultMethod, template] = r.endpoint;
  let path = template.replace(/\{[^}]+\}/g, r.segment);
  if (r.extraPath !== undefined) path = `${path}${r.extraPath}`;
  if (r.query) path += `?${new URLSearchParams(r.query).toString()}`;
  const method = r.method ?? defaultMethod;
  const headers: Record<string, string> = { traceparent: r.garbage.traceparent, "x-request-id": r.garbage.requestId };
  if (r.contentType) headers["content-type"] = r.contentType;
  const { users, key } = fuzz;
  const credentials =
    r.auth === "trader" ? { token: users[0]!.access }
    : r.auth === "guest" ? { token: users[1]!.access }
    : r.auth === "admin" ? { token: users[2]!.access }
    : r.auth === "key" ? { apiKey: key }
    : {};
  if (r.auth === "garbage") Object.assign(headers, { authorization: r.garbage.authorization, "apca-api-key-id": r.garbage.keyId, "apca-api-secret-key": r.garbage.secret });
  const hasBody = r.body !== undefined && method !== "GET" && method !== "HEAD";
  // A request that never answers fails here, naming itself, rather than as the test's timeout.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${method} ${path} (${r.auth}) did not answer within 30 s`)), 30_000);
  });
  const res = await Promise.race([call(path, { method, headers, ip: ADDRESSES[r.address]!, ...credentials, ...(hasBody ? { rawBody: r.body } : {}) }), hung]).finally(() => clearTimeout(timer));
  expect(res.status, `${method} ${path} → ${res.status} ${await res.clone().text()}`).toBeLessThan(500);
  if (res.status >= 400 && method !== "HEAD") await expectError(res, res.status);
  return { method, path, status: res.status };
}

