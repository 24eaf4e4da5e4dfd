import { createMiddleware } from "hono/factory";
import { forbidden, permissionDenied, unauthorized } from "../../shared/errors";
import { can, type Permission } from "../../shared/rbac";
import type { AppEnv, Principal } from "../context";
import { callerFromKey, callerFromToken } from "../../platform/credentials";

/**
 * Names the caller from an API key (Alpaca's APCA-API-KEY-ID / APCA-API-SECRET-KEY headers,
 * or `Authorization: Bearer <key_id>:<secret>`) or a bearer access token, with what needs
 * no I/O: the token's signature, the key's format and its secret's keyed hash. Whether the
 * credential still stands (session revoked, user disabled, key revoked, role changed) is
 * the user's object's answer, at admission (middleware/admission.ts). It never rejects by
 * itself: routes that need a caller say so with `requirePermission`.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const keyId = c.req.header("apca-api-key-id");
  const keySecret = c.req.header("apca-api-secret-key");
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  const keyHeaders = keyId !== undefined || keySecret !== undefined;
  const outcome =
    // Two credentials, perhaps of two users: which one acts is not guessed (found in QA: the key's owner did, silently).
    keyHeaders && c.req.header("authorization") !== undefined
      ? "send one credential: the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers or an Authorization header, not both"
      : keyHeaders
        ? await callerFromKey(c.env, keyId ?? "", keySecret ?? "")
        : bearer?.includes(":")
          ? await callerFromKey(c.env, bearer.slice(0, bearer.indexOf(":")), bearer.slice(bearer.indexOf(":") + 1))
          : bearer !== undefined
            ? await callerFromToken(c.env, bearer)
            : c.req.header("authorization") !== undefined
              ? "authorization header must be 'Bearer <token>'"
              : undefined;
  if (typeof outcome === "string") c.set("authFailure", outcome);
  else if (outcome) c.set("caller", outcome);
  await next();
});

/**
 * Guards a route: 401 without a valid caller, 403 without the permission. `sessionOnly`
 * routes (managing credentials) refuse API keys, so a leaked key cannot mint more keys
 * or change the password. On a one-hop route the check travels with the route's command
 * to the user's object (admission.ts), which answers it before doing anything.
 */
export const requirePermission = (permission: Permission, options: { sessionOnly?: boolean } = {}) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const deferred = c.get("deferredGate");
    if (deferred) {
      deferred.permission = permission;
      deferred.sessionOnly = options.sessionOnly ?? false;
      return next();
    }
    const principal = c.get("principal");
    if (!principal) throw unauthorized(c.get("authFailure") ?? "request is not authorized");
    if (options.sessionOnly && principal.via.kind !== "session") throw forbidden("this action needs a signed-in session, not an API key");
    if (!can(principal.permissions, permission)) throw permissionDenied(permission);
    await next();
  });

/** The authenticated caller; only valid behind `requirePermission`. */
export function principalOf(c: { get(key: "principal"): Principal | undefined }): Principal {
  const principal = c.get("principal");
  if (!principal) throw unauthorized();
  return principal;
}
