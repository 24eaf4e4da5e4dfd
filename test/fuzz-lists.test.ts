import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, signUp, type TestUser } from "./helpers";

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
