// The browser's side of the REST API: same origin, bearer access token in memory. The
// refresh token never reaches script: the server keeps it in an HttpOnly cookie scoped to
// /api/auth (the X-RedFire-Session: cookie flow), so a reload restores the session by
// asking /api/auth/refresh. The tabs of this origin refresh one at a time (a Web Lock):
// two tabs opening at once rotate the token one after the other instead of presenting it
// twice. A 401 refreshes once and retries; a refused refresh signs out. Errors arrive in
// the gateway's one envelope.
import type { z } from "zod";
import type { TokenResponse, User } from "../../shared/schemas/identity";
import { ACCOUNT_DISABLED } from "../../shared/identity/gate";
import { createStore } from "./store";

export type UserJson = z.infer<typeof User>;
/** What login, register and refresh answer in the cookie flow: the refresh token is the cookie. */
type AccessGrant = Omit<z.infer<typeof TokenResponse>, "refresh_token">;

export interface FieldError {
  path: string;
  message: string;
  rule?: string;
}

/** A refusal from the API, in words: the envelope's message and its field errors. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: FieldError[] = [],
  ) {
    super(message);
  }

  /** The message for one form field, if the server named it. */
  field(path: string): string | undefined {
    return this.details.find((d) => d.path === path)?.message;
  }
}

/** What to show for a failed request: the server's own words, or `fallback` when it gave none (the network, a crash). */
export const messageOf = (error: unknown, fallback: string): string => (error instanceof ApiError ? error.message : fallback);

// Whether a session cookie is expected, so a signed-out visit does not ask the server;
// a hint, not a credential. The key the refresh token itself once lived under is removed.
const SESSION_HINT = "redfire.session";
localStorage.removeItem("redfire.refresh");
const COOKIE_FLOW = { "x-redfire-session": "cookie" };

interface Session {
  user: UserJson | null;
  /** True until the session cookie has been tried on load. */
  restoring: boolean;
  /** Why a session ended without the user signing out (the sign-in form says it), or absent. */
  ended?: string;
}

const SESSION_ENDED = "Your session has ended: it was signed out elsewhere, its password was changed, or its access was revoked. Sign in again.";
const DISABLED = "This account has been disabled, which ended its session. Ask an administrator to enable it.";

export const session = createStore<Session>({ user: null, restoring: true });

// A request in flight when the session ended (an admin disabled the user, a sign-out
// elsewhere) is refused with 401 after the app has signed out and said why: a caller that did
// not wait for its answer has nothing left to do with it (found by the browser test: a load
// started at sign-in, refused as the account was disabled, was an unhandled rejection).
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof ApiError && event.reason.status === 401 && !session.get().user) event.preventDefault();
});

let access: string | null = null;
/** When the access token is refreshed before use: a little before it expires (a fifth of its life, at most 30 s). */
let renewAt = Infinity;
let refreshing: Promise<boolean> | null = null;

export const accessToken = () => access;

function keep(grant: AccessGrant): void {
  access = grant.access_token;
  renewAt = Date.now() + grant.expires_in * 1000 - Math.min(30_000, grant.expires_in * 200);
  localStorage.setItem(SESSION_HINT, "1");
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function errorOf(status: number, body: unknown): ApiError {
  const envelope = (typeof body === "object" && body !== null ? body : {}) as { message?: string; details?: FieldError[] };
  const details = envelope.details ?? [];
  // A missing permission is answered in Alpaca's words ("forbidden."), which clients match;
  // the permission is in the details, which a person is shown too.
  const message = envelope.message === "forbidden." && details.length > 0 ? `Not allowed: this ${details.map((d) => d.message).join("; ")}.` : envelope.message;
  return new ApiError(status, message ?? `request failed (${status})`, details);
}

/** A body sent as it is (a CSV upload) instead of as JSON. */
export class RawBody {
  constructor(
    readonly text: string,
    readonly contentType: string,
  ) {}
}

async function send(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { ...extra };
  if (access) headers.authorization = `Bearer ${access}`;
  if (body instanceof RawBody) {
    headers["content-type"] = body.contentType;
    return fetch(path, { method, headers, body: body.text });
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Trades the session cookie for a new access token; one at a time however many callers and tabs ask. */
function refresh(): Promise<boolean> {
  refreshing ??= oneTabAtATime(async () => {
    if (!localStorage.getItem(SESSION_HINT)) return false;
    const res = await fetch("/api/auth/refresh", { method: "POST", headers: COOKIE_FLOW }).catch(() => null);
    if (!res?.ok) {
      // Only a refusal ends the session; a network failure or a rate limit tries again later.
      if (res?.status === 401 || res?.status === 403) localStorage.removeItem(SESSION_HINT);
      return false;
    }
    keep((await res.json()) as AccessGrant);
    return true;
  }).finally(() => (refreshing = null));
  return refreshing;
}

// Each refresh rotates the cookie, so tabs must not present the same one at once: the
// server would take the second for a stolen copy (outside its short grace) and end the
// session. The lock makes the next tab's refresh send the cookie the previous one set.
async function oneTabAtATime<T>(run: () => Promise<T>): Promise<T> {
  if (!("locks" in navigator)) return run();
  return await navigator.locks.request("redfire.refresh", run);
}

/** `headers`: a request's own, such as the If-Match of a configuration write. */
export async function api<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  // A token about to expire is renewed first, so the request is not refused (and retried) for it.
  if (access && Date.now() >= renewAt) {
    // A renewal that failed (the network, a rate limit) is tried again in a few seconds, not before every request.
    if (!(await refresh())) renewAt = Date.now() + 5_000;
  }
  let res = await send(method, path, body, headers);
  if (res.status === 401 && (await refresh())) res = await send(method, path, body, headers);
  const parsed = await parse(res);
  // Refused while signed in, and the refresh refused too: the session was ended from elsewhere,
  // or an admin disabled the account (which the server says, and signing in again would not mend).
  if (res.status === 401 && session.get().user) signedOut(errorOf(res.status, parsed).message === ACCOUNT_DISABLED ? DISABLED : SESSION_ENDED);
  if (!res.ok && res.status !== 207) throw errorOf(res.status, parsed);
  return parsed as T;
}

/** Whether the session still stands, by one request: one that ended signs the app out, saying so. */
export async function checkSession(): Promise<void> {
  if (!session.get().user) return;
  await api("GET", "/api/users/me").catch(() => undefined);
}

function signedOut(ended?: string): void {
  renewAt = Infinity;
  access = null;
  localStorage.removeItem(SESSION_HINT);
  session.set({ user: null, restoring: false, ...(ended !== undefined && { ended }) });
}

async function startSession(grant: AccessGrant): Promise<void> {
  keep(grant);
  session.set({ user: await api<UserJson>("GET", "/api/users/me"), restoring: false });
}

export async function signIn(email: string, password: string): Promise<void> {
  const res = await fetch("/api/auth/login", { method: "POST", headers: { "content-type": "application/json", ...COOKIE_FLOW }, body: JSON.stringify({ email, password }) });
  const body = await parse(res);
  if (!res.ok) throw errorOf(res.status, body);
  await startSession(body as AccessGrant);
}

export async function signUp(email: string, username: string, password: string): Promise<void> {
  const res = await fetch("/api/auth/register", { method: "POST", headers: { "content-type": "application/json", ...COOKIE_FLOW }, body: JSON.stringify({ email, username, password }) });
  const body = await parse(res);
  if (!res.ok) throw errorOf(res.status, body);
  await startSession(body as AccessGrant);
}

export async function signOut(): Promise<void> {
  await fetch("/api/auth/logout", { method: "POST", headers: COOKIE_FLOW }).catch(() => undefined);
  signedOut();
}

/** On load: the session cookie brings the session back without a sign-in. */
export async function restoreSession(): Promise<void> {
  if (await refresh()) {
    try {
      session.set({ user: await api<UserJson>("GET", "/api/users/me"), restoring: false });
      return;
    } catch {
      // fall through to signed out
    }
  }
  session.set({ user: null, restoring: false });
}

/** A fresh access token for a WebSocket's in-band authentication. */
export async function freshAccessToken(): Promise<string | null> {
  if (!access) await refresh();
  return access;
}

/** After a socket's auth was refused: the access token may have expired. */
export async function renewAccessToken(): Promise<string | null> {
  return (await refresh()) ? access : null;
}
