import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import type { Role } from "../shared/rbac";

export const ORIGIN = "http://redfire.test";

let counter = 0;
/** A fresh client IP, so each test has its own rate-limit and login-failure budget. */
export function freshIp(): string {
  counter += 1;
  const n = (Date.now() % 200) * 1000 + counter + Math.floor(Math.random() * 1e6);
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  rawBody?: BodyInit;
  token?: string;
  apiKey?: { key_id: string; secret: string };
  headers?: Record<string, string>;
  ip?: string;
}

export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  headers.set("cf-connecting-ip", options.ip ?? freshIp());
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  if (options.apiKey) {
    headers.set("apca-api-key-id", options.apiKey.key_id);
    headers.set("apca-api-secret-key", options.apiKey.secret);
  }
  let body = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: options.method ?? (body ? "POST" : "GET"), headers, body }));
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export interface ErrorBody {
  code: number;
  message: string;
  details: { path: string; message: string; rule?: string }[];
  request_id: string;
}

/** Asserts the response is the error envelope with this status, and returns it. */
export async function expectError(res: Response, status: number): Promise<ErrorBody> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  const body = JSON.parse(text) as ErrorBody;
  // Alpaca's convention: status × 100000 + 10000 (+ 10001 for a body that is not JSON).
  if (body.code !== status * 100000 + 10000 && body.code !== status * 100000 + 10001) throw new Error(`code ${body.code} is not ${status}10000 (or ${status}10001)`);
  if (typeof body.message !== "string" || body.message.length === 0) throw new Error("envelope without message");
  if (!Array.isArray(body.details)) throw new Error("envelope without details");
  if (body.request_id !== res.headers.get("x-request-id")) throw new Error("request_id differs from X-Request-ID");
  return body;
}

export interface TestUser {
  id: string;
  email: string;
  username: string;
  password: string;
  ip: string;
  access: string;
  refresh: string;
}

let userCounter = 0;
export const PASSWORD = "orbital-velocity-42";

/** Registers a new user through the API; other roles are set the way `npm run make-admin` does. */
export async function signUp(role: Role = "trader"): Promise<TestUser> {
  userCounter += 1;
  const tag = `${Date.now().toString(36)}${userCounter}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const email = `u${tag}@example.com`;
  const username = `u${tag}`;
  const ip = freshIp();
  const res = await call("/api/auth/register", { body: { email, username, password: PASSWORD }, ip });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${await res.text()}`);
  const body = await json<{ user: { id: string }; access_token: string; refresh_token: string }>(res);
  if (role !== "trader") await env.DB.prepare("UPDATE users SET role = ? WHERE id = ?").bind(role, body.user.id).run();
  return { id: body.user.id, email, username, password: PASSWORD, ip, access: body.access_token, refresh: body.refresh_token };
}

export async function createKey(user: TestUser, scopes: ("read" | "trade" | "metrics")[] = ["read", "trade"]) {
  const res = await call("/api/keys", { body: { name: "test key", scopes }, token: user.access, ip: user.ip });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  return json<{ key_id: string; secret: string; scopes: string[] }>(res);
}

/** Row counts of every table a client could write to. */
export async function tableCounts(): Promise<Record<string, number>> {
  const tables = ["users", "sessions", "refresh_tokens", "api_keys"];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = ((await env.DB.prepare(`SELECT count(*) AS n FROM ${t}`).first<{ n: number }>())?.n ?? 0);
  return out;
}

/** Polls `probe` until it answers something truthy, or fails saying what it waited for. */
export async function until<T>(probe: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Drops an object's memory as a crash would; its storage survives. */
export async function restartObject(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (_instance, state) => {
    try {
      state.abort("test restart");
    } catch {
      // abort() ends the call that made it
    }
  }).catch(() => undefined);
}
