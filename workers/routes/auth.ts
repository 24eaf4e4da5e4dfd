import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { conflict, unauthorized } from "../../shared/errors";
import { passwordViolations, weakPasswordError } from "../../shared/password-policy";
import { errorResponses, jsonBody, jsonContent } from "../../shared/schemas/common";
import { LoginRequest, RefreshRequest, RegisterRequest, RegisterResponse, TokenResponse } from "../../shared/schemas/identity";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { publish } from "../lib/events";
import { closeSessionSockets } from "../lib/revocation";
import { admitLoginAttempt, clearLoginFailures, recordLoginFailure } from "../lib/login-throttle";
import { decoyHash, hashPassword, needsRehash, verifyPassword } from "../lib/passwords";
import { openSession, revokeByRefreshToken, rotateSession } from "../lib/sessions";
import { uniqueViolation, userView } from "../lib/users";
import { validationHook } from "../middleware/errors";

export const auth = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const register = createRoute({
  method: "post",
  path: "/api/auth/register",
  tags: ["auth"],
  summary: "Create an account (role trader) and sign in",
  request: { body: jsonBody(RegisterRequest) },
  responses: {
    201: jsonContent(RegisterResponse, "Signed up and signed in"),
    ...errorResponses(400, 409, 413, 415, 422, 429),
  },
});

auth.openapi(register, async (c) => {
  const body = c.req.valid("json");
  const weak = weakPasswordError(passwordViolations(body.password, body), "password");
  if (weak) throw weak;
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
  return c.json({ ...tokens, user: userView(row) }, 201);
});

const duplicate = (field: "email" | "username") =>
  conflict(`${field} is already registered`, [{ path: field, message: `this ${field} is already registered` }]);

const login = createRoute({
  method: "post",
  path: "/api/auth/login",
  tags: ["auth"],
  summary: "Sign in with email and password",
  request: { body: jsonBody(LoginRequest) },
  responses: { 200: jsonContent(TokenResponse, "Signed in"), ...errorResponses(400, 401, 413, 415, 422, 429) },
});

auth.openapi(login, async (c) => {
  const { email, password } = c.req.valid("json");
  const ip = c.get("clientIp");
  await admitLoginAttempt(c.env, email, ip);
  const db = database(c.env);
  const user = await db.select().from(schema.users).where(eq(schema.users.email, email)).get();
  // Unknown email, wrong password and disabled user get the same answer after the same
  // work, so the response does not tell which emails are registered.
  const valid = await verifyPassword(password, c.env.PASSWORD_PEPPER, user?.passwordHash ?? (await decoyHash(c.env.PASSWORD_PEPPER)));
  if (!user || !valid || user.status !== "active") {
    await recordLoginFailure(c.env, ip);
    throw unauthorized("email or password is incorrect");
  }
  await clearLoginFailures(c.env, email);
  if (needsRehash(user.passwordHash)) {
    const passwordHash = await hashPassword(password, c.env.PASSWORD_PEPPER);
    await db.update(schema.users).set({ passwordHash }).where(eq(schema.users.id, user.id)).run();
  }
  return c.json(await openSession(c.env, user.id, c.req.header("user-agent")), 200);
});

const refresh = createRoute({
  method: "post",
  path: "/api/auth/refresh",
  tags: ["auth"],
  summary: "Exchange a refresh token for a new token pair (the old refresh token stops working)",
  request: { body: jsonBody(RefreshRequest) },
  responses: { 200: jsonContent(TokenResponse, "New token pair"), ...errorResponses(400, 401, 413, 415, 422, 429) },
});

auth.openapi(refresh, async (c) => c.json(await rotateSession(c.env, c.req.valid("json").refresh_token), 200));

const logout = createRoute({
  method: "post",
  path: "/api/auth/logout",
  tags: ["auth"],
  summary: "End the session the refresh token belongs to; its access tokens stop working at once",
  request: { body: jsonBody(RefreshRequest) },
  responses: { 204: { description: "Signed out" }, ...errorResponses(400, 413, 415, 422, 429) },
});

auth.openapi(logout, async (c) => {
  await revokeByRefreshToken(c.env, c.req.valid("json").refresh_token);
  await closeSessionSockets(c.env, c.req.valid("json").refresh_token);
  return c.body(null, 204);
});
