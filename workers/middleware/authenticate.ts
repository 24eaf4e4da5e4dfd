import { createMiddleware } from "hono/factory";
import { forbidden, unauthorized } from "../../shared/errors";
import { can, type Permission } from "../../shared/rbac";
import type { AppEnv, Principal } from "../context";
import { fromAccessToken, fromApiKey } from "../../platform/credentials";

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
