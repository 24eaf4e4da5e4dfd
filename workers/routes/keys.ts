import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { conflict, notFound, unprocessable } from "../../shared/errors";
import { can, permissionsOf } from "../../shared/rbac";
import { errorResponses, jsonBody, jsonContent, SESSION_ONLY } from "../../shared/schemas/common";
import { ApiKey, CreateApiKeyRequest, CreatedApiKey, KeyIdParam } from "../../shared/schemas/identity";
import { z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { database, schema } from "../../platform/db";
import { publish } from "../lib/events";
import { closeSockets } from "../lib/revocation";
import { keyedHash, randomString } from "../../platform/random";
import { parseScopes } from "../../shared/identity/gate";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

export const keys = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const MAX_KEYS_PER_USER = 20;
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
// Managing credentials needs a signed-in session: a leaked key must not mint more keys.
const security = SESSION_ONLY;

const create = createRoute({
  method: "post",
  path: "/api/keys",
  tags: ["api keys"],
  summary: "Create an API key; the secret is in this response only",
  security,
  middleware: [requirePermission("user:write", { sessionOnly: true })] as const,
  request: { body: jsonBody(CreateApiKeyRequest) },
  responses: { 201: jsonContent(CreatedApiKey, "The new key and its secret"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
});

keys.openapi(create, async (c) => {
  const { userId, role } = principalOf(c);
  const body = c.req.valid("json");
  // A key never holds more than its owner's role: the metrics scope gives anyone but an
  // admin nothing, and such a key would only take one of the user's slots.
  if (body.scopes.includes("metrics") && !can(permissionsOf(role, ["metrics"]), "metrics:read"))
    throw unprocessable("the metrics scope is for an admin's key: only admins may read /metrics", [{ path: "scopes", message: "metrics: only an admin's key can read /metrics" }]);
  const db = database(c.env);
  const keyId = `RK${randomString(18)}`;
  const secret = randomString(40, BASE62);
  const createdAt = Date.now();
  const secretHash = await keyedHash(c.env.PASSWORD_PEPPER, secret);
  // Counted in the INSERT itself (every column in the table's order), as webhooks are: a
  // count then an insert let parallel creates pass the limit (found in QA: 27 active keys).
  const inserted = await db
    .insert(schema.apiKeys)
    .select(
      sql`SELECT ${keyId}, ${userId}, ${body.name}, ${secretHash}, ${JSON.stringify(body.scopes)}, ${createdAt}, NULL, NULL
        WHERE (SELECT count(*) FROM api_keys WHERE user_id = ${userId} AND revoked_at IS NULL) < ${MAX_KEYS_PER_USER}`,
    )
    .run();
  if (inserted.meta.changes !== 1) throw conflict(`at most ${MAX_KEYS_PER_USER} active API keys; revoke one first`);
  await publish(c.env, "user.api_key_created", `user:${userId}`, { userId, keyId, scopes: body.scopes }, c.get("traceparent"));
  return c.json({ key_id: keyId, secret, name: body.name, scopes: body.scopes, created_at: iso(createdAt)!, last_used_at: null }, 201);
});

const list = createRoute({
  method: "get",
  path: "/api/keys",
  tags: ["api keys"],
  summary: "The caller's active API keys (never their secrets)",
  security,
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  responses: { 200: jsonContent(z.array(ApiKey), "Active keys, newest first"), ...errorResponses(401, 403, 429) },
});

keys.openapi(list, async (c) => {
  const rows = await database(c.env)
    .select()
    .from(schema.apiKeys)
    .where(and(eq(schema.apiKeys.userId, principalOf(c).userId), isNull(schema.apiKeys.revokedAt)))
    .orderBy(desc(schema.apiKeys.createdAt))
    .all();
  return c.json(
    rows.map((r) => ({ key_id: r.keyId, name: r.name, scopes: parseScopes(r.scopes), created_at: iso(r.createdAt)!, last_used_at: iso(r.lastUsedAt) })),
    200,
  );
});

const revoke = createRoute({
  method: "delete",
  path: "/api/keys/{key_id}",
  tags: ["api keys"],
  summary: "Revoke an API key; it stops working at once, and sockets opened with it close",
  security,
  // Ending access is open to every signed-in role, guests included: a user demoted to guest
  // whose key or session may be exposed must still be able to end it (found in QA: 403).
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  request: { params: KeyIdParam },
  responses: { 204: { description: "Revoked" }, ...errorResponses(401, 403, 404, 422, 429) },
});

keys.openapi(revoke, async (c) => {
  const { userId } = principalOf(c);
  const { key_id } = c.req.valid("param");
  const result = await database(c.env)
    .update(schema.apiKeys)
    .set({ revokedAt: Date.now() })
    .where(and(eq(schema.apiKeys.keyId, key_id), eq(schema.apiKeys.userId, userId), isNull(schema.apiKeys.revokedAt)))
    .run();
  // Another user's key answers exactly like a missing one.
  if (result.meta.changes !== 1) throw notFound("API key not found");
  await closeSockets(c.env, { userId, kind: "key", keyId: key_id }, c.get("traceparent"));
  await publish(c.env, "user.api_key_revoked", `user:${userId}`, { userId, keyId: key_id }, c.get("traceparent"));
  return c.body(null, 204);
});

const RevokedKeys = z.object({ revoked: z.number().int().openapi({ example: 2 }) }).openapi("RevokedApiKeys");

const revokeAll = createRoute({
  method: "delete",
  path: "/api/keys",
  tags: ["api keys"],
  summary: "Revoke every API key of the caller; they stop working at once, and sockets opened with them close",
  description: "API keys are independent of the password (as on Alpaca): a password change keeps them. This is the way to end them all at once.",
  security,
  // Ending access is open to every signed-in role, guests included: a user demoted to guest
  // whose key or session may be exposed must still be able to end it (found in QA: 403).
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  responses: { 200: jsonContent(RevokedKeys, "How many keys were revoked"), ...errorResponses(401, 403, 429) },
});

keys.openapi(revokeAll, async (c) => {
  const { userId } = principalOf(c);
  const revoked = await database(c.env)
    .update(schema.apiKeys)
    .set({ revokedAt: Date.now() })
    .where(and(eq(schema.apiKeys.userId, userId), isNull(schema.apiKeys.revokedAt)))
    .returning({ keyId: schema.apiKeys.keyId });
  await closeSockets(c.env, { userId, kind: "keys" }, c.get("traceparent"));
  const traceparent = c.get("traceparent");
  await Promise.all(revoked.map(({ keyId }) => publish(c.env, "user.api_key_revoked", `user:${userId}`, { userId, keyId }, traceparent)));
  return c.json({ revoked: revoked.length }, 200);
});
