import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { fuzzSetup, request, sendAndCheck, type Fuzz } from "./fuzz-requests";

// Random and malformed requests against every endpoint (test/fuzz-requests.ts), one at a
// time: never a 5xx, every failure in the envelope, and a refused request changes nothing.

let fuzz: Fuzz;
beforeAll(async () => {
  fuzz = await fuzzSetup();
});

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

describe("any request", () => {
  it("gets a 4xx envelope or a success, never a 5xx, and a refusal writes nothing", async () => {
    // The document was read: the list is not empty or cut short.
    expect(fuzz.endpoints.map(([method, path]) => `${method} ${path}`)).toEqual(expect.arrayContaining(["POST /v2/orders", "POST /api/backtests/csv", "POST /api/webhooks/{webhook_id}/test", "PUT /api/admin/config/{key}"]));
    await fc.assert(
      fc.asyncProperty(request(fuzz), async (r) => {
        const before = await snapshot();
        const { method, path, status } = await sendAndCheck(fuzz, r);
        if (status >= 400 && method !== "HEAD") expect(await snapshot(), `${method} ${path} wrote despite ${status}`).toBe(before);
      }),
      { numRuns: 600 },
    );
    // Hundreds of real requests through the whole stack: minutes on a loaded CI machine.
  }, 300_000);
});
