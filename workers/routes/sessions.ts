import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { notFound } from "../../shared/errors";
import { errorResponses, jsonContent, SESSION_ONLY } from "../../shared/schemas/common";
import { Session } from "../../shared/schemas/identity";
import type { AppEnv } from "../context";
import { closeSockets } from "../lib/revocation";
import { openSessionsOf, revokeOwnSession } from "../lib/sessions";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// A user's sign-ins (sessions: refresh-token families), listed and ended one at a time: a
// browser left signed in on another machine is ended from here without changing the
// password (which ends every other session). Managing credentials needs a signed-in
// session, as API keys do: a leaked key must not end its owner's sessions.
export const sessions = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const iso = (ms: number | null) => (ms === null ? null : new Date(Math.round(ms)).toISOString());

const SessionIdParam = z.object({
  session_id: z.uuid({ error: "is not a session id" }).openapi({ param: { name: "session_id", in: "path" } }),
});

const list = createRoute({
  method: "get",
  path: "/api/sessions",
  tags: ["users"],
  summary: "The caller's open sessions (sign-ins), newest first",
  security: SESSION_ONLY,
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  responses: { 200: jsonContent(z.array(Session), "Open sessions: neither ended nor expired"), ...errorResponses(401, 403, 429) },
});

sessions.openapi(list, async (c) => {
  const principal = principalOf(c);
  const current = principal.via.kind === "session" ? principal.via.sessionId : null;
  const rows = await openSessionsOf(c.env, principal.userId, Date.now());
  return c.json(
    rows.map((r) => ({
      id: r.id,
      created_at: iso(r.createdAt)!,
      last_refreshed_at: iso(r.lastRefreshedAt),
      expires_at: iso(r.expiresAt)!,
      user_agent: r.userAgent,
      current: r.id === current,
    })),
    200,
  );
});

const revoke = createRoute({
  method: "delete",
  path: "/api/sessions/{session_id}",
  tags: ["users"],
  summary: "End one of the caller's sessions: its access tokens stop working at once, its refresh token is refused, and sockets opened with it close",
  description: "Ending the request's own session is signing out (POST /api/auth/logout does the same with the refresh token).",
  security: SESSION_ONLY,
  // Ending access is open to every signed-in role, guests included: a user demoted to guest
  // whose key or session may be exposed must still be able to end it (found in QA: 403).
  middleware: [requirePermission("user:read", { sessionOnly: true })] as const,
  request: { params: SessionIdParam },
  responses: { 204: { description: "Ended" }, ...errorResponses(401, 403, 404, 422, 429) },
});

sessions.openapi(revoke, async (c) => {
  const { userId } = principalOf(c);
  const { session_id } = c.req.valid("param");
  // Another user's session, or one already ended, answers exactly like a missing one.
  if (!(await revokeOwnSession(c.env, userId, session_id, Date.now()))) throw notFound("session not found (or already ended)");
  // The user's object forgets what it knew of the session (its next request reads D1) and
  // closes the session's sockets, as logout does.
  await closeSockets(c.env, { userId, kind: "session", sessionId: session_id }, c.get("traceparent"));
  return c.body(null, 204);
});
