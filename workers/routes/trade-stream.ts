import { Hono, type Context } from "hono";
import { ApiError, forbidden, unauthorized } from "../../shared/errors";
import { can } from "../../shared/rbac";
import type { AppEnv, Principal } from "../context";
import { accountOf } from "../lib/accounts";
import { fromAccessToken, fromApiKey } from "../../platform/credentials";

// Alpaca's trading stream at /stream (docs/alpaca-compat.md §6): trade_updates come straight
// from the caller's account object. A handshake with credentials is handed to the account
// object, which hibernates the socket. Clients that authenticate in-band (both SDKs do)
// are checked here first: the gateway answers "authorization", then joins the client's
// socket to one it opens to the account object and relays frames both ways.
export const tradeStream = new Hono<AppEnv>();

const AUTH_TIMEOUT_MS = 10_000;
type WaitUntil = { waitUntil(promise: Promise<unknown>): void };

const send = (ws: WebSocket, message: unknown) => ws.send(JSON.stringify(message));
const unauthorizedFrame = { stream: "authorization", data: { status: "unauthorized", action: "authenticate", message: "access key verification failed" } };

async function openAccountSocket(env: Env, userId: string): Promise<WebSocket> {
  const response = await accountOf(env, userId).fetch("https://account/stream", { headers: { Upgrade: "websocket" } });
  const ws = response.webSocket;
  if (!ws) throw new Error(`account stream refused the upgrade: ${response.status}`);
  ws.accept();
  return ws;
}

async function principalFrom(env: Env, data: unknown, ctx: WaitUntil): Promise<Principal | string> {
  const d = (typeof data === "object" && data !== null ? data : {}) as { key_id?: unknown; secret_key?: unknown; oauth_token?: unknown };
  if (typeof d.key_id === "string" && typeof d.secret_key === "string") return fromApiKey(env, d.key_id, d.secret_key, ctx);
  if (typeof d.oauth_token === "string") return fromAccessToken(env, d.oauth_token);
  return "give key_id and secret_key, or oauth_token";
}

function relay(env: Env, ctx: WaitUntil, client: WebSocket): void {
  let upstream: WebSocket | undefined;
  let state: "waiting" | "checking" | "open" | "closed" = "waiting";
  const timer = setTimeout(() => {
    if (state === "waiting") {
      send(client, { stream: "authorization", data: { status: "unauthorized", action: "authenticate", message: "authentication timed out" } });
      client.close(1008, "authentication timed out");
    }
  }, AUTH_TIMEOUT_MS);
  const closeBoth = (code: number, reason: string) => {
    state = "closed";
    clearTimeout(timer);
    for (const ws of [client, upstream]) {
      try {
        ws?.close(code, reason);
      } catch {
        // already closed
      }
    }
  };
  client.addEventListener("message", (event) => {
    if (state === "open") {
      upstream!.send(event.data as string);
      return;
    }
    if (state !== "waiting") return;
    let message: { action?: unknown; data?: unknown };
    try {
      message = JSON.parse(typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer)) as typeof message;
    } catch {
      send(client, { stream: "error", data: { error: "invalid JSON" } });
      return;
    }
    if (message.action !== "authenticate") {
      send(client, { stream: "error", data: { error: "authenticate first" } });
      return;
    }
    state = "checking";
    ctx.waitUntil(
      (async () => {
        const principal = await principalFrom(env, message.data, ctx);
        if (typeof principal === "string" || !can(principal.permissions, "trading:read")) {
          send(client, unauthorizedFrame);
          closeBoth(1008, "unauthorized");
          return;
        }
        upstream = await openAccountSocket(env, principal.userId);
        upstream.addEventListener("message", (e) => {
          try {
            client.send(e.data as string);
          } catch {
            closeBoth(1011, "client gone");
          }
        });
        upstream.addEventListener("close", () => closeBoth(1000, "account stream closed"));
        clearTimeout(timer);
        state = "open";
        send(client, { stream: "authorization", data: { status: "authorized", action: "authenticate" } });
      })().catch(() => closeBoth(1011, "stream unavailable")),
    );
  });
  client.addEventListener("close", () => closeBoth(1000, "client closed"));
}

async function upgrade(c: Context<AppEnv>) {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "this endpoint speaks WebSocket; send an Upgrade request");
  const principal = c.get("principal");
  const failure = c.get("authFailure");
  if (!principal && failure) throw unauthorized(failure);
  if (principal) {
    if (!can(principal.permissions, "trading:read")) throw forbidden("forbidden: requires permission trading:read");
    return accountOf(c.env, principal.userId).fetch(new Request("https://account/stream", { headers: { Upgrade: "websocket" } }));
  }
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  relay(c.env, c.executionCtx, server);
  return new Response(null, { status: 101, webSocket: client });
}

tradeStream.get("/stream", upgrade);
