import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ApiError, conflict, forbidden, unauthorized, unprocessable } from "../../shared/errors";
import { ACCOUNT_DISABLED } from "../../shared/identity/gate";
import { passwordViolations, weakPasswordError } from "../../shared/password-policy";
import { errorResponses, jsonBody, jsonContent } from "../../shared/schemas/common";
import { LoginRequest, RefreshRequest, RegisterRequest, RegisterResponse, TokenResponse } from "../../shared/schemas/identity";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { signingKeys } from "../../platform/signing-keys";
import { publish } from "../lib/events";
import { closeSessionSockets } from "../lib/revocation";
import { admitLoginAttempt, clearLoginFailures, recordLoginFailure } from "../lib/login-throttle";
import { decoyHash, hashPassword, needsRehash, verifyPassword } from "../lib/passwords";
import { gatewayConfig } from "../lib/config";
import { openSession, revokeByRefreshToken, rotateSession, type TokenPair } from "../lib/sessions";
import { uniqueViolation, userView } from "../lib/users";
import { fieldErrors, invalidBody, validationHook } from "../middleware/errors";

export const auth = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

// The browser app's session (README, identity): with the X-RedFire-Session: cookie header,
// login, register and refresh put the refresh token into an HttpOnly cookie scoped to
// /api/auth instead of the body, so no script on the page can read it, and refresh and
// logout take it from there. API clients send no header and keep the token in the body.
// The cookie goes along on its own, so the routes that read it refuse cross-site requests:
// SameSite=Strict keeps it off them, the header cannot be sent by a cross-site form and
// makes a cross-origin fetch preflight (which the gateway's CORS refuses), and an Origin
// present must be this origin or an allowed one.
const SESSION_HEADER = "X-RedFire-Session";
const REFRESH_COOKIE = "redfire_refresh"; // sent as __Secure-redfire_refresh
const COOKIE_PATH = "/api/auth";
const MAX_COOKIE_AGE = 400 * 24 * 3600; // the most a browser keeps a cookie

/** Whether the client asked for the cookie flow; refuses one that asks cross-site. */
function usesSessionCookie(c: Context<AppEnv>): boolean {
  if (c.req.header(SESSION_HEADER) !== "cookie") return false;
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin && !gatewayConfig(c.env).corsOrigins.includes(origin)) {
    throw forbidden("cross-site request refused: the session cookie is only used by this origin");
  }
  return true;
}

/** The tokens as the client asked for them: all in the body, or the refresh token as the cookie. */
function answerTokens<T extends TokenPair>(c: Context<AppEnv>, tokens: T, cookie: boolean): T | Omit<T, "refresh_token"> {
  if (!cookie) return tokens;
  const { refresh_token, ...rest } = tokens;
  const maxAge = Math.min(gatewayConfig(c.env).refreshTokenTtlSeconds, MAX_COOKIE_AGE);
  setCookie(c, REFRESH_COOKIE, refresh_token, { prefix: "secure", path: COOKIE_PATH, httpOnly: true, secure: true, sameSite: "Strict", maxAge });
  c.header("Cache-Control", "no-store");
  return rest;
}

const cookieToken = (c: Context<AppEnv>) => getCookie(c, REFRESH_COOKIE, "secure") || undefined;
const forgetCookie = (c: Context<AppEnv>) => deleteCookie(c, REFRESH_COOKIE, { prefix: "secure", path: COOKIE_PATH, httpOnly: true, secure: true, sameSite: "Strict" });

/** The body flow's refresh token; the body schema leaves it optional only for the cookie flow. */
function bodyToken(token: string | undefined): string {
  if (token === undefined) throw unprocessable("request body is invalid", [{ path: "refresh_token", message: "is required (or use the session cookie)" }]);
  return token;
}

// The body of refresh and logout: the refresh token, absent in the cookie flow.
const RefreshBody = RefreshRequest.partial().openapi("RefreshOrCookieRequest");
const CookieTokenResponse = TokenResponse.omit({ refresh_token: true }).openapi("CookieTokenResponse");
const SessionTokens = z.union([TokenResponse, CookieTokenResponse]);
const CookieRegisterResponse = RegisterResponse.omit({ refresh_token: true }).openapi("CookieRegisterResponse");
const COOKIE_FLOW =
  "With the header X-RedFire-Session: cookie (the browser app), the refresh token is set as an HttpOnly, Secure, SameSite=Strict cookie with Path=/api/auth instead of being returned, and refresh and logout read it from there.";

const register = createRoute({
  method: "post",
  path: "/api/auth/register",
  tags: ["auth"],
  summary: "Create an account (role trader) and sign in",
  description: COOKIE_FLOW,
  request: { body: jsonBody(RegisterRequest) },
  responses: {
    201: jsonContent(z.union([RegisterResponse, CookieRegisterResponse]), "Signed up and signed in"),
    ...errorResponses(400, 403, 409, 413, 415, 422, 429),
  },
});

/**
 * A sign-up that the schema refuses also names what the password policy finds in the
 * password (it runs only on a valid body otherwise), so the form shows every problem at
 * once rather than the password's only after the email and username pass (found in QA).
 */
function registerHook(result: { success: boolean; error?: ZodError; target?: string; data?: unknown }): void {
  if (!result.success && result.error && result.target === "json" && typeof result.data === "object" && result.data !== null) {
    const raw = result.data as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const password = text(raw.password);
    const schemaNamesPassword = result.error.issues.some((issue) => issue.path[0] === "password");
    if (password && !schemaNamesPassword) {
      const policy = passwordViolations(password, { email: text(raw.email), username: text(raw.username) });
      if (policy.length > 0) throw invalidBody([...fieldErrors(result.error), ...policy.map((v) => ({ path: "password", message: v.message, rule: v.rule }))]);
    }
  }
  validationHook(result);
}

auth.openapi(register, async (c) => {
  const cookie = usesSessionCookie(c);
  const body = c.req.valid("json");
  const weak = weakPasswordError(passwordViolations(body.password, body), "password");
  if (weak) throw weak;
  // A sign-up answers tokens: without a key to sign them, it stores no user either (a 503).
  await signingKeys(c.env.JWT_SIGNING_KEYS);
  const db = database(c.env);
  const taken = await db
    .select({ email: schema.users.email, username: schema.users.username })
    .from(schema.users)
    .where(eq(schema.users.email, body.email))
    .union(db.select({ email: schema.users.email, username: schema.users.username }).from(schema.users).where(eq(schema.users.username, body.username)));
  if (taken.length > 0) throw duplicate(taken.some((t) => t.email === body.email) ? "email" : "username");

  const now = Date.now();
  const row = {
    id: crypto.randomUUID(),
    email: body.email,
    username: body.username,
    displayName: body.display_name ?? null,
    passwordHash: await hashPassword(body.password, c.env.PASSWORD_PEPPER),
    role: "trader" as const,
    status: "active" as const,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await db.insert(schema.users).values(row);
  } catch (error) {
    // Two sign-ups racing for one email or username: the UNIQUE index decides.
    const field = uniqueViolation(error);
    if (field) throw duplicate(field);
    throw error;
  }
  const tokens = await openSession(c.env, row.id, c.req.header("user-agent"));
  await publish(c.env, "user.registered", `user:${row.id}`, { userId: row.id, username: row.username, role: row.role }, c.get("traceparent"));
  return c.json(answerTokens(c, { ...tokens, user: userView(row) }, cookie), 201);
}, (result) => {
  registerHook(result);
  return undefined;
});

const duplicate = (field: "email" | "username") =>
  conflict(`${field} is already registered`, [{ path: field, message: `this ${field} is already registered` }]);

const login = createRoute({
  method: "post",
  path: "/api/auth/login",
  tags: ["auth"],
  summary: "Sign in with email and password",
  description: COOKIE_FLOW,
  request: { body: jsonBody(LoginRequest) },
  responses: { 200: jsonContent(SessionTokens, "Signed in"), ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
});

auth.openapi(login, async (c) => {
  const cookie = usesSessionCookie(c);
  const { email, password } = c.req.valid("json");
  const ip = c.get("clientIp");
  await admitLoginAttempt(c.env, email, ip);
  const db = database(c.env);
  const user = await db.select().from(schema.users).where(eq(schema.users.email, email)).get();
  // Unknown email and wrong password get the same answer after the same work, so the
  // response does not tell which emails are registered. A disabled user who gives the right
  // password is told so (found in QA: "incorrect" sent them to reset a password that was
  // right); it still counts as a failure, so the answer cannot be used to test passwords
  // faster than the login limits allow.
  const valid = await verifyPassword(password, c.env.PASSWORD_PEPPER, user?.passwordHash ?? (await decoyHash(c.env.PASSWORD_PEPPER)));
  if (!user || !valid || user.status !== "active") {
    await recordLoginFailure(c.env, ip);
    if (user && valid) throw forbidden(ACCOUNT_DISABLED);
    throw unauthorized("email or password is incorrect");
  }
  await clearLoginFailures(c.env, email);
  if (needsRehash(user.passwordHash)) {
    const passwordHash = await hashPassword(password, c.env.PASSWORD_PEPPER);
    await db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, user.id)).run();
  }
  return c.json(answerTokens(c, await openSession(c.env, user.id, c.req.header("user-agent")), cookie), 200);
});

const refresh = createRoute({
  method: "post",
  path: "/api/auth/refresh",
  tags: ["auth"],
  summary: "Exchange a refresh token for a new token pair (the old refresh token stops working)",
  description: `A rotated token presented again within REFRESH_REUSE_GRACE_SECONDS (a duplicate: two tabs, a retry) gets the same new refresh token; later, it revokes the session. ${COOKIE_FLOW}`,
  request: { body: { ...jsonBody(RefreshBody), required: false } },
  responses: { 200: jsonContent(SessionTokens, "New token pair"), ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
});

auth.openapi(refresh, async (c) => {
  if (!usesSessionCookie(c)) return c.json(await rotateSession(c.env, bodyToken(c.req.valid("json").refresh_token)), 200);
  const token = cookieToken(c);
  if (!token) throw unauthorized("no session cookie; sign in again");
  try {
    return c.json(answerTokens(c, await rotateSession(c.env, token), true), 200);
  } catch (error) {
    // A cookie the server refused is dead: the browser need not send it again.
    if (error instanceof ApiError && error.status === 401) forgetCookie(c);
    throw error;
  }
});

const logout = createRoute({
  method: "post",
  path: "/api/auth/logout",
  tags: ["auth"],
  summary: "End the session the refresh token belongs to; its access tokens stop working at once",
  description: COOKIE_FLOW,
  request: { body: { ...jsonBody(RefreshBody), required: false } },
  responses: { 204: { description: "Signed out" }, ...errorResponses(400, 403, 413, 415, 422, 429) },
});

auth.openapi(logout, async (c) => {
  const cookie = usesSessionCookie(c);
  const token = cookie ? cookieToken(c) : bodyToken(c.req.valid("json").refresh_token);
  if (token) await revokeByRefreshToken(c.env, token);
  if (token) await closeSessionSockets(c.env, token, c.get("traceparent"));
  if (cookie) forgetCookie(c);
  return c.body(null, 204);
});
