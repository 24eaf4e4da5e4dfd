import { log } from "../../platform/log";
import { keyedHash } from "../../platform/random";
import { database, schema } from "../../platform/db";
import { eq } from "drizzle-orm";
import type { SocketSelector } from "../../shared/stream/access";
import { tracedStub } from "../../platform/trace";
import { tracedAccountOf } from "./accounts";
import { allHubs } from "./stream-hubs";

// Revoking a credential ends REST access on the next request; open sockets were checked
// once, when they authenticated. So after every revocation the gateway tells each place a
// socket of the user can live to close the ones opened with that credential: the user's
// account object (trade_updates, including the ones the gateway relays) and every stream
// hub (market data; a socket lands on a random hub). Awaited, so the sockets are closed
// when the revoking request answers.

const REASONS: Record<SocketSelector["kind"], string> = {
  user: "this account is disabled",
  role: "the user's role changed; reconnect",
  session: "session has ended",
  sessions: "session has ended",
  key: "API key was revoked",
  keys: "API key was revoked",
};

/** `traceparent`: the revoking request's; each close is a client-side span of it (docs/tracing.md). */
export async function closeSockets(env: Env, selector: SocketSelector, traceparent: string | null = null): Promise<void> {
  const reason = REASONS[selector.kind];
  const targets: [string, () => Promise<number>][] = [
    [`account:${selector.userId}`, () => tracedAccountOf(env, selector.userId, traceparent).closeSockets(selector, reason)],
    ...allHubs(env).map((hub): [string, () => Promise<number>] => [hub, () => tracedStub(env.STREAM_HUB.getByName(hub), log, "call.hub", traceparent, { hub }).closeSockets(selector, reason)]),
  ];
  await Promise.all(targets.map(([name, close]) => closeWithRetry(name, close, selector)));
}

// The revocation itself has committed; a target that cannot be reached is retried once on
// a fresh stub, then logged (the client's request still succeeds: its credential is revoked).
async function closeWithRetry(target: string, close: () => Promise<number>, selector: SocketSelector): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await close();
      return;
    } catch (error) {
      const retryable = (error as { retryable?: boolean }).retryable === true && (error as { overloaded?: boolean }).overloaded !== true;
      if (attempt >= 2 || !retryable) {
        log("error", "could not close revoked sockets", { target, selector, error: String(error) });
        return;
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}

/** Logout names a refresh token: close the sockets of the session it belongs to. */
export async function closeSessionSockets(env: Env, refreshToken: string, traceparent: string | null = null): Promise<void> {
  const tokenHash = await keyedHash(env.PASSWORD_PEPPER, refreshToken);
  const row = await database(env)
    .select({ sessionId: schema.sessions.id, userId: schema.sessions.userId })
    .from(schema.refreshTokens)
    .innerJoin(schema.sessions, eq(schema.sessions.id, schema.refreshTokens.sessionId))
    .where(eq(schema.refreshTokens.tokenHash, tokenHash))
    .get();
  if (row) await closeSockets(env, { userId: row.userId, kind: "session", sessionId: row.sessionId }, traceparent);
}
