// The browser's side of the REST API: same origin, bearer access token in memory, the
// refresh token in localStorage so a reload keeps the session. A 401 refreshes once and
// retries; a failed refresh signs out. Errors arrive in the gateway's one envelope.
import type { z } from "zod";
import type { TokenResponse, User } from "../../shared/schemas/identity";
import { createStore } from "./store";

export type UserJson = z.infer<typeof User>;
type Tokens = z.infer<typeof TokenResponse>;

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

const REFRESH_KEY = "redfire.refresh";

interface Session {
  user: UserJson | null;
  /** True until the stored refresh token has been tried on load. */
  restoring: boolean;
}

export const session = createStore<Session>({ user: null, restoring: true });

let access: string | null = null;
let refreshing: Promise<boolean> | null = null;

export const accessToken = () => access;

function keep(tokens: Tokens): void {
  access = tokens.access_token;
  localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
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
  return new ApiError(status, envelope.message ?? `request failed (${status})`, envelope.details ?? []);
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (access) headers.authorization = `Bearer ${access}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Trades the stored refresh token for a new pair; one at a time however many callers ask. */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const token = localStorage.getItem(REFRESH_KEY);
    if (!token) return false;
    const res = await fetch("/api/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: token }) }).catch(() => null);
    if (!res?.ok) {
      // Only a refusal ends the session; a network failure leaves the token to try again.
      if (res) localStorage.removeItem(REFRESH_KEY);
      return false;
    }
    keep((await res.json()) as Tokens);
    return true;
  })().finally(() => (refreshing = null));
  return refreshing;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res = await send(method, path, body);
  if (res.status === 401 && (await refresh())) res = await send(method, path, body);
  const parsed = await parse(res);
  if (res.status === 401 && session.get().user) signedOut();
  if (!res.ok && res.status !== 207) throw errorOf(res.status, parsed);
  return parsed as T;
}

function signedOut(): void {
  access = null;
  localStorage.removeItem(REFRESH_KEY);
  session.set({ user: null, restoring: false });
}

async function startSession(tokens: Tokens): Promise<void> {
  keep(tokens);
  session.set({ user: await api<UserJson>("GET", "/api/users/me"), restoring: false });
}

export async function signIn(email: string, password: string): Promise<void> {
  const res = await fetch("/api/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
  const body = await parse(res);
  if (!res.ok) throw errorOf(res.status, body);
  await startSession(body as Tokens);
}

export async function signUp(email: string, username: string, password: string): Promise<void> {
  const res = await fetch("/api/auth/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, username, password }) });
  const body = await parse(res);
  if (!res.ok) throw errorOf(res.status, body);
  await startSession(body as Tokens);
}

export async function signOut(): Promise<void> {
  const token = localStorage.getItem(REFRESH_KEY);
  if (token) await fetch("/api/auth/logout", { method: "POST", headers: { "content-type": "application/json", ...(access ? { authorization: `Bearer ${access}` } : {}) }, body: JSON.stringify({ refresh_token: token }) }).catch(() => undefined);
  signedOut();
}

/** On load: a stored refresh token brings the session back without a sign-in. */
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
