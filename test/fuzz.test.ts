import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, json, signUp, type TestUser } from "./helpers";

// Random and malformed requests against every endpoint: never a 5xx, every failure in
// the envelope, and a refused request changes nothing. The endpoints are every operation
// the OpenAPI document names (read when the test starts, so a new route is fuzzed from
// the day it is added), plus the routes outside it: the document itself, the docs page
// and the socket upgrades.
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

/** A value from `usual` four times in five, otherwise one from `unusual`. */
const mostlyOf = <T, U>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<U>) => fc.oneof({ arbitrary: usual, weight: 4 }, { arbitrary: unusual, weight: 1 });

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
      symbol: mostlyOf(fc.constantFrom("AAPL", "BTC/USD", "SPY"), jsonValue),
      qty: mostlyOf(fc.constantFrom("1", "0.001", "2.5", "100000000", 3), jsonValue),
      notional: mostlyOf(fc.constantFrom("10", "0.001", "1e9"), jsonValue),
      side: mostlyOf(fc.constantFrom("buy", "sell"), jsonValue),
      type: mostlyOf(fc.constantFrom("market", "limit", "stop", "stop_limit", "trailing_stop"), jsonValue),
      time_in_force: mostlyOf(fc.constantFrom("day", "gtc", "ioc", "fok", "opg"), jsonValue),
      limit_price: mostlyOf(fc.constantFrom("1.00", "100.005", "-5", "99999999"), jsonValue),
      stop_price: mostlyOf(fc.constantFrom("1.00", "0", "250.5"), jsonValue),
      client_order_id: mostlyOf(fc.string({ maxLength: 60 }), jsonValue),
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

/** A value from `usual` nine times in ten, otherwise one from `unusual`. */
const mostly = <T, U>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<U>) => fc.oneof({ arbitrary: usual, weight: 9 }, { arbitrary: unusual, weight: 1 });

let users: TestUser[];
let key: { key_id: string; secret: string };
let ENDPOINTS: [string, string][];

/** What a refused request must leave as it was: rows only requests write (not the queue's projections, nor jobs running behind earlier answers). */
async function snapshot(): Promise<string> {
  const row = await env.DB.prepare(
    `SELECT (SELECT count(*) FROM users) u, (SELECT coalesce(sum(updated_at), 0) FROM users) uu,
            (SELECT count(*) FROM sessions) s, (SELECT count(revoked_at) FROM sessions) sr,
            (SELECT count(*) FROM refresh_tokens) r, (SELECT count(used_at) FROM refresh_tokens) ru,
            (SELECT count(*) FROM api_keys) k, (SELECT count(revoked_at) FROM api_keys) kr,
            (SELECT count(*) FROM assets) a, (SELECT coalesce(sum(updated_at), 0) FROM assets) au,
            (SELECT count(*) FROM strategies) st, (SELECT count(*) FROM strategy_versions) sv,
            (SELECT count(*) FROM backtests) b, (SELECT count(*) FROM webhooks) w`,
  ).first();
  return JSON.stringify(row);
}

beforeAll(async () => {
  users = await Promise.all([signUp("trader"), signUp("guest"), signUp("admin")]);
  key = await createKey(users[0]!);
  ENDPOINTS = await endpoints();
});

describe("any request", () => {
  it("gets a 4xx envelope or a success, never a 5xx, and a refusal writes nothing", async () => {
    // The document was read: the list is not empty or cut short.
    expect(ENDPOINTS.map(([method, path]) => `${method} ${path}`)).toEqual(expect.arrayContaining(["POST /v2/orders", "POST /api/backtests/csv", "POST /api/webhooks/{webhook_id}/test", "PUT /api/admin/config/{key}"]));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          endpoint: fc.constantFrom(...ENDPOINTS),
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
        }),
        async (r) => {
          const [defaultMethod, template] = r.endpoint;
          let path = template.replace(/\{[^}]+\}/g, r.segment);
          if (r.extraPath !== undefined) path = `${path}${r.extraPath}`;
          if (r.query) path += `?${new URLSearchParams(r.query).toString()}`;
          const method = r.method ?? defaultMethod;
          const headers: Record<string, string> = { traceparent: r.garbage.traceparent, "x-request-id": r.garbage.requestId };
          if (r.contentType) headers["content-type"] = r.contentType;
          const credentials =
            r.auth === "trader" ? { token: users[0]!.access }
            : r.auth === "guest" ? { token: users[1]!.access }
            : r.auth === "admin" ? { token: users[2]!.access }
            : r.auth === "key" ? { apiKey: key }
            : {};
          if (r.auth === "garbage") Object.assign(headers, { authorization: r.garbage.authorization, "apca-api-key-id": r.garbage.keyId, "apca-api-secret-key": r.garbage.secret });
          const hasBody = r.body !== undefined && method !== "GET" && method !== "HEAD";

          const before = await snapshot();
          // A request that never answers fails here, naming itself, rather than as the test's timeout.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const hung = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${method} ${path} (${r.auth}) did not answer within 30 s`)), 30_000);
          });
          const res = await Promise.race([call(path, { method, headers, ...credentials, ...(hasBody ? { rawBody: r.body } : {}) }), hung]).finally(() => clearTimeout(timer));
          const text = await res.text();
          expect(res.status, `${method} ${path} → ${res.status} ${text}`).toBeLessThan(500);
          if (res.status >= 400 && method !== "HEAD") {
            const envelope = JSON.parse(text) as { code: number; message: string; details: unknown[]; request_id: string };
            expect(Math.floor(envelope.code / 100000)).toBe(res.status);
            expect(envelope.message.length).toBeGreaterThan(0);
            expect(Array.isArray(envelope.details)).toBe(true);
            expect(envelope.request_id).toBe(res.headers.get("x-request-id"));
            expect(await snapshot(), `${method} ${path} wrote despite ${res.status}`).toBe(before);
          }
        },
      ),
      { numRuns: 600 },
    );
    // Hundreds of real requests through the whole stack: minutes on a loaded CI machine.
  }, 300_000);
});

// ---- list parameters ---------------------------------------------------------------------
// Every comma-separated list a route takes, with 1 to 1,000 values (and one past the
// largest cap): never a 5xx, every refusal in the envelope naming the parameter. A list
// must be bounded before it reaches storage (a Durable Object's SQLite binds at most 100
// parameters per statement; each market-data symbol is a call to its own object).
const STOCKS = ["AAPL", "MSFT", "SPY", "TSLA"];
const PAIRS = ["BTC/USD", "ETH/USD"];
const ACTIVITIES = ["FILL", "CSD", "JNLC"];

interface ListRoute {
  path: string;
  param: string;
  known: string[];
  /** The i-th of many distinct values the route has never heard of. */
  distinct: (i: number) => string;
}

const letters = (i: number, width: number) => Array.from({ length: width }, (_, k) => String.fromCharCode(65 + (Math.floor(i / 26 ** (width - 1 - k)) % 26))).join("");
/** AA … ZZ, then AAA …: short, so a thousand of them fit under the 4,000-character caps. */
const ticker = (i: number) => (i < 676 ? letters(i, 2) : letters(i - 676, 3));
const pair = (i: number) => `${ticker(i)}/USD`;

const LIST_ROUTES: ListRoute[] = [
  { path: "/v2/orders?status=all", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/bars?timeframe=1Min", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/trades?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/quotes?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/trades/latest?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/quotes/latest?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/bars/latest?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v2/stocks/snapshots?", param: "symbols", known: STOCKS, distinct: ticker },
  { path: "/v1beta3/crypto/us/bars?timeframe=1Min", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/trades?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/quotes?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/latest/trades?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/latest/quotes?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/latest/bars?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/latest/orderbooks?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v1beta3/crypto/us/snapshots?", param: "symbols", known: PAIRS, distinct: pair },
  { path: "/v2/account/activities?", param: "activity_types", known: ACTIVITIES, distinct: ticker },
  { path: "/v2/account/activities/FILL?", param: "activity_types", known: ACTIVITIES, distinct: ticker },
  // Alpaca's asset list takes attributes; RedFire ignores them, but a long list must not hurt.
  { path: "/v2/assets?", param: "attributes", known: ["ptp_no_exception", "has_options"], distinct: ticker },
];

const SIZES = [1, 2, 99, 100, 101, 500, 1000, 1001];
const KINDS = {
  distinct: (route: ListRoute, n: number) => Array.from({ length: n }, (_, i) => route.distinct(i)),
  known: (route: ListRoute, n: number) => Array.from({ length: n }, (_, i) => route.known[i % route.known.length]!),
  mixed: (route: ListRoute, n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? route.distinct(i) : route.known[i % route.known.length]!)),
};

const withList = (route: ListRoute, values: string[]) => `${route.path}${route.path.endsWith("?") ? "" : "&"}${route.param}=${values.map(encodeURIComponent).join(",")}`;

/** Asserts a 2xx, or a 4xx (never 429: the list must have been looked at) in the envelope naming the parameter. */
async function expectListAnswer(res: Response, route: ListRoute, what: string): Promise<{ status: number; message?: string }> {
  const text = await res.text();
  expect(res.status, `${what} → ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  expect(res.status, `${what} was rate-limited, so its list was never checked`).not.toBe(429);
  if (res.status < 400) return { status: res.status };
  const envelope = JSON.parse(text) as { code: number; message: string; details: { path: string }[]; request_id: string };
  expect(Math.floor(envelope.code / 100000), what).toBe(res.status);
  expect(envelope.message.length, what).toBeGreaterThan(0);
  expect(envelope.request_id, what).toBe(res.headers.get("x-request-id"));
  if (res.status === 422) expect(envelope.details.map((d) => d.path), `${what}: ${envelope.message}`).toContain(route.param);
  return { status: res.status, message: envelope.message };
}

describe("every list parameter", () => {
  // One user per route keeps each inside its rate limit.
  let owners: TestUser[];
  beforeAll(async () => {
    owners = await Promise.all(LIST_ROUTES.map(() => signUp("trader")));
  }, 120_000);

  it("answers 1 to 1,000 values, known, unknown or mixed, without a 5xx; a refusal is a 422 naming the list", async () => {
    await Promise.all(
      LIST_ROUTES.map(async (route, r) => {
        for (const size of SIZES) {
          for (const [kind, values] of Object.entries(KINDS)) {
            const path = withList(route, values(route, size));
            const answer = await expectListAnswer(await call(path, { token: owners[r]!.access }), route, `${kind} ×${size} ${route.path}`);
            // The orders filter takes every list its 4,000 characters can hold (finding 7: 100+ answered 500).
            if (route.path.startsWith("/v2/orders") && kind === "distinct") expect(answer.status, path.slice(0, 80)).toBe(200);
            // Market data names its cap rather than calling a thousand symbol objects.
            if (route.path.includes("stocks") && kind === "distinct" && size > 1000) expect(answer.message).toMatch(/at most 1000 symbols/);
          }
        }
      }),
    );
    // About 450 requests, some fanning out to every demo symbol: a minute here, more on a loaded CI machine.
  }, 600_000);

  it("holds for random lists of any length up to 1,000 with arbitrary values", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: LIST_ROUTES.length - 1 }),
        fc.integer({ min: 1, max: 1000 }).chain((n) => fc.array(fc.oneof(fc.constantFrom(...STOCKS, ...PAIRS, ...ACTIVITIES), fc.stringMatching(/^[A-Z]{1,5}$/), fc.string({ maxLength: 8 })), { minLength: n, maxLength: n })),
        async (r, values) => {
          const route = LIST_ROUTES[r]!;
          await expectListAnswer(await call(withList(route, values), { token: owners[r]!.access }), route, `×${values.length} ${route.path}`);
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);
});
