import { decodeJwt } from "jose";
import { can, type Permission } from "../rbac";
import type { Principal } from "../principal";
import type { SocketKind } from "./protocol";

// Who may hold a client socket, and which sockets a revocation ends. Both socket owners
// (the market-data hubs and the account object's trade_updates sockets) record the
// credential a socket was opened with, so revoking it can close the socket at once
// instead of letting it stream until it reconnects.

/** The credential a socket authenticated with: a login session or an API key. */
export interface SocketCredential {
  userId: string;
  sessionId?: string;
  keyId?: string;
}

/** Which of a user's sockets a revocation ends. */
export type SocketSelector =
  /** The user was disabled: every socket. */
  | { userId: string; kind: "user" }
  /** The user's role changed: every socket, to be checked again when it reconnects. */
  | { userId: string; kind: "role" }
  /** A session ended (logout). */
  | { userId: string; kind: "session"; sessionId: string }
  /** Every session but one ended (a password change keeps the session that made it). */
  | { userId: string; kind: "sessions"; except?: string }
  /** An API key was revoked. */
  | { userId: string; kind: "key"; keyId: string }
  /** Every API key of the user was revoked. */
  | { userId: string; kind: "keys" };

export const credentialOf = (principal: Principal): SocketCredential =>
  principal.via.kind === "session" ? { userId: principal.userId, sessionId: principal.via.sessionId } : { userId: principal.userId, keyId: principal.via.keyId };

/**
 * Whether a revocation ends a socket opened with `credential`. A socket recorded without
 * its credential (opened before credentials were recorded) is ended by every revocation of
 * its user: closing too much only makes a client reconnect.
 */
export function selects(selector: SocketSelector, credential: SocketCredential): boolean {
  if (credential.userId !== selector.userId) return false;
  const unknown = credential.sessionId === undefined && credential.keyId === undefined;
  switch (selector.kind) {
    case "user":
    case "role":
      return true;
    case "session":
      return unknown || credential.sessionId === selector.sessionId;
    case "sessions":
      return unknown || (credential.sessionId !== undefined && credential.sessionId !== selector.except);
    case "key":
      return unknown || credential.keyId === selector.keyId;
    case "keys":
      return unknown || credential.keyId !== undefined;
    default:
      return assertNever(selector);
  }
}

/** A JWT's claims, read without checking its signature (jose's decodeJwt); undefined when it is not one. */
function unverifiedClaims(token: string): { sub?: unknown; sid?: unknown } | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/**
 * Whether an in-band `authenticate` names the credential a socket was opened with at its
 * handshake (an SDK authenticates in-band whatever its handshake sent): the same key id, or
 * a token of the same user and session. Only what the answer says depends on it (the socket
 * stays with its handshake's account either way), so the token's signature is not checked
 * here: "authorized" for another user's token (found in QA) said what was not so.
 */
export function repeatsCredential(data: unknown, credential: SocketCredential): boolean {
  const d = (typeof data === "object" && data !== null ? data : {}) as { key_id?: unknown; oauth_token?: unknown };
  if (typeof d.key_id === "string") return credential.keyId === d.key_id;
  if (typeof d.oauth_token !== "string") return false;
  const claims = unverifiedClaims(d.oauth_token);
  return claims?.sub === credential.userId && credential.keyId === undefined && (credential.sessionId === undefined || claims.sid === credential.sessionId);
}

function assertNever(value: never): never {
  throw new Error(`unexpected selector ${JSON.stringify(value)}`);
}

/**
 * The permission rule of every market-data socket, at the handshake and in-band alike:
 * stock data needs trading:read (as on REST); crypto data is public on REST, so any user's
 * credential may stream it (user:read, which every role has), but not a key scoped to
 * `/metrics` alone, which reads nothing else. A socket carrying both classes needs trading:read.
 */
export function mayStream(kind: SocketKind, permissions: ReadonlySet<Permission>): boolean {
  return can(permissions, kind === "crypto" ? "user:read" : "trading:read");
}

/** Set by the gateway on a trade socket it relays, whose client's authenticate it answered already. */
export const AUTHENTICATED_HEADER = "x-redfire-authenticated";
