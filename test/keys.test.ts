import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createKey, expectError, json, signUp } from "./helpers";

interface Key {
  key_id: string;
  secret?: string;
  name: string;
  scopes: string[];
  last_used_at: string | null;
}

describe("API keys", () => {
  it("creates a key whose secret is shown once and stored only hashed", async () => {
    const user = await signUp();
    const res = await call("/api/keys", { body: { name: "bot", scopes: ["read", "trade"] }, token: user.access });
    expect(res.status).toBe(201);
    const key = await json<Key>(res);
    expect(key.key_id).toMatch(/^RK[A-Z0-9]{18}$/);
    expect(key.secret).toMatch(/^[A-Za-z0-9]{40}$/);
    const listed = await json<Key[]>(await call("/api/keys", { token: user.access }));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key_id: key.key_id, name: "bot", scopes: ["read", "trade"] });
    expect(listed[0]).not.toHaveProperty("secret");
    const row = await env.DB.prepare("SELECT secret_hash FROM api_keys WHERE key_id = ?").bind(key.key_id).first<{ secret_hash: string }>();
    expect(row?.secret_hash).not.toContain(key.secret);
    expect(row?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("at most 20 active keys, also when creates arrive in parallel (found in QA: 27)", async () => {
    const user = await signUp();
    const make = (name: string) => call("/api/keys", { body: { name, scopes: ["read"] }, token: user.access, ip: user.ip });
    for (let i = 0; i < 17; i++) expect((await make(`k${i}`)).status).toBe(201);
    const parallel = await Promise.all(Array.from({ length: 8 }, (_, i) => make(`p${i}`)));
    expect(parallel.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    for (const res of parallel.filter((r) => r.status === 409)) expect((await expectError(res, 409)).message).toContain("at most 20 active API keys");
    expect(await json<Key[]>(await call("/api/keys", { token: user.access, ip: user.ip }))).toHaveLength(20);
  });

  it("authenticates with Alpaca's headers and with a bearer key_id:secret", async () => {
    const user = await signUp();
    const key = await createKey(user);
    const viaHeaders = await call("/api/users/me", { apiKey: key });
    expect((await json(viaHeaders)).id).toBe(user.id);
    const viaBearer = await call("/api/users/me", { token: `${key.key_id}:${key.secret}` });
    expect((await json(viaBearer)).id).toBe(user.id);
  });

  it("refuses a wrong secret, a missing half and an unknown id with Alpaca's 401", async () => {
    const user = await signUp();
    const key = await createKey(user);
    // The last character changed (to "x", or to "y" when it already was "x": one key in ~60 ends in "x").
    const altered = `${key.secret.slice(0, -1)}${key.secret.endsWith("x") ? "y" : "x"}`;
    const wrong = await expectError(await call("/api/users/me", { apiKey: { key_id: key.key_id, secret: altered } }), 401);
    expect(wrong.code).toBe(40110000);
    await expectError(await call("/api/users/me", { headers: { "apca-api-key-id": key.key_id } }), 401);
    await expectError(await call("/api/users/me", { apiKey: { key_id: "RKAAAAAAAAAAAAAAAAAA", secret: key.secret } }), 401);
  });

  it("revocation takes effect at once and the key disappears from the list", async () => {
    const user = await signUp();
    const key = await createKey(user);
    expect((await call(`/api/keys/${key.key_id}`, { method: "DELETE", token: user.access })).status).toBe(204);
    await expectError(await call("/api/users/me", { apiKey: key }), 401);
    expect(await json<Key[]>(await call("/api/keys", { token: user.access }))).toEqual([]);
    await expectError(await call(`/api/keys/${key.key_id}`, { method: "DELETE", token: user.access }), 404);
  });

  it("DELETE /api/keys revokes every key of the caller at once and answers how many", async () => {
    const [user, other] = await Promise.all([signUp(), signUp()]);
    const [a, b, theirs] = await Promise.all([createKey(user), createKey(user), createKey(other)]);
    expect(await json(await call("/api/keys", { method: "DELETE", token: user.access }))).toEqual({ revoked: 2 });
    for (const key of [a, b]) await expectError(await call("/api/users/me", { apiKey: key }), 401);
    expect(await json<Key[]>(await call("/api/keys", { token: user.access }))).toEqual([]);
    expect((await call("/api/users/me", { apiKey: theirs })).status).toBe(200);
    expect(await json(await call("/api/keys", { method: "DELETE", token: user.access }))).toEqual({ revoked: 0 });
    await expectError(await call("/api/keys", { method: "DELETE", apiKey: theirs }), 403);
    const spec = await json<{ paths: Record<string, Record<string, unknown>> }>(await call("/openapi.json"));
    expect(spec.paths["/api/keys"]).toHaveProperty("delete");
  });

  it("another user's key cannot be revoked and answers like a missing one", async () => {
    const [owner, other] = await Promise.all([signUp(), signUp()]);
    const key = await createKey(owner);
    const error = await expectError(await call(`/api/keys/${key.key_id}`, { method: "DELETE", token: other.access }), 404);
    expect(error.message).toBe("API key not found");
    expect((await call("/api/users/me", { apiKey: key })).status).toBe(200);
  });

  it("a read-only key cannot write", async () => {
    const user = await signUp();
    const key = await createKey(user, ["read"]);
    expect((await call("/api/users/me", { apiKey: key })).status).toBe(200);
    await expectError(await call("/api/users/me", { method: "PATCH", body: { display_name: "x" }, apiKey: key }), 403);
  });

  it("a missing permission is answered in Alpaca's words, the permission named in the details (ccxt maps the text to PermissionDenied)", async () => {
    const [user, guest] = await Promise.all([signUp(), signUp("guest")]);
    const key = await createKey(user, ["read"]);
    const order = { symbol: "AAPL", qty: "1", side: "buy", type: "market", time_in_force: "day" };
    const cases: [Response, string][] = [
      // The order's own call into the user's object refuses it (one hop)…
      [await call("/v2/orders", { body: order, apiKey: key }), "trading:write"],
      [await call("/v2/account", { token: guest.access, ip: guest.ip }), "trading:read"],
      // …and a route the gateway guards.
      [await call("/api/users/me", { method: "PATCH", body: { display_name: "x" }, apiKey: key }), "user:write"],
    ];
    for (const [res, permission] of cases) {
      const body = await expectError(res, 403);
      expect(body.message, permission).toBe("forbidden.");
      expect(body.details, permission).toEqual([{ path: "permission", message: `requires permission ${permission}` }]);
    }
  });

  it("keys cannot manage keys", async () => {
    const user = await signUp();
    const key = await createKey(user);
    await expectError(await call("/api/keys", { body: { name: "child", scopes: ["read"] }, apiKey: key }), 403);
    await expectError(await call("/api/keys", { apiKey: key }), 403);
    await expectError(await call(`/api/keys/${key.key_id}`, { method: "DELETE", apiKey: key }), 403);
  });

  it("validates name and scopes", async () => {
    const user = await signUp();
    const paths = async (body: unknown) => (await expectError(await call("/api/keys", { body, token: user.access }), 422)).details.map((d) => d.path);
    expect(await paths({ name: "", scopes: ["read"] })).toContain("name");
    expect(await paths({ name: "x", scopes: [] })).toContain("scopes");
    expect(await paths({ name: "x", scopes: ["admin"] })).toContain("scopes.0");
    expect(await paths({ name: "x", scopes: ["read", "read"] })).toContain("scopes");
    // Only an admin's key can read /metrics: a trader's metrics key would hold nothing.
    expect(await paths({ name: "x", scopes: ["metrics"] })).toEqual(["scopes"]);
    // A name people read carries no control characters or text-direction marks (a right-to-left override reverses what follows).
    for (const name of ["bot\u0000", "\u202ecod.exe", "a\u2066b", "tab\there", "zero\u200bwidth", "line\u2028break", "b\ufeffom"]) expect(await paths({ name, scopes: ["read"] }), JSON.stringify(name)).toEqual(["name"]);
    expect(await json<Key[]>(await call("/api/keys", { token: user.access }))).toEqual([]);
  });

  it("records when a key was last used", async () => {
    const user = await signUp();
    const key = await createKey(user);
    await call("/api/users/me", { apiKey: key });
    let listed: Key[] = [];
    for (let i = 0; i < 20 && !listed[0]?.last_used_at; i++) {
      listed = await json<Key[]>(await call("/api/keys", { token: user.access }));
      if (!listed[0]?.last_used_at) await new Promise((r) => setTimeout(r, 50));
    }
    expect(listed[0]?.last_used_at).not.toBeNull();
  });

  it("lets a user demoted to guest end their keys, a session and change the password, and nothing more (QA: 403 for all of them)", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    const key = await createKey(user);
    const spare = await createKey(user);
    const other = await json<{ access_token: string }>(await call("/api/auth/login", { body: { email: user.email, password: user.password }, ip: user.ip }));
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { role: "guest" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    const as = (method: string, path: string, body?: unknown) => call(path, { method, ...(body !== undefined && { body }), token: user.access, ip: user.ip });
    expect((await as("DELETE", `/api/keys/${key.key_id}`)).status).toBe(204);
    expect(await json(await as("DELETE", "/api/keys"))).toEqual({ revoked: 1 });
    expect((await call("/v2/account", { apiKey: spare })).status).toBe(401);
    const sid = String(JSON.parse(atob(other.access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).sid);
    expect((await as("DELETE", `/api/sessions/${sid}`)).status).toBe(204);
    expect((await call("/api/users/me", { token: other.access_token, ip: user.ip })).status).toBe(401);
    expect((await as("POST", "/api/users/me/password", { current_password: user.password, new_password: "a-guest-can-change-it-7" })).status).toBe(200);
    // What gives access stays refused.
    await expectError(await as("POST", "/api/keys", { name: "again", scopes: ["read"] }), 403);
    await expectError(await as("PATCH", "/api/users/me", { display_name: "guest" }), 403);
  });

  it("refuses a request carrying both an API key and an Authorization header, whoever's they are (QA: the key's owner acted, silently)", async () => {
    const user = await signUp();
    const other = await signUp();
    const key = await createKey(other);
    for (const path of ["/api/users/me", "/v2/account", "/v2/orders"]) {
      for (const token of [user.access, `${key.key_id}:${key.secret}`]) {
        const refused = await expectError(await call(path, { token, apiKey: key, ip: user.ip }), 401);
        expect(refused.message, path).toBe("send one credential: the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers or an Authorization header, not both");
      }
    }
  });
});
