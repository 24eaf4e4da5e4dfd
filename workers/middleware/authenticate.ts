import { and, eq, isNull } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { forbidden, unauthorized } from "../../shared/errors";
import { API_KEY_SCOPES, can, permissionsOf, type ApiKeyScope, type Permission, type Role } from "../../shared/rbac";
import type { AppEnv, Principal } from "../context";
import { verifyAccessToken } from "../lib/access-token";
import { database, schema } from "../lib/db";
import { constantTimeEqual, keyedHash } from "../lib/random";

const KEY_ID = /^RK[A-Z0-9]{18}$/;
const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Resolves the caller from an API key (Alpaca's APCA-API-KEY-ID / APCA-API-SECRET-KEY
 * headers, or `Authorization: Bearer <key_id>:<secret>`) or a bearer access token. It
 * never rejects by itself: routes that need a caller say so with `requirePermission`.
 * Every check reads the current user and session, so disabling a user, revoking a key
 * or ending a session takes effect on the next request.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const keyId = c.req.header("apca-api-key-id");
  const keySecret = c.req.header("apca-api-secret-key");
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const outcome =
    keyId !== undefined || keySecret !== undefined
      ? await fromApiKey(c.env, keyId ?? "", keySecret ?? "", c.executionCtx)
      : bearer?.includes(":")
        ? await fromApiKey(c.env, bearer.slice(0, bearer.indexOf(":")), bearer.slice(bearer.indexOf(":") + 1), c.executionCtx)
        : bearer !== undefined
          ? await fromAccessToken(c.env, bearer)
          : c.req.header("authorization") !== undefined
            ? "authorization header must be 'Bearer <token>'"
            : undefined;
  if (typeof outcome === "string") c.set("authFailure", outcome);
  else if (outcome) c.set("principal", outcome);
  await next();
});

async function fromAccessToken(env: Env, token: string): Promise<Principal | string> {
  const claims = await verifyAccessToken(env.JWT_SIGNING_KEYS, token);
  if (!claims) return "access token is invalid or expired";
  const row = await database(env)
    .select({ role: schema.users.role, status: schema.users.status, expiresAt: schema.sessions.expiresAt, revokedAt: schema.sessions.revokedAt })
    .from(schema.sessions)
    .innerJoin(schema.users, eq(schema.users.id, schema.sessions.userId))
    .where(and(eq(schema.sessions.id, claims.sessionId), eq(schema.sessions.userId, claims.userId)))
    .get();
  if (!row || row.revokedAt !== null || row.expiresAt <= Date.now()) return "session has ended; sign in again";
  if (row.status !== "active") return "user is disabled";
  return { userId: claims.userId, role: row.role, permissions: permissionsOf(row.role), via: { kind: "session", sessionId: claims.sessionId } };
}

async function fromApiKey(env: Env, keyId: string, secret: string, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Principal | string> {
  if (!KEY_ID.test(keyId) || secret.length === 0 || secret.length > 128) return "API key is invalid";
  const row = await database(env)
    .select({
      userId: schema.apiKeys.userId,
      secretHash: schema.apiKeys.secretHash,
      scopes: schema.apiKeys.scopes,
      lastUsedAt: schema.apiKeys.lastUsedAt,
      role: schema.users.role,
      status: schema.users.status,
    })
    .from(schema.apiKeys)
    .innerJoin(schema.users, eq(schema.users.id, schema.apiKeys.userId))
    .where(and(eq(schema.apiKeys.keyId, keyId), isNull(schema.apiKeys.revokedAt)))
    .get();
  const presented = await keyedHash(env.PASSWORD_PEPPER, secret);
  if (!row || !constantTimeEqual(presented, row.secretHash)) return "API key is invalid";
  if (row.status !== "active") return "user is disabled";
  const scopes = parseScopes(row.scopes);
  const now = Date.now();
  if (row.lastUsedAt === null || now - row.lastUsedAt > LAST_USED_GRANULARITY_MS) {
    ctx.waitUntil(database(env).update(schema.apiKeys).set({ lastUsedAt: now }).where(eq(schema.apiKeys.keyId, keyId)).run());
  }
  return { userId: row.userId, role: row.role as Role, permissions: permissionsOf(row.role as Role, scopes), via: { kind: "api_key", keyId, scopes } };
}

export function parseScopes(stored: string): ApiKeyScope[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter((s): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s)) : [];
}

/**
 * Guards a route: 401 without a valid caller, 403 without the permission. `sessionOnly`
 * routes (managing credentials) refuse API keys, so a leaked key cannot mint more keys
 * or change the password.
 */
export const requirePermission = (permission: Permission, options: { sessionOnly?: boolean } = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get("principal");
    if (!principal) throw unauthorized(c.get("authFailure") ?? "request is not authorized");
    if (options.sessionOnly && principal.via.kind !== "session") throw forbidden("this action needs a signed-in session, not an API key");
    if (!can(principal.permissions, permission)) throw forbidden(`forbidden: requires permission ${permission}`);
    await next();
  });

/** The authenticated caller; only valid behind `requirePermission`. */
export function principalOf(c: { get(key: "principal"): Principal | undefined }): Principal {
  const principal = c.get("principal");
  if (!principal) throw unauthorized();
  return principal;
}
