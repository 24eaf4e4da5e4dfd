import { env } from "cloudflare:test";
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, exportJWK } from "jose";
import { describe, expect, it } from "vitest";
import { issueAccessToken, verifyAccessToken } from "../platform/access-token";
import { call, createKey, expectError, json, signUp } from "./helpers";

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  d: string;
  kid: string;
}
const serverKeys = () => JSON.parse(env.JWT_SIGNING_KEYS) as Jwk[];

/** Signs claims with the server's real key, to forge tokens that differ in one way only. */
async function signWithServerKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}, expiresIn = "15m") {
  const jwk = serverKeys()[0]!;
  const key = await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA");
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", kid: jwk.kid, typ: "at+jwt", ...header })
    .setIssuer("redfire")
    .setAudience("redfire-api")
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);
}

describe("access-token attacks are refused with 401", () => {
  it("alg: none", async () => {
    const user = await signUp();
    const payload = decodeJwt(user.access);
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid: serverKeys()[0]!.kid }));
    const body = base64url.encode(JSON.stringify(payload));
    await expectError(await call("/api/users/me", { token: `${header}.${body}.` }), 401);
    await expectError(await call("/api/users/me", { token: `${header}.${body}` }), 401);
  });

  it("a token signed by another key under the server's kid", async () => {
    const user = await signUp();
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await new SignJWT(decodeJwt(user.access))
      .setProtectedHeader({ alg: "EdDSA", kid: serverKeys()[0]!.kid, typ: "at+jwt" })
      .sign(privateKey);
    await expectError(await call("/api/users/me", { token: forged }), 401);
  });

  it("an HMAC token keyed with the public key (algorithm confusion)", async () => {
    const user = await signUp();
    const secret = new TextEncoder().encode(serverKeys()[0]!.x);
    const forged = await new SignJWT(decodeJwt(user.access)).setProtectedHeader({ alg: "HS256", kid: serverKeys()[0]!.kid, typ: "at+jwt" }).sign(secret);
    await expectError(await call("/api/users/me", { token: forged }), 401);
  });

  it("an expired token", async () => {
    const user = await signUp();
    const { sid } = decodeJwt(user.access);
    const expired = await signWithServerKey({ sub: user.id, sid }, {}, "-1m");
    await expectError(await call("/api/users/me", { token: expired }), 401);
    // The same forgery path with a live expiry is accepted, so the expiry is what failed.
    const live = await signWithServerKey({ sub: user.id, sid });
    expect((await call("/api/users/me", { token: live })).status).toBe(200);
  });

  it("a token accepted before, once it has expired: the isolate remembers its signature, not past its expiry", async () => {
    const user = await signUp();
    const { sid } = decodeJwt(user.access);
    const brief = await signWithServerKey({ sub: user.id, sid }, {}, "2s");
    const { exp } = decodeJwt(brief);
    expect((await call("/api/users/me", { token: brief })).status).toBe(200);
    expect((await call("/api/users/me", { token: brief })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp! * 1000 - Date.now()) + 50));
    await expectError(await call("/api/users/me", { token: brief }), 401);
  });

  it("a tampered payload", async () => {
    const victim = await signUp();
    const attacker = await signUp();
    const [h, , s] = attacker.access.split(".");
    const payload = { ...decodeJwt(attacker.access), sub: victim.id };
    const tampered = `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
    await expectError(await call("/api/users/me", { token: tampered }), 401);
  });

  it("a refresh token presented as an access token", async () => {
    const user = await signUp();
    await expectError(await call("/api/users/me", { token: user.refresh }), 401);
  });

  it("a token of another type (typ is not at+jwt)", async () => {
    const user = await signUp();
    const { sid } = decodeJwt(user.access);
    const idToken = await signWithServerKey({ sub: user.id, sid }, { typ: "JWT" });
    await expectError(await call("/api/users/me", { token: idToken }), 401);
  });

  it("an unknown kid", async () => {
    const user = await signUp();
    const { sid } = decodeJwt(user.access);
    const unknownKid = await signWithServerKey({ sub: user.id, sid }, { kid: "retired-long-ago" });
    await expectError(await call("/api/users/me", { token: unknownKid }), 401);
  });

  it("a session id that belongs to another user", async () => {
    const victim = await signUp();
    const attacker = await signUp();
    const { sid } = decodeJwt(attacker.access);
    const mixed = await signWithServerKey({ sub: victim.id, sid });
    await expectError(await call("/api/users/me", { token: mixed }), 401);
  });

  it("a revoked session", async () => {
    const user = await signUp();
    await call("/api/auth/logout", { body: { refresh_token: user.refresh } });
    expect((await expectError(await call("/api/users/me", { token: user.access }), 401)).message).toContain("session");
  });

  it("a disabled user, by token and by API key, at once", async () => {
    // Disabled the way the platform does it (the admin API, which tells the user's object);
    // the object now knows both credentials, so this is the immediacy users rely on.
    const admin = await signUp("admin");
    const user = await signUp();
    const key = await createKey(user);
    expect((await call("/api/users/me", { apiKey: key })).status).toBe(200);
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access })).status).toBe(200);
    await expectError(await call("/api/users/me", { token: user.access }), 401);
    await expectError(await call("/api/users/me", { apiKey: key }), 401);
  });

  it("a malformed authorization header", async () => {
    await expectError(await call("/api/users/me", { headers: { authorization: "Basic Zm9vOmJhcg==" } }), 401);
    await expectError(await call("/api/users/me", { headers: { authorization: "Bearer" } }), 401);
    await expectError(await call("/api/users/me", { token: "a.b.c" }), 401);
  });
});

describe("signing keys", () => {
  it("access tokens carry the kid published in the JWKS", async () => {
    const user = await signUp();
    const jwks = await json<{ keys: { kid: string; kty: string; crv: string; x: string; d?: string }[] }>(await call("/.well-known/jwks.json"));
    const { kid, alg, typ } = decodeProtectedHeader(user.access);
    expect(alg).toBe("EdDSA");
    expect(typ).toBe("at+jwt");
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it("rotate without logging anyone out: add a key, sign with it, retire the old one", async () => {
    const claims = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const fresh = { ...(await exportJWK(privateKey)), kid: "k2" } as Jwk;
    const old = serverKeys()[0]!;
    const before = JSON.stringify([old]);
    const during = JSON.stringify([fresh, old]);
    const after = JSON.stringify([fresh]);

    const oldToken = await issueAccessToken(before, claims, 900);
    // Step 1+2: the new key signs, the old one still verifies tokens already out there.
    expect(await verifyAccessToken(during, oldToken)).toEqual(claims);
    const newToken = await issueAccessToken(during, claims, 900);
    expect(decodeProtectedHeader(newToken).kid).toBe("k2");
    // Step 3: once old tokens have expired, the old key is dropped.
    expect(await verifyAccessToken(after, newToken)).toEqual(claims);
    expect(await verifyAccessToken(after, oldToken)).toBeUndefined();
  });
});
