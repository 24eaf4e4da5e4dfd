import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { and, asc, eq, gt, sql, type SQL } from "drizzle-orm";
import { conflict, notFound, unprocessable } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { AdminUpdateUserRequest, ListUsersQuery, User, UserIdParam, UserList } from "../../shared/schemas/identity";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { accountOf, tracedAccountOf } from "../lib/accounts";
import { publish } from "../lib/events";
import { closeSockets } from "../lib/revocation";
import { revokeUserSessions } from "../lib/sessions";
import { userView } from "../lib/users";
import { mayRunStrategies, permissionsOf } from "../../shared/rbac";
import { stopUserStrategies } from "../lib/strategies";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { keysetPage } from "../lib/pages";

export const admin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;

const listUsers = createRoute({
  method: "get",
  path: "/api/admin/users",
  tags: ["admin"],
  summary: "List users (admins only)",
  security,
  middleware: [requirePermission("admin:all")] as const,
  request: { query: ListUsersQuery },
  responses: { 200: jsonContent(UserList, "A page of users ordered by id (of those q, role and status keep)"), ...errorResponses(401, 403, 422, 429) },
});

admin.openapi(listUsers, async (c) => {
  const { limit, page_token, after, role, status, q } = c.req.valid("query");
  // page_token, the name every other list takes (a client that sent it got page 1 again,
  // forever; QA), or after, this list's own.
  if (page_token && after && page_token !== after) throw unprocessable("give page_token or after, not both", [{ path: "page_token", message: "conflicts with after" }]);
  const from = page_token ?? after;
  const filters: SQL[] = [];
  if (from) filters.push(gt(schema.users.id, from));
  if (role) filters.push(eq(schema.users.role, role));
  if (status) filters.push(eq(schema.users.status, status));
  if (q) filters.push(containsText(q));
  const rows = await database(c.env)
    .select()
    .from(schema.users)
    .where(and(...filters))
    .orderBy(asc(schema.users.id))
    .limit(limit + 1)
    .all();
  const { page, next } = keysetPage(rows, limit, (u) => u.id);
  return c.json({ users: page.map(userView), next_page_token: next }, 200);
});

/**
 * Users whose email or username contains `text`, in any case (both are stored lower-cased,
 * shared/schemas/identity.ts; lower() also covers an ASCII row written otherwise). instr, not
 * LIKE: every character is itself (`q=_` finds the names with an underscore, not every name;
 * `%` and a backslash likewise), and D1 refuses a LIKE pattern over 50 bytes (a 500 for a long q).
 */
function containsText(text: string): SQL {
  const needle = text.toLowerCase();
  return sql`(instr(lower(${schema.users.email}), ${needle}) > 0 OR instr(lower(${schema.users.username}), ${needle}) > 0)`;
}

const updateUser = createRoute({
  method: "patch",
  path: "/api/admin/users/{user_id}",
  tags: ["admin"],
  summary: "Change a user's role or status; disabling ends their sessions and stops their keys at once (keys work again if re-enabled); the last active admin cannot be demoted or disabled",
  security,
  middleware: [requirePermission("admin:all")] as const,
  request: { params: UserIdParam, body: jsonBody(AdminUpdateUserRequest) },
  responses: { 200: jsonContent(User, "The updated user"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
});

admin.openapi(updateUser, async (c) => {
  const actor = principalOf(c);
  const { user_id } = c.req.valid("param");
  const body = c.req.valid("json");
  // An admin who demotes or disables themselves can lock everyone out of administration.
  if (user_id === actor.userId && ((body.role && body.role !== "admin") || body.status === "disabled"))
    throw conflict("admins cannot demote or disable themselves; ask another admin");
  const db = database(c.env);
  const before = await db.select().from(schema.users).where(eq(schema.users.id, user_id)).get();
  if (!before) throw notFound("user not found");
  // Demoting or disabling an admin needs another active admin, checked in the UPDATE itself:
  // two admins demoting each other at once must not leave none (the statements run one
  // after the other, so the second sees the first's change).
  const removesAdmin = (body.role !== undefined && body.role !== "admin") || body.status === "disabled";
  const anotherAdmin = sql`(${schema.users.role} != 'admin' OR (SELECT COUNT(*) FROM ${schema.users} AS other WHERE other.role = 'admin' AND other.status = 'active' AND other.id != ${user_id}) > 0)`;
  const updated = await db
    .update(schema.users)
    .set({ ...(body.role && { role: body.role }), ...(body.status && { status: body.status }), updatedAt: Date.now() })
    .where(removesAdmin ? and(eq(schema.users.id, user_id), anotherAdmin) : eq(schema.users.id, user_id))
    .returning({ id: schema.users.id })
    .get();
  if (!updated) throw conflict("this would leave no active admin: make another user an admin first");
  if (body.status === "disabled") await revokeUserSessions(c.env, user_id, "user_disabled");
  if (body.status === "disabled") await closeSockets(c.env, { userId: user_id, kind: "user" }, c.get("traceparent"));
  // A new role or status holds from the user's next request: their object reads them again.
  else await tracedAccountOf(c.env, user_id, c.get("traceparent")).identityChanged();
  // Sockets were checked when they authenticated: after a new role each is closed, and the
  // client's reconnect is checked under it (a guest kept a trader's market data otherwise).
  // Only when the new role loses a permission: a promotion leaves the sockets be.
  const lost = body.role !== undefined && [...permissionsOf(before.role)].some((p) => !permissionsOf(body.role!).has(p));
  if (body.status !== "disabled" && lost) await closeSockets(c.env, { userId: user_id, kind: "role" }, c.get("traceparent"));
  const after = (await db.select().from(schema.users).where(eq(schema.users.id, user_id)).get())!;
  const traceparent = c.get("traceparent");
  // A disabled user's account stops trading (its open orders are canceled) until enabled: the
  // account reads the status it follows from D1 (a PATCH of the same status repairs a drift).
  if (body.status) await accountOf(c.env, user_id).syncTradingBlock(traceparent);
  // Live strategies act for their owner without a request: a user who may no longer run
  // them (disabled, or a role without strategy:write or trading:write) has them stopped.
  if (after.status === "disabled" || !mayRunStrategies(after.role))
    await stopUserStrategies(c.env, user_id, after.status === "disabled" ? "the user was disabled" : `the owner's role is now ${after.role}, which may not run strategies`, traceparent);
  if (body.role && body.role !== before.role)
    await publish(c.env, "user.role_changed", `user:${user_id}`, { userId: user_id, from: before.role, to: body.role, by: actor.userId }, traceparent);
  if (body.status && body.status !== before.status)
    await publish(c.env, "user.status_changed", `user:${user_id}`, { userId: user_id, from: before.status, to: body.status, by: actor.userId }, traceparent);
  return c.json(userView(after), 200);
});
