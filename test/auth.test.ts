import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../shared/password-policy";
import { call, createKey, expectError, freshIp, json, ORIGIN, PASSWORD, signUp, tableCounts } from "./helpers";

interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
}

const GRACE_MS = Number(env.REFRESH_REUSE_GRACE_SECONDS) * 1000;

/** Moves the session's rotations `ms` into the past, as if that much time had gone by. */
async function ageRotation(accessToken: string, ms: number): Promise<void> {
  const { sid } = decodeJwt(accessToken);
  await env.DB.prepare("UPDATE refresh_tokens SET used_at = used_at - ? WHERE session_id = ? AND used_at IS NOT NULL").bind(ms, sid).run();
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e9).toString(36)}`;

describe("register", () => {
  it("creates a trader, signs them in and answers in the OAuth token shape", async () => {
    const tag = unique();
    const res = await call("/api/auth/register", { body: { email: `Ada${tag}@Example.com`, username: `Ada${tag}`, password: PASSWORD } });
    expect(res.status).toBe(201);
    const body = await json<Tokens & { user: Record<string, unknown> }>(res);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(900);
    expect(body.refresh_token.length).toBeGreaterThan(30);
    expect(body.user).toMatchObject({ email: `ada${tag}@example.com`, username: `ada${tag}`, role: "trader", status: "active" });
    expect(body).not.toHaveProperty("message");
    const me = await call("/api/users/me", { token: body.access_token });
    expect((await json(me)).id).toBe(body.user.id);
  });

  it("stores the password only as a scrypt hash", async () => {
    const user = await signUp();
    const row = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first<{ password_hash: string }>();
    expect(row?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/);
    expect(row?.password_hash).not.toContain(PASSWORD);
  });

  it("refuses a duplicate email or username with 409, case-insensitively", async () => {
    const user = await signUp();
    const sameEmail = await call("/api/auth/register", { body: { email: user.email.toUpperCase(), username: `x${unique()}`, password: PASSWORD } });
    expect((await expectError(sameEmail, 409)).details[0]?.path).toBe("email");
    const sameName = await call("/api/auth/register", { body: { email: `x${unique()}@example.com`, username: user.username.toUpperCase(), password: PASSWORD } });
    expect((await expectError(sameName, 409)).details[0]?.path).toBe("username");
  });

  it("lets exactly one of two concurrent sign-ups with one email through", async () => {
    const email = `race${unique()}@example.com`;
    const [a, b] = await Promise.all([
      call("/api/auth/register", { body: { email, username: `ra${unique()}`, password: PASSWORD } }),
      call("/api/auth/register", { body: { email, username: `rb${unique()}`, password: PASSWORD } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE email = ?").bind(email).first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it("documents the sign-up password's length as the policy checks it; sign-in's stays free", async () => {
    type Doc = { components: { schemas: Record<string, { properties: Record<string, { minLength?: number; maxLength?: number }> }> } };
    const doc = await json<Doc>(await call("/openapi.json"));
    expect(doc.components.schemas.RegisterRequest!.properties.password).toMatchObject({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
    expect(doc.components.schemas.LoginRequest!.properties.password!.minLength).toBe(1);
  });

  it.each([
    ["short1", "min_length"],
    ["password1234", "common_password"],
    ["aaaaaaaaaaaaaaaa", "repeated_characters"],
  ])("refuses the weak password %j with 422 naming the rule %s", async (password, rule) => {
    const before = await tableCounts();
    const res = await call("/api/auth/register", { body: { email: `w${unique()}@example.com`, username: `w${unique()}`, password } });
    const error = await expectError(res, 422);
    expect(error.message).toContain(rule);
    expect(error.details.map((d) => d.rule)).toContain(rule);
    expect(error.details[0]?.path).toBe("password");
    expect(await tableCounts()).toEqual(before);
  });

  it("refuses a password containing the username", async () => {
    const username = `zed${unique()}`;
    const res = await call("/api/auth/register", { body: { email: `z${unique()}@example.com`, username, password: `my-${username}-secret` } });
    expect((await expectError(res, 422)).details.map((d) => d.rule)).toContain("contains_identity");
  });

  it("names the password's weaknesses beside the other fields' problems, not only once they pass", async () => {
    const before = await tableCounts();
    const res = await call("/api/auth/register", { body: { email: "not-an-email", username: "a", password: "password1234" } });
    const error = await expectError(res, 422);
    expect(error.details.map((d) => d.path).sort()).toEqual(["email", "password", "username"]);
    expect(error.details.find((d) => d.path === "password")?.rule).toBe("common_password");
    expect(await tableCounts()).toEqual(before);
  });

  it("reports every invalid field with its path", async () => {
    const res = await call("/api/auth/register", { body: { email: "not-an-email", username: "a", password: "" } });
    const error = await expectError(res, 422);
    expect(error.details.map((d) => d.path).sort()).toEqual(["email", "password", "username"]);
  });
});

describe("login", () => {
  it("signs in with the right password", async () => {
    const user = await signUp();
    const res = await call("/api/auth/login", { body: { email: user.email, password: user.password } });
    expect(res.status).toBe(200);
    const tokens = await json<Tokens>(res);
    expect(tokens.token_type).toBe("Bearer");
    expect((await call("/api/users/me", { token: tokens.access_token })).status).toBe(200);
  });

  it("answers an unknown email exactly like a wrong password", async () => {
    const user = await signUp();
    const wrong = await expectError(await call("/api/auth/login", { body: { email: user.email, password: "wrong-password-123" } }), 401);
    const unknown = await expectError(await call("/api/auth/login", { body: { email: `nobody${unique()}@example.com`, password: "wrong-password-123" } }), 401);
    expect(unknown.code).toBe(wrong.code);
    expect(unknown.message).toBe(wrong.message);
  });

  it("locks an account after repeated failures, even from many clients, with Retry-After", async () => {
    const user = await signUp();
    for (let i = 0; i < 10; i++) {
      const res = await call("/api/auth/login", { body: { email: user.email, password: `wrong-password-${i}` }, ip: freshIp() });
      await expectError(res, 401);
    }
    const locked = await call("/api/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() });
    await expectError(locked, 429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another account is not affected.
    const other = await signUp();
    expect((await call("/api/auth/login", { body: { email: other.email, password: other.password } })).status).toBe(200);
  });

  it("lets at most 10 of 40 simultaneous wrong guesses from 40 clients reach the password check, then stays locked", async () => {
    const user = await signUp();
    const guesses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call("/api/auth/login", { body: { email: user.email, password: `wrong-guess-${i}` }, ip: freshIp() })),
    );
    const checked = guesses.filter((r) => r.status === 401);
    const refused = guesses.filter((r) => r.status === 429);
    expect(checked.length + refused.length).toBe(40);
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.length).toBeLessThanOrEqual(10);
    for (const r of refused) expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    await Promise.all(guesses.map((r) => r.body?.cancel()));
    // Locked as designed: the right password is refused too until the window slides on.
    const locked = await call("/api/auth/login", { body: { email: user.email, password: user.password }, ip: freshIp() });
    await expectError(locked, 429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("tells a disabled user who gives the right password that the account is disabled, and a wrong one nothing more", async () => {
    const user = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'disabled' WHERE id = ?").bind(user.id).run();
    const right = await expectError(await call("/api/auth/login", { body: { email: user.email, password: user.password } }), 403);
    expect(right.message).toBe("this account is disabled; ask an administrator to enable it");
    const wrong = await expectError(await call("/api/auth/login", { body: { email: user.email, password: `${user.password}x` } }), 401);
    expect(wrong.message).toBe("email or password is incorrect");
  });

  it("tells a disabled user's token, refresh token and API key that the account is disabled, not that the session ended", async () => {
    const [user, admin] = await Promise.all([signUp(), signUp("admin")]);
    const key = await createKey(user);
    // Through the admin API, as in life: disabling also ends the user's sessions.
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access })).status).toBe(200);
    const disabled = "this account is disabled; ask an administrator to enable it";
    expect((await expectError(await call("/api/users/me", { token: user.access }), 401)).message).toBe(disabled);
    expect((await expectError(await call("/v2/account", { apiKey: key }), 401)).message).toBe(disabled);
    expect((await expectError(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }), 401)).message).toBe(disabled);
    // Enabled again: the key works, the ended session stays ended.
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "active" }, token: admin.access })).status).toBe(200);
    expect((await call("/v2/account", { apiKey: key })).status).toBe(200);
    expect((await expectError(await call("/api/users/me", { token: user.access }), 401)).message).toBe("session has ended; sign in again");
  });
});

describe("refresh", () => {
  it("rotates: the new pair works and the old refresh token does not", async () => {
    const user = await signUp();
    const res = await call("/api/auth/refresh", { body: { refresh_token: user.refresh } });
    expect(res.status).toBe(200);
    const next = await json<Tokens>(res);
    expect(next.refresh_token).not.toBe(user.refresh);
    expect((await call("/api/users/me", { token: next.access_token })).status).toBe(200);
    const again = await call("/api/auth/refresh", { body: { refresh_token: next.refresh_token } });
    expect(again.status).toBe(200);
  });

  it("revokes the whole family when a rotated refresh token is replayed after the grace", async () => {
    const user = await signUp();
    const first = await json<Tokens>(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }));
    await ageRotation(user.access, GRACE_MS + 1000);
    const replay = await call("/api/auth/refresh", { body: { refresh_token: user.refresh } });
    expect((await expectError(replay, 401)).message).toContain("already used");
    // The legitimate holder's newer tokens die with the family.
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: first.refresh_token } }), 401);
    await expectError(await call("/api/users/me", { token: first.access_token }), 401);
    await expectError(await call("/api/users/me", { token: user.access }), 401);
  });

  it("answers concurrent refreshes of one token within the grace with the same new pair, and the family stays valid", async () => {
    const user = await signUp();
    const results = await Promise.all([0, 1, 2].map(() => call("/api/auth/refresh", { body: { refresh_token: user.refresh } })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const pairs = await Promise.all(results.map((r) => json<Tokens>(r)));
    expect(new Set(pairs.map((p) => p.refresh_token)).size).toBe(1);
    expect(pairs[0]!.refresh_token).not.toBe(user.refresh);
    for (const p of pairs) expect((await call("/api/users/me", { token: p.access_token })).status).toBe(200);
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
    // The shared successor rotates on as usual.
    const next = await call("/api/auth/refresh", { body: { refresh_token: pairs[0]!.refresh_token } });
    expect(next.status).toBe(200);
    expect((await call("/api/users/me", { token: (await json<Tokens>(next)).access_token })).status).toBe(200);
  });

  it("answers a late duplicate within the grace with the family's live token, even after it rotated again", async () => {
    const user = await signUp();
    const first = await json<Tokens>(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }));
    const second = await json<Tokens>(await call("/api/auth/refresh", { body: { refresh_token: first.refresh_token } }));
    const late = await call("/api/auth/refresh", { body: { refresh_token: user.refresh } });
    expect(late.status).toBe(200);
    const body = await json<Tokens>(late);
    expect(body.refresh_token).toBe(second.refresh_token);
    expect((await call("/api/users/me", { token: body.access_token })).status).toBe(200);
  });

  it("stores neither a token nor its successor in the clear", async () => {
    const user = await signUp();
    const next = await json<Tokens>(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }));
    const { sid } = decodeJwt(user.access);
    const rows = await env.DB.prepare("SELECT * FROM refresh_tokens WHERE session_id = ?").bind(sid).all();
    const stored = JSON.stringify(rows.results);
    expect(rows.results.length).toBe(2);
    expect(stored).not.toContain(user.refresh);
    expect(stored).not.toContain(next.refresh_token);
  });

  it("refuses an unknown refresh token", async () => {
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: "not-a-token" } }), 401);
  });

  it("does not refresh a disabled user's session", async () => {
    const user = await signUp();
    await env.DB.prepare("UPDATE users SET status = 'disabled' WHERE id = ?").bind(user.id).run();
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }), 401);
  });
});

describe("logout", () => {
  it("ends the session at once: its access and refresh tokens stop working", async () => {
    const user = await signUp();
    const res = await call("/api/auth/logout", { body: { refresh_token: user.refresh } });
    expect(res.status).toBe(204);
    await expectError(await call("/api/users/me", { token: user.access }), 401);
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }), 401);
  });

  it("leaves the user's other sessions alone", async () => {
    const user = await signUp();
    const other = await json<Tokens>(await call("/api/auth/login", { body: { email: user.email, password: user.password } }));
    await call("/api/auth/logout", { body: { refresh_token: user.refresh } });
    expect((await call("/api/users/me", { token: other.access_token })).status).toBe(200);
  });

  it("is idempotent for unknown tokens", async () => {
    expect((await call("/api/auth/logout", { body: { refresh_token: "unknown-token" } })).status).toBe(204);
  });
});

describe("login throttling per client", () => {
  it("refuses a client that failed against many accounts, without locking those accounts for others", async () => {
    const ip = freshIp();
    const victims = await Promise.all([signUp(), signUp()]);
    // The auth route class admits 10 requests a minute per client, so 30 failures take
    // minutes to accumulate; record the first 29 straight into the client's counter.
    const limiter = env.RATE_LIMITER.getByName(`ip:${ip}`);
    for (let i = 0; i < 29; i++) await limiter.hit("login-failures", 30, 900_000);
    await expectError(await call("/api/auth/login", { body: { email: `spray${unique()}@example.com`, password: "guess-password-1" }, ip }), 401);
    const refused = await call("/api/auth/login", { body: { email: victims[0]!.email, password: victims[0]!.password }, ip });
    await expectError(refused, 429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const elsewhere = await call("/api/auth/login", { body: { email: victims[0]!.email, password: victims[0]!.password } });
    expect(elsewhere.status).toBe(200);
    expect((await call("/api/auth/login", { body: { email: victims[1]!.email, password: victims[1]!.password } })).status).toBe(200);
  });

  it("a successful sign-in clears the account's failure count", async () => {
    const user = await signUp();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 9; i++) await expectError(await call("/api/auth/login", { body: { email: user.email, password: `nope-nope-${i}` } }), 401);
      expect((await call("/api/auth/login", { body: { email: user.email, password: user.password } })).status).toBe(200);
    }
  });
});

describe("the browser's cookie flow (X-RedFire-Session: cookie)", () => {
  const COOKIE = "__Secure-redfire_refresh";
  const FLOW = { "x-redfire-session": "cookie" };

  /** The refresh cookie a response sets: its value and attributes. */
  function setCookieOf(res: Response): { value: string; attributes: string } | undefined {
    const line = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
    if (!line) return undefined;
    const [pair, ...attributes] = line.split(";");
    return { value: pair!.slice(COOKIE.length + 1), attributes: attributes.join(";") };
  }

  async function cookieLogin(user: { email: string; password: string }) {
    const res = await call("/api/auth/login", { body: { email: user.email, password: user.password }, headers: FLOW });
    expect(res.status).toBe(200);
    const cookie = setCookieOf(res);
    return { res, body: await json<Partial<Tokens>>(res), token: cookie!.value };
  }

  const withCookie = (token: string, extra: Record<string, string> = {}) => ({ ...FLOW, cookie: `${COOKIE}=${token}`, ...extra });

  it("sign-in sets the refresh token as an HttpOnly, Secure, SameSite=Strict cookie for /api/auth and leaves it out of the body", async () => {
    const user = await signUp();
    const { res, body, token } = await cookieLogin(user);
    const attributes = setCookieOf(res)!.attributes;
    expect(attributes).toMatch(/HttpOnly/);
    expect(attributes).toMatch(/Secure/);
    expect(attributes).toMatch(/SameSite=Strict/);
    expect(attributes).toMatch(/Path=\/api\/auth(;|$)/);
    expect(token.length).toBeGreaterThan(30);
    expect(body).not.toHaveProperty("refresh_token");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await call("/api/users/me", { token: body.access_token! })).status).toBe(200);
  });

  it("sign-up sets the cookie too", async () => {
    const tag = unique();
    const res = await call("/api/auth/register", { body: { email: `c${tag}@example.com`, username: `c${tag}`, password: PASSWORD }, headers: FLOW });
    expect(res.status).toBe(201);
    const body = await json<Record<string, unknown>>(res);
    expect(body).not.toHaveProperty("refresh_token");
    expect(body.user).toMatchObject({ username: `c${tag}` });
    expect(setCookieOf(res)?.attributes).toMatch(/HttpOnly/);
  });

  it("refresh reads the cookie and rotates it", async () => {
    const user = await signUp();
    const { token } = await cookieLogin(user);
    const res = await call("/api/auth/refresh", { method: "POST", headers: withCookie(token) });
    expect(res.status).toBe(200);
    const body = await json<Partial<Tokens>>(res);
    expect(body).not.toHaveProperty("refresh_token");
    expect((await call("/api/users/me", { token: body.access_token! })).status).toBe(200);
    const next = setCookieOf(res)!.value;
    expect(next).not.toBe(token);
    expect((await call("/api/auth/refresh", { method: "POST", headers: withCookie(next) })).status).toBe(200);
  });

  it("API clients keep the body flow: without the header the cookie is not read", async () => {
    const user = await signUp();
    const { token } = await cookieLogin(user);
    const res = await call("/api/auth/refresh", { method: "POST", headers: { cookie: `${COOKIE}=${token}` } });
    expect((await expectError(res, 422)).details[0]?.path).toBe("refresh_token");
    // The body flow still takes the same token.
    const body = await call("/api/auth/refresh", { body: { refresh_token: token } });
    expect(body.status).toBe(200);
    expect((await json<Tokens>(body)).refresh_token).toBeTruthy();
  });

  it("refuses a cookie-flow request from another origin with 403, and the token stays unused", async () => {
    const user = await signUp();
    const { token } = await cookieLogin(user);
    await expectError(await call("/api/auth/refresh", { method: "POST", headers: withCookie(token, { origin: "https://evil.example" }) }), 403);
    await expectError(await call("/api/auth/logout", { method: "POST", headers: withCookie(token, { origin: "https://evil.example" }) }), 403);
    await expectError(await call("/api/auth/login", { body: { email: user.email, password: user.password }, headers: { ...FLOW, origin: "https://evil.example" } }), 403);
    // An allowed origin and this origin are fine.
    const res = await call("/api/auth/refresh", { method: "POST", headers: withCookie(token, { origin: ORIGIN }) });
    expect(res.status).toBe(200);
    const next = setCookieOf(res)!.value;
    expect((await call("/api/auth/refresh", { method: "POST", headers: withCookie(next, { origin: "http://localhost:8787" }) })).status).toBe(200);
  });

  it("without a cookie, refresh answers 401", async () => {
    await expectError(await call("/api/auth/refresh", { method: "POST", headers: FLOW }), 401);
  });

  it("a refused cookie is cleared", async () => {
    const res = await call("/api/auth/refresh", { method: "POST", headers: withCookie("not-a-token") });
    await expectError(res, 401);
    const cleared = setCookieOf(res);
    expect(cleared?.value).toBe("");
    expect(cleared?.attributes).toMatch(/Max-Age=0/);
    expect(cleared?.attributes).toMatch(/Path=\/api\/auth(;|$)/);
  });

  it("logout ends the session the cookie belongs to and clears the cookie", async () => {
    const user = await signUp();
    const { body, token } = await cookieLogin(user);
    const res = await call("/api/auth/logout", { method: "POST", headers: withCookie(token) });
    expect(res.status).toBe(204);
    expect(setCookieOf(res)?.attributes).toMatch(/Max-Age=0/);
    await expectError(await call("/api/users/me", { token: body.access_token! }), 401);
    await expectError(await call("/api/auth/refresh", { method: "POST", headers: withCookie(token) }), 401);
  });
});
