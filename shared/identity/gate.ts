import type { Principal } from "../principal";
import { API_KEY_SCOPES, can, permissionsOf, ROLES, type ApiKeyScope, type Permission, type Role } from "../rbac";
import { hit, type Decision, type WindowState } from "../sliding-window";

// The gate of a user's requests, kept in the user's own object (docs/identity.md): who the
// credential is, whether it still stands, whether the request fits the user's rate limit
// and whether the caller holds the route's permission. The gateway checks a token's
// signature or hashes a key's secret with no I/O and hands the result here in the same
// call that does the work, so an order costs one call into the user's object and no
// database read. Pure: the records, the clock and the windows come in.

/** What the gateway established without I/O: a signed session, or a key id and its secret's keyed hash. */
export type Credential = { kind: "session"; sessionId: string } | { kind: "api_key"; keyId: string; secretHash: string };

/** The route class whose limit a request counts against (RATE_LIMITS). */
export type RateBucket = "auth" | "trading" | "data" | "default";

export interface GateRequest {
  credential: Credential;
  /** The route's permission; null for a request that only needs a valid caller counted. */
  permission: Permission | null;
  /** Credential-management routes refuse API keys. */
  sessionOnly: boolean;
  bucket: RateBucket;
  limit: number;
  windowMs: number;
  /** The request's W3C traceparent: the user's object logs its span as a child of it (docs/tracing.md). */
  traceparent?: string | null;
}

/** The user as the D1 row says, profile included (GET /api/users/me answers from it). */
export interface UserRecord {
  id: string;
  email: string;
  username: string;
  displayName: string | null;
  role: Role;
  status: "active" | "disabled";
  createdAt: number;
  updatedAt: number;
}

export interface SessionRecord {
  id: string;
  expiresAt: number;
  revokedAt: number | null;
}

export interface KeyRecord {
  keyId: string;
  secretHash: string;
  scopes: ApiKeyScope[];
  revokedAt: number | null;
}

export interface GateRefusal {
  status: 401 | 403 | 429;
  message: string;
  /** The permission the caller lacks, on that 403 (the gateway answers it in Alpaca's words). */
  permission?: Permission;
  /** Whether the request was counted in the user's window (a refused credential is not: the gateway counts its address instead). */
  counted: boolean;
}

export type GateOutcome = { admitted: true; principal: Principal; rate: Decision } | { admitted: false; refusal: GateRefusal; rate: Decision | null };

/** The account object's commands a route may send with its gate, in one call (`Account.gated`). */
export const GATED_COMMANDS = ["account", "positions", "position", "order", "orderByClientId", "orders", "cancelOrder", "cancelAll", "watchlists", "watchlist", "changeWatchlist", "configuration", "configure"] as const;
export type GatedCommand = (typeof GATED_COMMANDS)[number];

/** A gated command's answer: the refusal, or the command's value with the caller's rate decision. */
export type Gated<T> = { admitted: true; rate: Decision; value: T } | { admitted: false; refusal: GateRefusal; rate: Decision | null };

/**
 * What a disabled user's credentials are told, the login's 403 included. Disabling a user
 * also ends their sessions, so a token of theirs is told this rather than that its session
 * ended: signing in again would not help (QA).
 */
export const ACCOUNT_DISABLED = "this account is disabled; ask an administrator to enable it";

/** Whether a credential stands, and as whom; the messages are the gateway's 401s. */
export function authenticate(user: UserRecord | null, credential: Credential, record: SessionRecord | KeyRecord | null, now: number): Principal | string {
  if (credential.kind === "session") {
    const session = record as SessionRecord | null;
    // The session is the user's own (its record was found under the signed user id).
    if (user && session && user.status !== "active") return ACCOUNT_DISABLED;
    if (!user || !session || session.revokedAt !== null || session.expiresAt <= now) return "session has ended; sign in again";
    return { userId: user.id, role: user.role, permissions: permissionsOf(user.role), via: { kind: "session", sessionId: session.id } };
  }
  const key = record as KeyRecord | null;
  if (!user || !key || key.revokedAt !== null || !constantTimeEqual(credential.secretHash, key.secretHash)) return "API key is invalid";
  if (user.status !== "active") return ACCOUNT_DISABLED;
  return { userId: user.id, role: user.role, permissions: permissionsOf(user.role, key.scopes), via: { kind: "api_key", keyId: key.keyId, scopes: key.scopes } };
}

/**
 * The whole gate, in the gateway's order: the credential (401, not counted), the rate limit
 * (429), the permission (401/403, counted as today: a limit protects against a caller
 * hammering a route it may not use too). `windows` is the user's, updated in place.
 */
export function admit(
  user: UserRecord | null,
  record: SessionRecord | KeyRecord | null,
  request: GateRequest,
  windows: Map<RateBucket, WindowState>,
  now: number,
): GateOutcome {
  const principal = authenticate(user, request.credential, record, now);
  if (typeof principal === "string") return { admitted: false, refusal: { status: 401, message: principal, counted: false }, rate: null };
  const { state, decision } = hit(windows.get(request.bucket), now, request.windowMs, request.limit);
  if (!decision.allowed) return { admitted: false, refusal: { status: 429, message: `rate limit exceeded for ${request.bucket} requests; retry later`, counted: true }, rate: decision };
  windows.set(request.bucket, state);
  if (request.sessionOnly && principal.via.kind !== "session")
    return { admitted: false, refusal: { status: 403, message: "this action needs a signed-in session, not an API key", counted: true }, rate: decision };
  if (request.permission && !can(principal.permissions, request.permission))
    return { admitted: false, refusal: { status: 403, message: `forbidden: requires permission ${request.permission}`, permission: request.permission, counted: true }, rate: decision };
  return { admitted: true, principal, rate: decision };
}

/** Scopes as D1 stores them (a JSON array); anything unknown is dropped. */
export function parseScopes(stored: string): ApiKeyScope[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter((s): s is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(s)) : [];
}

export const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value);

/** Compares two hashes in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
