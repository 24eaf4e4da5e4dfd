import { and, eq, isNull } from "drizzle-orm";
import { ACCOUNT_DISABLED, parseScopes, type Credential, type KeyRecord, type SessionRecord, type UserRecord } from "../shared/identity/gate";
import { permissionsOf, type Role } from "../shared/rbac";
import type { Principal } from "../shared/principal";
import { verifyAccessToken } from "./access-token";
import { database, schema } from "./db";
import { constantTimeEqual, keyedHash } from "./random";

// Turning presented credentials into a caller. Requests (the gateway) check what needs no
// I/O here — a token's signature, a key's format and its secret's keyed hash — and leave
// whether the credential still stands to the user's object (shared/identity/gate.ts), which
// reads D1 only to learn a credential it has not seen. Sockets, checked once when they
// connect, read D1 directly (fromAccessToken, fromApiKey).
const KEY_ID = /^RK[A-Z0-9]{18}$/;
const LAST_USED_GRANULARITY_MS = 60_000;

/** Whose request this is and with what, before the user's object has said whether it stands. */
export interface Caller {
  userId: string;
  credential: Credential;
}

/** A signed, unexpired access token's caller, or why it is refused. No I/O. */
export async function callerFromToken(env: Env, token: string): Promise<Caller | string> {
  const claims = await verifyAccessToken(env.JWT_SIGNING_KEYS, token);
  if (!claims) return "access token is invalid or expired";
  return { userId: claims.userId, credential: { kind: "session", sessionId: claims.sessionId } };
}

/**
 * An API key's caller: its owner (a key never changes hands, so the isolate remembers it
 * after one D1 read) and its secret's keyed hash, which the owner's object compares.
 */
export async function callerFromKey(env: Env, keyId: string, secret: string): Promise<Caller | string> {
  if (!KEY_ID.test(keyId) || secret.length === 0 || secret.length > 128) return "API key is invalid";
  const owner = await keyOwner(env, keyId);
  if (!owner) return "API key is invalid";
  return { userId: owner, credential: { kind: "api_key", keyId, secretHash: await keyedHash(env.PASSWORD_PEPPER, secret) } };
}

const MAX_OWNERS = 10_000;
const owners = new Map<string, string>();

async function keyOwner(env: Env, keyId: string): Promise<string | undefined> {
  const known = owners.get(keyId);
  if (known) return known;
  const row = await database(env).select({ userId: schema.apiKeys.userId }).from(schema.apiKeys).where(eq(schema.apiKeys.keyId, keyId)).get();
  if (!row) return undefined;
  if (owners.size >= MAX_OWNERS) owners.delete(owners.keys().next().value!);
  owners.set(keyId, row.userId);
  return row.userId;
}

/** What D1 says of a user and of one of their credentials: what the user's object learns when it has not seen them. */
export interface IdentityRecords {
  user: UserRecord | null;
  record: SessionRecord | KeyRecord | null;
  /** The key's last_used_at, so the object does not write it again within the minute. */
  keyUsedAt: number | null;
}

export async function identityRecords(env: Env, userId: string, credential: Credential): Promise<IdentityRecords> {
  const db = database(env);
  const userQuery = db.select().from(schema.users).where(eq(schema.users.id, userId));
  const recordQuery =
    credential.kind === "session"
      ? db.select({ id: schema.sessions.id, expiresAt: schema.sessions.expiresAt, revokedAt: schema.sessions.revokedAt }).from(schema.sessions).where(and(eq(schema.sessions.id, credential.sessionId), eq(schema.sessions.userId, userId)))
      : db.select({ keyId: schema.apiKeys.keyId, secretHash: schema.apiKeys.secretHash, scopes: schema.apiKeys.scopes, revokedAt: schema.apiKeys.revokedAt, lastUsedAt: schema.apiKeys.lastUsedAt }).from(schema.apiKeys).where(and(eq(schema.apiKeys.keyId, credential.keyId), eq(schema.apiKeys.userId, userId)));
  const [users, records] = await db.batch([userQuery, recordQuery]);
  const user = userOfRow(users[0]);
  const found = records[0];
  if (!found) return { user, record: null, keyUsedAt: null };
  if (!("keyId" in found)) return { user, record: found, keyUsedAt: null };
  return { user, record: { keyId: found.keyId, secretHash: found.secretHash, scopes: parseScopes(found.scopes), revokedAt: found.revokedAt }, keyUsedAt: found.lastUsedAt };
}

/** The user as D1 has it now, or null (a user deleted since). */
export async function userRecord(env: Env, userId: string): Promise<UserRecord | null> {
  return userOfRow(await database(env).select().from(schema.users).where(eq(schema.users.id, userId)).get());
}

function userOfRow(row: typeof schema.users.$inferSelect | undefined): UserRecord | null {
  return row ? { id: row.id, email: row.email, username: row.username, displayName: row.displayName, role: row.role, status: row.status, createdAt: row.createdAt, updatedAt: row.updatedAt } : null;
}

/** Records when a key was last used, at most once a minute per key (`last` is the time last written). */
export function keyUsedWrite(env: Env, keyId: string, now: number, last: number | null): Promise<unknown> | undefined {
  if (last !== null && now - last <= LAST_USED_GRANULARITY_MS) return undefined;
  return database(env).update(schema.apiKeys).set({ lastUsedAt: now }).where(eq(schema.apiKeys.keyId, keyId)).run();
}

/** A principal, or the reason the credentials were refused: a socket's check, straight from D1. */
export async function fromAccessToken(env: Env, token: string): Promise<Principal | string> {
  const claims = await verifyAccessToken(env.JWT_SIGNING_KEYS, token);
  if (!claims) return "access token is invalid or expired";
  const row = await database(env)
    .select({ role: schema.users.role, status: schema.users.status, expiresAt: schema.sessions.expiresAt, revokedAt: schema.sessions.revokedAt })
    .from(schema.sessions)
    .innerJoin(schema.users, eq(schema.users.id, schema.sessions.userId))
    .where(and(eq(schema.sessions.id, claims.sessionId), eq(schema.sessions.userId, claims.userId)))
    .get();
  if (row && row.status !== "active") return ACCOUNT_DISABLED;
  if (!row || row.revokedAt !== null || row.expiresAt <= Date.now()) return "session has ended; sign in again";
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
  if (row.status !== "active") return ACCOUNT_DISABLED;
  const scopes = parseScopes(row.scopes);
  const write = keyUsedWrite(env, keyId, Date.now(), row.lastUsedAt);
  if (write) ctx.waitUntil(write);
  return { userId: row.userId, role: row.role as Role, permissions: permissionsOf(row.role as Role, scopes), via: { kind: "api_key", keyId, scopes } };
}

