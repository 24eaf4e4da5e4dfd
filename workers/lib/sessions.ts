import { and, desc, eq, gt, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { unauthorized } from "../../shared/errors";
import { ACCOUNT_DISABLED } from "../../shared/identity/gate";
import { issueAccessToken } from "../../platform/access-token";
import { gatewayConfig } from "./config";
import { database, schema } from "../../platform/db";
import { base64url, keyedHash, randomToken } from "../../platform/random";
import { closeSockets } from "./revocation";

export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
}

async function tokenPair(env: Env, userId: string, sessionId: string, refreshToken: string): Promise<TokenPair> {
  const ttl = gatewayConfig(env).accessTokenTtlSeconds;
  const access = await issueAccessToken(env.JWT_SIGNING_KEYS, { userId, sessionId }, ttl);
  return { access_token: access, token_type: "Bearer", expires_in: ttl, refresh_token: refreshToken };
}

/** A new session (refresh-token family) for a user who just proved who they are. */
export async function openSession(env: Env, userId: string, userAgent: string | undefined): Promise<TokenPair> {
  const sessionId = crypto.randomUUID();
  const refreshToken = randomToken();
  const db = database(env);
  await db.batch([
    db.insert(schema.sessions).values({
      id: sessionId,
      userId,
      expiresAt: Date.now() + gatewayConfig(env).refreshTokenTtlSeconds * 1000,
      userAgent: userAgent?.slice(0, 256) ?? null,
    }),
    db.insert(schema.refreshTokens).values({ tokenHash: await keyedHash(env.PASSWORD_PEPPER, refreshToken), sessionId }),
  ]);
  return tokenPair(env, userId, sessionId, refreshToken);
}

/**
 * Exchanges a refresh token for a new pair. Each token works once: a token presented
 * after it was rotated is a replay (stolen or raced), and the whole family is revoked —
 * except within the reuse grace, when it is the same client asking twice (two tabs
 * restoring one session, a retry after a lost response) and gets the same successor.
 * The "used" mark is a conditional UPDATE inside the same batch as the new token, so of
 * concurrent refreshes with one token exactly one rotates and the others are duplicates.
 */
export async function rotateSession(env: Env, refreshToken: string): Promise<TokenPair> {
  const db = database(env);
  const tokenHash = await keyedHash(env.PASSWORD_PEPPER, refreshToken);
  const row = await db
    .select({
      sessionId: schema.refreshTokens.sessionId,
      usedAt: schema.refreshTokens.usedAt,
      userId: schema.sessions.userId,
      revokedAt: schema.sessions.revokedAt,
      expiresAt: schema.sessions.expiresAt,
      status: schema.users.status,
    })
    .from(schema.refreshTokens)
    .innerJoin(schema.sessions, eq(schema.sessions.id, schema.refreshTokens.sessionId))
    .innerJoin(schema.users, eq(schema.users.id, schema.sessions.userId))
    .where(eq(schema.refreshTokens.tokenHash, tokenHash))
    .get();
  if (!row) throw unauthorized("refresh token is invalid");
  // Disabling a user ends their sessions: they are told why, not to sign in again (QA).
  if (row.status !== "active") throw unauthorized(ACCOUNT_DISABLED);
  if (row.revokedAt !== null || row.expiresAt <= Date.now()) throw unauthorized("session has ended; sign in again");
  if (row.usedAt === null) {
    const next = await successorOf(env.PASSWORD_PEPPER, refreshToken);
    const [marked] = await db.batch([
      db
        .update(schema.refreshTokens)
        .set({ usedAt: Date.now() })
        .where(and(eq(schema.refreshTokens.tokenHash, tokenHash), isNull(schema.refreshTokens.usedAt))),
      // A concurrent rotation of the same token derives the same successor; the loser's
      // insert is then a no-op and it answers below as a duplicate.
      db
        .insert(schema.refreshTokens)
        .values({ tokenHash: await keyedHash(env.PASSWORD_PEPPER, next), sessionId: row.sessionId })
        .onConflictDoNothing(),
    ]);
    if (marked.meta.changes === 1) return tokenPair(env, row.userId, row.sessionId, next);
  }
  const successor = await liveSuccessorWithinGrace(env, refreshToken, row.sessionId);
  if (successor) return tokenPair(env, row.userId, row.sessionId, successor);
  await revokeSession(env, row.sessionId, "refresh_token_reuse");
  // A replay means the token may be stolen: the session's open sockets end with it.
  await closeSockets(env, { userId: row.userId, kind: "session", sessionId: row.sessionId });
  throw unauthorized("refresh token was already used; the session has been revoked");
}

// A rotated token's successor is derived from it with the pepper (HMAC-SHA256 under a
// label of its own), not drawn at random, so a duplicate refresh can be answered with the
// same successor although only hashes are stored: nothing in D1 reveals a live token,
// and without the pepper no token tells its successor. The family's first token is random.
async function successorOf(pepper: string, token: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`refresh-token-successor:${token}`));
  return base64url(new Uint8Array(mac));
}

// A client that lost the race to its own other tab may find the successor already rotated
// too (the winner refreshed again); it follows the chain to the live token, as long as
// every link was used within the grace.
const MAX_CHAIN = 4;

/** The family's live token if `token` and every successor after it were used within the grace. */
async function liveSuccessorWithinGrace(env: Env, token: string, sessionId: string): Promise<string | undefined> {
  const graceMs = refreshReuseGraceMs(env);
  if (graceMs === 0) return undefined;
  const now = Date.now();
  let current = token;
  for (let link = 0; link <= MAX_CHAIN; link++) {
    const row = await database(env)
      .select({ sessionId: schema.refreshTokens.sessionId, usedAt: schema.refreshTokens.usedAt })
      .from(schema.refreshTokens)
      .where(eq(schema.refreshTokens.tokenHash, await keyedHash(env.PASSWORD_PEPPER, current)))
      .get();
    if (!row || row.sessionId !== sessionId) return undefined;
    if (row.usedAt === null) return link === 0 ? undefined : current;
    if (now - row.usedAt > graceMs) return undefined;
    current = await successorOf(env.PASSWORD_PEPPER, current);
  }
  return undefined;
}

const graceCache = new WeakMap<object, number>();
const GraceSeconds = z.coerce.number().int().min(0).max(60);

/** REFRESH_REUSE_GRACE_SECONDS: how long a rotated refresh token still answers with its successor. */
function refreshReuseGraceMs(env: Env): number {
  let ms = graceCache.get(env);
  if (ms === undefined) {
    ms = GraceSeconds.parse(env.REFRESH_REUSE_GRACE_SECONDS) * 1000;
    graceCache.set(env, ms);
  }
  return ms;
}

export async function revokeSession(env: Env, sessionId: string, reason: string): Promise<void> {
  await database(env)
    .update(schema.sessions)
    .set({ revokedAt: Date.now(), revokeReason: reason })
    .where(and(eq(schema.sessions.id, sessionId), isNull(schema.sessions.revokedAt)))
    .run();
}

/** Ends the session a refresh token belongs to; unknown tokens are ignored (RFC 7009). */
export async function revokeByRefreshToken(env: Env, refreshToken: string): Promise<void> {
  const tokenHash = await keyedHash(env.PASSWORD_PEPPER, refreshToken);
  const row = await database(env)
    .select({ sessionId: schema.refreshTokens.sessionId })
    .from(schema.refreshTokens)
    .where(eq(schema.refreshTokens.tokenHash, tokenHash))
    .get();
  if (row) await revokeSession(env, row.sessionId, "logout");
}

/** Ends every session of a user, except `keep` (the one changing the password). */
export async function revokeUserSessions(env: Env, userId: string, reason: string, keep?: string): Promise<void> {
  const conditions = [eq(schema.sessions.userId, userId), isNull(schema.sessions.revokedAt)];
  if (keep) conditions.push(ne(schema.sessions.id, keep));
  await database(env)
    .update(schema.sessions)
    .set({ revokedAt: Date.now(), revokeReason: reason })
    .where(and(...conditions))
    .run();
}

/** A user's open sessions: not revoked, not expired, newest first, with the last time each was refreshed. */
export async function openSessionsOf(env: Env, userId: string, now: number) {
  return database(env)
    .select({
      id: schema.sessions.id,
      createdAt: schema.sessions.createdAt,
      expiresAt: schema.sessions.expiresAt,
      userAgent: schema.sessions.userAgent,
      lastRefreshedAt: sql<number>`(SELECT max(${schema.refreshTokens.createdAt}) FROM ${schema.refreshTokens} WHERE ${schema.refreshTokens.sessionId} = ${schema.sessions.id})`,
    })
    .from(schema.sessions)
    .where(and(eq(schema.sessions.userId, userId), isNull(schema.sessions.revokedAt), gt(schema.sessions.expiresAt, now)))
    .orderBy(desc(schema.sessions.createdAt), desc(schema.sessions.id))
    .all();
}

/**
 * Ends one of the user's open sessions; false if the user has no such open session (another
 * user's session answers the same). The access tokens stop at the user's object, which the
 * caller tells (closeSockets) before answering.
 */
export async function revokeOwnSession(env: Env, userId: string, sessionId: string, now: number): Promise<boolean> {
  const result = await database(env)
    .update(schema.sessions)
    .set({ revokedAt: now, revokeReason: "revoked_by_user" })
    .where(and(eq(schema.sessions.id, sessionId), eq(schema.sessions.userId, userId), isNull(schema.sessions.revokedAt), gt(schema.sessions.expiresAt, now)))
    .run();
  return result.meta.changes === 1;
}
