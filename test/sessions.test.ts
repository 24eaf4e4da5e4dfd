import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import type { Session } from "../shared/schemas/identity";
import { call, createKey, expectError, json, signUp, type TestUser } from "./helpers";

// A user's sign-ins, listed and ended one by one (GET/DELETE /api/sessions): what a trader
// does after signing in on a machine that is not theirs, without changing the password.

type SessionView = z.infer<typeof Session>;

const sid = (access: string) => String(decodeJwt(access).sid);

async function login(user: TestUser, userAgent: string): Promise<{ access: string; refresh: string }> {
  const res = await call("/api/auth/login", { body: { email: user.email, password: user.password }, headers: { "user-agent": userAgent }, ip: user.ip });
  expect(res.status).toBe(200);
  const body = await json<{ access_token: string; refresh_token: string }>(res);
  return { access: body.access_token, refresh: body.refresh_token };
}

const list = async (access: string) => {
  const res = await call("/api/sessions", { token: access });
  expect(res.status).toBe(200);
  return json<SessionView[]>(res);
};

describe("a user's sessions", () => {
  it("lists the open ones, newest first, marking the caller's, with when each was refreshed", async () => {
    const user = await signUp();
    const laptop = await login(user, "Laptop/1.0");
    const phone = await login(user, "Phone/2.0");
    // The laptop refreshes: its session is the same, its refresh time moves.
    const refreshed = await call("/api/auth/refresh", { body: { refresh_token: laptop.refresh } });
    expect(refreshed.status).toBe(200);
    const sessions = await list(phone.access);
    expect(sessions.map((s) => s.id)).toEqual([sid(phone.access), sid(laptop.access), sid(user.access)]);
    expect(sessions.map((s) => s.current)).toEqual([true, false, false]);
    expect(sessions.map((s) => s.user_agent)).toEqual(["Phone/2.0", "Laptop/1.0", null]);
    const [, laptopView] = sessions;
    expect(Date.parse(laptopView!.last_refreshed_at!)).toBeGreaterThanOrEqual(Date.parse(laptopView!.created_at));
    expect(Date.parse(laptopView!.expires_at)).toBeGreaterThan(Date.now());
    // Another user's sessions are not listed.
    const other = await signUp();
    expect((await list(other.access)).map((s) => s.id)).toEqual([sid(other.access)]);
  });

  it("ends one: its access token and refresh token stop at once, the others go on", async () => {
    const user = await signUp();
    const other = await login(user, "Other/1.0");
    // The user's object has admitted the session (and remembers it) before it ends.
    expect((await call("/api/users/me", { token: other.access })).status).toBe(200);
    expect((await call(`/api/sessions/${sid(other.access)}`, { method: "DELETE", token: user.access })).status).toBe(204);
    await expectError(await call("/api/users/me", { token: other.access }), 401);
    await expectError(await call("/v2/account", { token: other.access }), 401);
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: other.refresh } }), 401);
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
    expect((await list(user.access)).map((s) => s.id)).toEqual([sid(user.access)]);
    const row = await env.DB.prepare("SELECT revoke_reason FROM sessions WHERE id = ?").bind(sid(other.access)).first<{ revoke_reason: string }>();
    expect(row?.revoke_reason).toBe("revoked_by_user");
  });

  it("ends the caller's own session as signing out would", async () => {
    const user = await signUp();
    expect((await call(`/api/sessions/${sid(user.access)}`, { method: "DELETE", token: user.access })).status).toBe(204);
    await expectError(await call("/api/users/me", { token: user.access }), 401);
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }), 401);
  });

  it("answers 404 for another user's session, an ended one or an unknown id, and 422 for a malformed id, changing nothing", async () => {
    const [user, victim] = await Promise.all([signUp(), signUp()]);
    const ended = await login(user, "Ended/1.0");
    expect((await call(`/api/sessions/${sid(ended.access)}`, { method: "DELETE", token: user.access })).status).toBe(204);
    for (const id of [sid(victim.access), sid(ended.access), crypto.randomUUID()]) {
      const body = await expectError(await call(`/api/sessions/${id}`, { method: "DELETE", token: user.access }), 404);
      expect(body.message).toBe("session not found (or already ended)");
    }
    const malformed = await expectError(await call("/api/sessions/not-a-session", { method: "DELETE", token: user.access }), 422);
    expect(malformed.details).toEqual([expect.objectContaining({ path: "session_id", message: "is not a session id" })]);
    // The victim's session still stands.
    expect((await call("/api/users/me", { token: victim.access })).status).toBe(200);
  });

  it("needs a signed-in session: an API key can neither list nor end sessions", async () => {
    const user = await signUp();
    const key = await createKey(user);
    await expectError(await call("/api/sessions", { apiKey: key }), 403);
    await expectError(await call(`/api/sessions/${sid(user.access)}`, { method: "DELETE", apiKey: key }), 403);
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
  });

  it("lists neither expired nor revoked sessions, and an expired one cannot be ended again", async () => {
    const user = await signUp();
    const old = await login(user, "Old/1.0");
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, sid(old.access)).run();
    expect((await list(user.access)).map((s) => s.id)).toEqual([sid(user.access)]);
    await expectError(await call(`/api/sessions/${sid(old.access)}`, { method: "DELETE", token: user.access }), 404);
  });
});
