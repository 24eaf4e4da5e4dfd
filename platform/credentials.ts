import { and, eq, isNull } from "drizzle-orm";
import { API_KEY_SCOPES, permissionsOf, type ApiKeyScope, type Role } from "../shared/rbac";
import type { Principal } from "../shared/principal";
import { verifyAccessToken } from "./access-token";
import { database, schema } from "./db";
import { constantTimeEqual, keyedHash } from "./random";

// Turning presented credentials into a principal, shared by the HTTP gateway and the
// streaming hubs. Each check reads the current user, session or key, so revocation and
// disabling take effect on the next request or connection.
const KEY_ID = /^RK[A-Z0-9]{18}$/;
const LAST_USED_GRANULARITY_MS = 60_000;

/** A principal, or the reason the credentials were refused. */
export async function fromAccessToken(env: Env, token: string): Promise<Principal | string> {
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

export async function fromApiKey(env: Env, keyId: string, secret: string, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Principal | string> {
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

