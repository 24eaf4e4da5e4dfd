import { Hono, type Context } from "hono";
import { ApiError, permissionDenied, unauthorized } from "../../shared/errors";
import { can } from "../../shared/rbac";
import type { AppEnv, Principal } from "../context";
import { accountOf } from "../lib/accounts";
import { fromAccessToken, fromApiKey } from "../../platform/credentials";
import { closeQuietly, internalHeaders, parseFrame } from "../../platform/socket";
import { AUTHENTICATED_HEADER, credentialOf } from "../../shared/stream/access";
import { MessageBudget, type SocketLimits } from "../../shared/stream/limits";
import { liveGatewayConfig } from "../lib/config";

// Alpaca's trading stream at /stream (docs/alpaca-compat.md §6): trade_updates come straight
// from the caller's account object. A handshake with credentials is handed to the account
// object, which hibernates the socket. Clients that authenticate in-band (both SDKs do)
// are checked here first: the gateway answers "authorization", then joins the client's
// socket to one it opens to the account object and relays frames both ways. Either way
// the account object records the credential, so revoking it closes the socket (a relayed
// one: the account closes its side, and the relay closes the client's with the same code).
export const tradeStream = new Hono<AppEnv>();

const AUTH_TIMEOUT_MS = 10_000;
type WaitUntil = { waitUntil(promise: Promise<unknown>): void };

const send = (ws: WebSocket, message: unknown) => ws.send(JSON.stringify(message));
const unauthorizedFrame = { stream: "authorization", data: { status: "unauthorized", action: "authenticate", message: "access key verification failed" } };

/**
 * The upgrade the account object accepts: made here, carrying only the credential the
 * gateway checked, and whether the client's authenticate was answered already (in-band,
 * by the relay), so the object refuses a second one rather than answer it "authorized".
 */
const accountUpgrade = (principal: Principal, answered: boolean) => {
  const headers = internalHeaders(new Headers({ Upgrade: "websocket" }), credentialOf(principal));
  if (answered) headers.set(AUTHENTICATED_HEADER, "in-band");
  return new Request("https://account/stream", { headers });
};

async function openAccountSocket(env: Env, principal: Principal): Promise<WebSocket> {
  const response = await accountOf(env, principal.userId).fetch(accountUpgrade(principal, true));
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

/** Frames a client may send behind its authenticate before the answer (a listen, a ping). */
const MAX_HELD_FRAMES = 16;

function relay(env: Env, ctx: WaitUntil, client: WebSocket, limits: SocketLimits): void {
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
    for (const ws of [client, upstream]) if (ws) closeQuietly(ws, code, reason);
  };
  // Before authentication the relay answers alone, so it applies the account's limits itself
  // (the configured ones: docs/config.md).
  const budget = new MessageBudget(limits);
  /** Frames that came while the credential was being checked: sent on, in order, once it stands. */
  const held: (string | ArrayBuffer)[] = [];
  // Frames are taken one after another in arrival order: a binary one arrives as a Blob here
  // (this socket is not hibernated) and is read as bytes first.
  let turn: Promise<void> = Promise.resolve();
  client.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    turn = turn
      .then(async () => take(typeof data === "string" || data instanceof ArrayBuffer ? data : await data.arrayBuffer()))
      .catch(() => closeBoth(1011, "stream unavailable"));
  });
  const take = (data: string | ArrayBuffer) => {
    if (state === "open") {
      upstream!.send(data);
      return;
    }
    if (state === "checking") {
      // A client may send its listen right behind its authenticate, as Alpaca's stream takes them.
      const size = typeof data === "string" ? data.length : data.byteLength;
      if (size > limits.maxFrameBytes) {
        send(client, { stream: "error", data: { error: `frame of ${size} bytes is over the ${limits.maxFrameBytes}-byte limit` } });
        return;
      }
      if (!budget.take(Date.now())) {
        send(client, { stream: "error", data: { error: `too many messages: at most ${limits.messagesPerWindow} per ${limits.windowSeconds} s` } });
        closeBoth(1008, "too many messages");
        return;
      }
      if (held.length >= MAX_HELD_FRAMES) {
        send(client, { stream: "error", data: { error: `too many messages before the authorization: at most ${MAX_HELD_FRAMES}` } });
        closeBoth(1008, "too many messages");
        return;
      }
      held.push(data);
      return;
    }
    if (state !== "waiting") return;
    if (!budget.take(Date.now())) {
      send(client, { stream: "error", data: { error: `too many messages: at most ${limits.messagesPerWindow} per ${limits.windowSeconds} s` } });
      closeBoth(1008, "too many messages");
      return;
    }
    const frame = parseFrame(data, { maxBytes: limits.maxFrameBytes });
    if (!frame.ok) {
      send(client, { stream: "error", data: { error: frame.error.slice(0, 200) } });
      return;
    }
    const message = (typeof frame.value === "object" && frame.value !== null ? frame.value : {}) as { action?: unknown; data?: unknown };
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
        upstream = await openAccountSocket(env, principal);
        upstream.addEventListener("message", (e) => {
          try {
            client.send(e.data as string);
          } catch {
            closeBoth(1011, "client gone");
          }
        });
        // The account's close code and reason (1008 and why, on a revocation) reach the client.
        upstream.addEventListener("close", (e) => closeBoth(e.code, e.reason || "account stream closed"));
        upstream.addEventListener("error", () => closeBoth(1011, "account stream failed"));
        clearTimeout(timer);
        if (state !== "checking") {
          // The client left, or sent too much, while the account's socket was being opened.
          closeQuietly(upstream, 1000, "client gone");
          return;
        }
        state = "open";
        send(client, { stream: "authorization", data: { status: "authorized", action: "authenticate" } });
        for (const frame of held.splice(0)) upstream.send(frame);
      })().catch(() => closeBoth(1011, "stream unavailable")),
    );
  };
  client.addEventListener("close", () => closeBoth(1000, "client closed"));
  // A connection dropped without a close (the network, a killed client) ends the relay too.
  client.addEventListener("error", () => closeBoth(1011, "client connection lost"));
}

async function upgrade(c: Context<AppEnv>) {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "this endpoint speaks WebSocket; send an Upgrade request");
  const principal = c.get("principal");
  const failure = c.get("authFailure");
  if (!principal && failure) throw unauthorized(failure);
  if (principal) {
    if (!can(principal.permissions, "trading:read")) throw permissionDenied("trading:read");
    return accountOf(c.env, principal.userId).fetch(accountUpgrade(principal, false));
  }
  const { socketLimits } = await liveGatewayConfig(c.env);
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  relay(c.env, c.executionCtx, server, socketLimits);
  return new Response(null, { status: 101, webSocket: client });
}

tradeStream.get("/stream", upgrade);
