import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, signUp, type TestUser } from "./helpers";

// Random and malformed requests against every endpoint: never a 5xx, every failure in
// the envelope, and a refused request changes nothing.
const ENDPOINTS: [string, string][] = [
  ["POST", "/api/auth/register"],
  ["POST", "/api/auth/login"],
  ["POST", "/api/auth/refresh"],
  ["POST", "/api/auth/logout"],
  ["GET", "/api/users/me"],
  ["PATCH", "/api/users/me"],
  ["POST", "/api/users/me/password"],
  ["GET", "/api/keys"],
  ["POST", "/api/keys"],
  ["DELETE", "/api/keys/{id}"],
  ["GET", "/api/admin/users"],
  ["PATCH", "/api/admin/users/{id}"],
  ["GET", "/health"],
  ["GET", "/ready"],
  ["GET", "/openapi.json"],
  ["GET", "/.well-known/jwks.json"],
  ["GET", "/v2/assets"],
  ["GET", "/v2/assets/{id}"],
  ["GET", "/v2/clock"],
  ["GET", "/v2/calendar"],
  ["GET", "/api/admin/assets"],
  ["POST", "/api/admin/assets"],
  ["PATCH", "/api/admin/assets/{id}"],
  ["POST", "/api/admin/assets/{id}/history"],
  ["GET", "/v2/stocks/{id}/bars"],
  ["GET", "/v2/stocks/bars"],
  ["GET", "/v2/stocks/{id}/trades"],
  ["GET", "/v2/stocks/quotes"],
  ["GET", "/v2/stocks/{id}/trades/latest"],
  ["GET", "/v2/stocks/snapshots"],
  ["GET", "/v2/stocks/{id}/snapshot"],
  ["GET", "/v1beta3/crypto/us/bars"],
  ["GET", "/v1beta3/crypto/us/latest/orderbooks"],
  ["GET", "/v1beta3/crypto/us/snapshots"],
  ["GET", "/v2/iex"],
  ["GET", "/v2/account"],
  ["GET", "/v2/account/activities"],
  ["GET", "/v2/account/activities/{id}"],
  ["POST", "/v2/orders"],
  ["GET", "/v2/orders"],
  ["GET", "/v2/orders:by_client_order_id"],
  ["GET", "/v2/orders/{id}"],
  ["PATCH", "/v2/orders/{id}"],
  ["DELETE", "/v2/orders/{id}"],
  ["DELETE", "/v2/orders"],
  ["GET", "/v2/positions"],
  ["GET", "/v2/positions/{id}"],
  ["DELETE", "/v2/positions/{id}"],
  ["DELETE", "/v2/positions"],
  ["POST", "/api/account/reset"],
  ["GET", "/api/admin/accounts/{id}"],
  ["POST", "/api/admin/accounts/{id}/deposits"],
  ["PATCH", "/api/admin/accounts/{id}/limits"],
  ["GET", "/stream"],
];

const FIELDS = ["email", "username", "password", "display_name", "refresh_token", "current_password", "new_password", "name", "scopes", "role", "status", "symbol", "class", "exchange", "tick_size", "lot_size", "feed", "session", "tradable", "qty", "notional", "side", "type", "time_in_force", "limit_price", "stop_price", "client_order_id", "cash", "amount", "percentage", "ordersPerMinute"];

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

async function snapshot(): Promise<string> {
  const row = await env.DB.prepare(
    `SELECT (SELECT count(*) FROM users) u, (SELECT coalesce(sum(updated_at), 0) FROM users) uu,
            (SELECT count(*) FROM sessions) s, (SELECT count(revoked_at) FROM sessions) sr,
            (SELECT count(*) FROM refresh_tokens) r, (SELECT count(used_at) FROM refresh_tokens) ru,
            (SELECT count(*) FROM api_keys) k, (SELECT count(revoked_at) FROM api_keys) kr,
            (SELECT count(*) FROM assets) a, (SELECT coalesce(sum(updated_at), 0) FROM assets) au`,
  ).first();
  return JSON.stringify(row);
}

beforeAll(async () => {
  users = await Promise.all([signUp("trader"), signUp("guest"), signUp("admin")]);
  key = await createKey(users[0]!);
});

describe("any request", () => {
  it("gets a 4xx envelope or a success, never a 5xx, and a refusal writes nothing", async () => {
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
          let path = template.replace("{id}", r.segment);
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
          const res = await call(path, { method, headers, ...credentials, ...(hasBody ? { rawBody: r.body } : {}) });
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
      { numRuns: 400 },
    );
    // Hundreds of real requests through the whole stack: minutes on a loaded CI machine.
  }, 300_000);
});
