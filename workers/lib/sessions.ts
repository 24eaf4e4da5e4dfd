import { and, eq, isNull, ne } from "drizzle-orm";
import { unauthorized } from "../../shared/errors";
import { issueAccessToken } from "../../platform/access-token";
import { gatewayConfig } from "./config";
import { database, schema } from "../../platform/db";
import { keyedHash, randomToken } from "../../platform/random";

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
 * after it was rotated is a replay (stolen or raced), and the whole family is revoked.
 * The "used" mark is a conditional UPDATE inside the same batch as the new token, so two
 * concurrent refreshes with one token cannot both win.
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
  if (row.revokedAt !== null || row.expiresAt <= Date.now()) throw unauthorized("session has ended; sign in again");
  if (row.status !== "active") throw unauthorized("user is disabled");
  if (row.usedAt !== null) {
    await revokeSession(env, row.sessionId, "refresh_token_reuse");
    throw unauthorized("refresh token was already used; the session has been revoked");
  }
  const next = randomToken();
  const now = Date.now();
  const [marked] = await db.batch([
    db
      .update(schema.refreshTokens)
      .set({ usedAt: now })
      .where(and(eq(schema.refreshTokens.tokenHash, tokenHash), isNull(schema.refreshTokens.usedAt))),
    db.insert(schema.refreshTokens).values({ tokenHash: await keyedHash(env.PASSWORD_PEPPER, next), sessionId: row.sessionId }),
  ]);
  if (marked.meta.changes !== 1) {
    await revokeSession(env, row.sessionId, "refresh_token_reuse");
    throw unauthorized("refresh token was already used; the session has been revoked");
  }
  return tokenPair(env, row.userId, row.sessionId, next);
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
