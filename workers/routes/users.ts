import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { admitLoginAttempt, clearLoginFailures, recordLoginFailure } from "../lib/login-throttle";
import { eq } from "drizzle-orm";
import { conflict, notFound, unprocessable } from "../../shared/errors";
import { passwordViolations, weakPasswordError } from "../../shared/password-policy";
import { errorResponses, jsonBody, jsonContent, SESSION_ONLY, SESSION_OR_KEY } from "../../shared/schemas/common";
import { ChangePasswordRequest, UpdateProfileRequest, User } from "../../shared/schemas/identity";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { publish } from "../lib/events";
import { hashPassword, verifyPassword } from "../lib/passwords";
import { closeSockets } from "../lib/revocation";
import { revokeUserSessions } from "../lib/sessions";
import { uniqueViolation, userView } from "../lib/users";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { gateOf, passed } from "../middleware/admission";
import { accountOf, tracedAccountOf } from "../lib/accounts";
import type { Gated, UserRecord } from "../../shared/identity/gate";

export const users = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;

async function currentUser(env: Env, userId: string) {
  const row = await database(env).select().from(schema.users).where(eq(schema.users.id, userId)).get();
  if (!row) throw notFound("user not found");
  return row;
}

const me = createRoute({
  method: "get",
  path: "/api/users/me",
  tags: ["users"],
  summary: "The signed-in user",
  security,
  middleware: [requirePermission("user:read")] as const,
  responses: { 200: jsonContent(User, "The user"), ...errorResponses(401, 403, 429) },
});

// One call into the caller's object: the gate, and the user as the object last read it from D1.
users.openapi(me, async (c) => {
  const gate = gateOf(c);
  const answer = await accountOf(c.env, gate.userId).me(gate.request);
  return c.json(userView(passed(c, answer as Gated<UserRecord>)), 200);
});

const updateProfile = createRoute({
  method: "patch",
  path: "/api/users/me",
  tags: ["users"],
  summary: "Change username or display name",
  security,
  middleware: [requirePermission("user:write")] as const,
  request: { body: jsonBody(UpdateProfileRequest) },
  responses: { 200: jsonContent(User, "The updated user"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
});

users.openapi(updateProfile, async (c) => {
  const { userId } = principalOf(c);
  const body = c.req.valid("json");
  const changes = {
    ...(body.username !== undefined && { username: body.username }),
    ...(body.display_name !== undefined && { displayName: body.display_name }),
    updatedAt: Date.now(),
  };
  try {
    await database(c.env).update(schema.users).set(changes).where(eq(schema.users.id, userId)).run();
  } catch (error) {
    if (uniqueViolation(error) === "username")
      throw conflict("username is already registered", [{ path: "username", message: "this username is already registered" }]);
    throw error;
  }
  await tracedAccountOf(c.env, userId, c.get("traceparent")).identityChanged();
  const row = await currentUser(c.env, userId);
  await publish(c.env, "user.updated", `user:${userId}`, { userId, username: row.username, displayName: row.displayName }, c.get("traceparent"));
  return c.json(userView(row), 200);
});

// API keys are independent of the password, as on Alpaca: a bot's key keeps working after
// its owner changes the password. The answer says so, and DELETE /api/keys ends them all.
const PasswordChanged = z
  .object({
    api_keys_kept: z.literal(true),
    message: z.string(),
  })
  .openapi("PasswordChanged");

const changePassword = createRoute({
  method: "post",
  path: "/api/users/me/password",
  tags: ["users"],
  summary: "Change the password; every other session of the user ends (and its sockets close); API keys keep working",
  security: SESSION_ONLY,
  // Every signed-in role may change its own password, guests included: it protects the
  // account rather than changing what it may do (found in QA: a guest could not).
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  request: { body: jsonBody(ChangePasswordRequest) },
  responses: { 200: jsonContent(PasswordChanged, "Password changed"), ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
});

users.openapi(changePassword, async (c) => {
  const principal = principalOf(c);
  const body = c.req.valid("json");
  const row = await currentUser(c.env, principal.userId);
  // A guess at the current password is a sign-in attempt: counted in the same per-account
  // and per-client windows, or a stolen access token could find the password at the
  // request rate (found in QA: 40 wrong guesses, then the right one, never a 429).
  const ip = c.get("clientIp");
  await admitLoginAttempt(c.env, row.email, ip);
  if (!(await verifyPassword(body.current_password, c.env.PASSWORD_PEPPER, row.passwordHash))) {
    await recordLoginFailure(c.env, ip);
    throw unprocessable("current password is incorrect", [{ path: "current_password", message: "is incorrect" }]);
  }
  await clearLoginFailures(c.env, row.email);
  // A change to the same password would end the other sessions and change nothing else.
  if (body.new_password === body.current_password) throw unprocessable("the new password is the current one", [{ path: "new_password", message: "must differ from the current password" }]);
  const weak = weakPasswordError(passwordViolations(body.new_password, row), "new_password");
  if (weak) throw weak;
  const passwordHash = await hashPassword(body.new_password, c.env.PASSWORD_PEPPER);
  await database(c.env).update(schema.users).set({ passwordHash, updatedAt: Date.now() }).where(eq(schema.users.id, row.id)).run();
  const keep = principal.via.kind === "session" ? principal.via.sessionId : undefined;
  await revokeUserSessions(c.env, row.id, "password_changed", keep);
  await closeSockets(c.env, { userId: row.id, kind: "sessions", ...(keep && { except: keep }) }, c.get("traceparent"));
  await publish(c.env, "user.password_changed", `user:${row.id}`, { userId: row.id }, c.get("traceparent"));
  return c.json(
    {
      api_keys_kept: true as const,
      message: "Password changed; your other sessions have ended. API keys are independent of the password and keep working: revoke them with DELETE /api/keys if they may be exposed.",
    },
    200,
  );
});
