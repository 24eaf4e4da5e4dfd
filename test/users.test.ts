import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordViolations } from "../shared/password-policy";
import { call, createKey, expectError, json, signUp, tableCounts } from "./helpers";

interface Tokens {
  access_token: string;
  refresh_token: string;
}

describe("me and profile", () => {
  it("GET /api/users/me answers the caller and no secrets", async () => {
    const user = await signUp();
    const body = await json(await call("/api/users/me", { token: user.access }));
    expect(body).toMatchObject({ id: user.id, email: user.email, username: user.username, role: "trader", status: "active" });
    expect(JSON.stringify(body)).not.toMatch(/password|scrypt/);
  });

  it("requires credentials", async () => {
    expect((await expectError(await call("/api/users/me"), 401)).code).toBe(40110000);
  });

  it("updates username and display name", async () => {
    const user = await signUp();
    const res = await call("/api/users/me", { method: "PATCH", body: { username: `${user.username}x`, display_name: "Ada L." }, token: user.access });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ username: `${user.username}x`, display_name: "Ada L." });
    // An unpaired surrogate too: it was stored as three U+FFFD (QA).
    for (const display_name of ["\u0000\u202e", "Ada\u200fL", "a\ud800b"]) {
      const refused = await expectError(await call("/api/users/me", { method: "PATCH", body: { display_name }, token: user.access }), 422);
      expect(refused.details.map((d) => d.path)).toEqual(["display_name"]);
    }
  });

  it("refuses a username someone else has with 409 and changes nothing", async () => {
    const [a, b] = await Promise.all([signUp(), signUp()]);
    await expectError(await call("/api/users/me", { method: "PATCH", body: { username: b.username }, token: a.access }), 409);
    expect((await json(await call("/api/users/me", { token: a.access }))).username).toBe(a.username);
  });

  it("refuses an empty update and unknown fields with 422", async () => {
    const user = await signUp();
    await expectError(await call("/api/users/me", { method: "PATCH", body: {}, token: user.access }), 422);
    const error = await expectError(await call("/api/users/me", { method: "PATCH", body: { role: "admin" }, token: user.access }), 422);
    expect(error.details.length).toBeGreaterThan(0);
    expect((await json(await call("/api/users/me", { token: user.access }))).role).toBe("trader");
  });
});

describe("password change", () => {
  it("ends every other session at once and keeps the current one", async () => {
    const user = await signUp();
    const other = await json<Tokens>(await call("/api/auth/login", { body: { email: user.email, password: user.password } }));
    const res = await call("/api/users/me/password", { body: { current_password: user.password, new_password: "a-brand-new-passphrase" }, token: user.access });
    expect(res.status).toBe(200);
    await expectError(await call("/api/users/me", { token: other.access_token }), 401);
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: other.refresh_token } }), 401);
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
    await expectError(await call("/api/auth/login", { body: { email: user.email, password: user.password } }), 401);
    expect((await call("/api/auth/login", { body: { email: user.email, password: "a-brand-new-passphrase" } })).status).toBe(200);
  });

  it("keeps API keys working (they are independent of the password, as on Alpaca) and says so", async () => {
    const user = await signUp();
    const key = await createKey(user);
    const res = await call("/api/users/me/password", { body: { current_password: user.password, new_password: "a-brand-new-passphrase" }, token: user.access });
    const body = await json<{ api_keys_kept: boolean; message: string }>(res);
    expect(body).toMatchObject({ api_keys_kept: true });
    expect(body.message).toMatch(/DELETE \/api\/keys/);
    expect((await call("/api/users/me", { apiKey: key })).status).toBe(200);
  });

  it("requires the current password", async () => {
    const user = await signUp();
    const error = await expectError(
      await call("/api/users/me/password", { body: { current_password: "not-my-password", new_password: "a-brand-new-passphrase" }, token: user.access }),
      422,
    );
    expect(error.details[0]?.path).toBe("current_password");
    // The same password again changes nothing and ends nothing: refused.
    const same = await expectError(await call("/api/users/me/password", { body: { current_password: user.password, new_password: user.password }, token: user.access }), 422);
    expect(same.details[0]?.path).toBe("new_password");
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
  });

  it("counts wrong current passwords as failed sign-ins: past the account's limit even the right one waits (429), and sign-in is locked out too", async () => {
    // Found in QA: 40 wrong guesses through a stolen access token, then the right one, never a 429.
    const user = await signUp();
    const ip = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
    const hash = () => env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first<{ password_hash: string }>();
    const before = await hash();
    const change = (current: string) => call("/api/users/me/password", { body: { current_password: current, new_password: "a-brand-new-passphrase" }, token: user.access, ip });
    // perAccount is 10 in the test bindings.
    for (let i = 0; i < 10; i++) await expectError(await change(`guess-number-${i}`), 422);
    const locked = await expectError(await change(user.password), 429);
    expect(locked.message).toBe("too many failed sign-in attempts; try again later");
    await expectError(await call("/api/auth/login", { body: { email: user.email, password: user.password } }), 429);
    // Nothing changed: the old password is still the one.
    expect(await hash()).toEqual(before);
    expect((await call("/api/users/me", { token: user.access })).status).toBe(200);
  });

  it("documents new_password's length as the policy checks it, and the policy still names the rule", async () => {
    type Doc = { components: { schemas: Record<string, { properties: Record<string, { minLength?: number; maxLength?: number }> }> } };
    const doc = await json<Doc>(await call("/openapi.json"));
    const { current_password, new_password } = doc.components.schemas.ChangePasswordRequest!.properties;
    expect(new_password).toMatchObject({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
    // The current password is whatever it is: only absurd lengths are refused before hashing.
    expect(current_password!.minLength).toBe(1);
    // A password one character past each documented bound breaks the policy's rule.
    expect(passwordViolations("Tr0ub4dor&3xyz".slice(0, PASSWORD_MIN_LENGTH - 1), {}).map((v) => v.rule)).toContain("min_length");
    expect(passwordViolations("abcd".repeat(PASSWORD_MAX_LENGTH).slice(0, PASSWORD_MAX_LENGTH + 1), {}).map((v) => v.rule)).toContain("max_length");
  });

  it("applies the strength rules to the new password", async () => {
    const user = await signUp();
    const before = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first();
    const error = await expectError(await call("/api/users/me/password", { body: { current_password: user.password, new_password: "short" }, token: user.access }), 422);
    expect(error.details[0]).toMatchObject({ path: "new_password", rule: "min_length" });
    expect(await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first()).toEqual(before);
  });

  it("is refused to an API key", async () => {
    const user = await signUp();
    const key = await createKey(user);
    const before = await tableCounts();
    await expectError(await call("/api/users/me/password", { body: { current_password: user.password, new_password: "a-brand-new-passphrase" }, apiKey: key }), 403);
    expect(await tableCounts()).toEqual(before);
  });
});
