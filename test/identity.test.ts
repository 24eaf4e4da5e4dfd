import { env } from "cloudflare:test";
import fc from "fast-check";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { IdentityDesk } from "../durable-objects/account/identity";
import { keyedHash } from "../platform/random";
import { admit, type GateRequest, type KeyRecord, type RateBucket, type SessionRecord, type UserRecord } from "../shared/identity/gate";
import type { WindowState } from "../shared/sliding-window";
import { call, createKey, signUp } from "./helpers";
import { quotedMarket } from "./trading/helpers";
import { instrument, quiet, type CallLog } from "./instrumented";

// The gate of a user's requests (docs/identity.md): the pure rules, then the object's side
// (what it reads from D1 and when it reads again).

const NOW = 1_800_000_000_000;
const user = (over: Partial<UserRecord> = {}): UserRecord => ({ id: "u1", email: "a@b.c", username: "a", displayName: null, role: "trader", status: "active", createdAt: 0, updatedAt: 0, ...over });
const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({ id: "s1", expiresAt: NOW + 60_000, revokedAt: null, ...over });
const key = (over: Partial<KeyRecord> = {}): KeyRecord => ({ keyId: "RKAAAAAAAAAAAAAAAAAA", secretHash: "ab".repeat(32), scopes: ["read"], revokedAt: null, ...over });
const bySession = (over: Partial<GateRequest> = {}): GateRequest => ({ credential: { kind: "session", sessionId: "s1" }, permission: "trading:write", sessionOnly: false, bucket: "trading", limit: 3, windowMs: 60_000, ...over });
const byKey = (secretHash: string, over: Partial<GateRequest> = {}): GateRequest => bySession({ credential: { kind: "api_key", keyId: "RKAAAAAAAAAAAAAAAAAA", secretHash }, ...over });
const windows = () => new Map<RateBucket, WindowState>();

describe("the gate's rules", () => {
  it("admits a standing session with the role's permissions and counts it", () => {
    const w = windows();
    const outcome = admit(user(), session(), bySession(), w, NOW);
    expect(outcome.admitted).toBe(true);
    expect(outcome.rate).toMatchObject({ allowed: true, limit: 3, remaining: 2 });
    expect(w.get("trading")?.current).toBe(1);
  });

  it("refuses an ended, revoked or unknown session, and a disabled user, with 401 and without counting", () => {
    const cases: [UserRecord | null, SessionRecord | null, string][] = [
      [user(), session({ expiresAt: NOW }), "session has ended; sign in again"],
      [user(), session({ revokedAt: NOW - 1 }), "session has ended; sign in again"],
      [user(), null, "session has ended; sign in again"],
      [null, session(), "session has ended; sign in again"],
      [user({ status: "disabled" }), session(), "this account is disabled; ask an administrator to enable it"],
      // Disabling a user revokes their sessions: the token is told why, not to sign in again.
      [user({ status: "disabled" }), session({ revokedAt: NOW - 1 }), "this account is disabled; ask an administrator to enable it"],
    ];
    for (const [u, s, message] of cases) {
      const w = windows();
      const outcome = admit(u, s, bySession(), w, NOW);
      expect(outcome).toEqual({ admitted: false, refusal: { status: 401, message, counted: false }, rate: null });
      expect(w.size).toBe(0);
    }
  });

  it("takes a key only with its exact secret hash, unrevoked, and gives it its scopes' permissions", () => {
    const stored = key({ scopes: ["read"] });
    expect(admit(user(), stored, byKey("cd".repeat(32)), windows(), NOW)).toMatchObject({ admitted: false, refusal: { status: 401, message: "API key is invalid" } });
    expect(admit(user(), key({ revokedAt: 1 }), byKey(stored.secretHash), windows(), NOW)).toMatchObject({ admitted: false, refusal: { status: 401 } });
    // A read-only key may read but not trade: 403, counted.
    expect(admit(user(), stored, byKey(stored.secretHash, { permission: "trading:read" }), windows(), NOW).admitted).toBe(true);
    expect(admit(user(), stored, byKey(stored.secretHash), windows(), NOW)).toMatchObject({ admitted: false, refusal: { status: 403, message: "forbidden: requires permission trading:write", counted: true } });
    expect(admit(user(), stored, byKey(stored.secretHash, { permission: "user:write", sessionOnly: true }), windows(), NOW)).toMatchObject({ admitted: false, refusal: { status: 403, message: "this action needs a signed-in session, not an API key" } });
  });

  it("never admits more than the limit in a window, whatever the mix of requests", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("ok", "bad-credential", "no-permission"), { maxLength: 40 }), fc.integer({ min: 1, max: 10 }), (mix, limit) => {
        const w = windows();
        let admitted = 0;
        let counted = 0;
        for (const kind of mix) {
          const request = bySession({ limit, permission: kind === "no-permission" ? "admin:all" : "trading:write" });
          const outcome = admit(user(), kind === "bad-credential" ? session({ revokedAt: 1 }) : session(), request, w, NOW);
          if (outcome.admitted) admitted += 1;
          if (outcome.admitted || outcome.refusal.counted) counted += outcome.admitted || outcome.refusal.status !== 429 ? 1 : 0;
          if (!outcome.admitted && outcome.refusal.status === 401) expect(outcome.refusal.counted).toBe(false);
        }
        expect(counted).toBeLessThanOrEqual(limit);
        expect(admitted).toBeLessThanOrEqual(limit);
        expect(w.get("trading")?.current ?? 0).toBe(counted);
      }),
      { numRuns: 500 },
    );
  });
});

describe("the user's object's side", () => {
  const statements = (log: CallLog) => log.filter((c) => c.startsWith("DB:")).length;
  const sessionRequest = (access: string) => bySession({ credential: { kind: "session", sessionId: decodeJwt(access).sid as string }, permission: "user:read", limit: 100 });

  it("reads D1 once for a credential, then answers from memory", async () => {
    const u = await signUp();
    const k = await createKey(u);
    const desk = new IdentityDesk(env, u.id);
    const request = bySession({ credential: { kind: "api_key", keyId: k.key_id, secretHash: await keyedHash(env.PASSWORD_PEPPER, k.secret) }, limit: 100 });
    await quiet(env);
    const log: CallLog = [];
    const restore = instrument(env, log);
    try {
      expect((await desk.admit(request)).admitted).toBe(true);
      const read = statements(log);
      expect(read).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) expect((await desk.admit(request)).admitted).toBe(true);
      expect(statements(log)).toBe(read);
    } finally {
      restore();
    }
  });

  it("a change that arrives while D1 is being read is not overwritten by that read: it reads again", async () => {
    const u = await signUp();
    const desk = new IdentityDesk(env, u.id);
    const request = sessionRequest(u.access);
    await quiet(env);
    const log: CallLog = [];
    const restore = instrument(env, log);
    try {
      // One read of an unknown credential, for comparison.
      await new IdentityDesk(env, u.id).admit(request);
      const oneRead = statements(log);
      log.length = 0;
      const first = desk.admit(request);
      desk.forget(); // the change lands while the first read is in flight
      expect((await first).admitted).toBe(true);
      expect(statements(log)).toBe(2 * oneRead);
      // What the second read found is kept.
      await desk.admit(request);
      expect(statements(log)).toBe(2 * oneRead);
    } finally {
      restore();
    }
  });

  it("after forget, a revoked session is refused on the next request", async () => {
    const u = await signUp();
    const desk = new IdentityDesk(env, u.id);
    const request = sessionRequest(u.access);
    expect((await desk.admit(request)).admitted).toBe(true);
    await env.DB.prepare("UPDATE sessions SET revoked_at = ? WHERE id = ?").bind(Date.now(), decodeJwt(u.access).sid).run();
    // Not yet told: the object still trusts what it read (for at most IDENTITY_FRESH_MS).
    expect((await desk.admit(request)).admitted).toBe(true);
    desk.forget();
    expect(await desk.admit(request)).toMatchObject({ admitted: false, refusal: { status: 401, message: "session has ended; sign in again" } });
  });
});

describe("revocation under concurrent requests", () => {
  it("orders racing a logout: each is placed or refused with 401, none after the logout answers, never a 5xx", async () => {
    const admin = await signUp("admin");
    const market = await quotedMarket(admin);
    const user = await signUp();
    const order = (i: number) => call("/v2/orders", { token: user.access, ip: user.ip, body: { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "90.00", time_in_force: "gtc", client_order_id: `race-${i}` } });
    const before = Array.from({ length: 20 }, (_, i) => order(i));
    const logout = call("/api/auth/logout", { body: { refresh_token: user.refresh } });
    const during = Array.from({ length: 20 }, (_, i) => order(20 + i));
    expect((await logout).status).toBe(204);
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => order(40 + i)));
    const raced = await Promise.all([...before, ...during]);
    for (const res of [...raced, ...after]) expect([200, 401]).toContain(res.status);
    expect(after.map((r) => r.status)).toEqual(Array(10).fill(401));
    // What was placed is what the account holds: no order slipped in without an answer.
    const placed = raced.filter((r) => r.status === 200).length;
    const held = await env.ACCOUNT.getByName(user.id).orders({ open: null, after: null, until: null, direction: "desc", limit: 500, symbols: null, side: null });
    expect(held.length).toBe(placed);
  });
});
