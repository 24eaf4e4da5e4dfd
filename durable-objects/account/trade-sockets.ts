import { eq } from "drizzle-orm";
import { acceptSocket, closeQuietly, credentialFrom, isWebSocketUpgrade, parseFrame, SocketAttachments, upgradeRequired } from "../../platform/socket";
import { logger } from "../../platform/log";
import { AUTHENTICATED_HEADER, repeatsCredential, selects, type SocketCredential, type SocketSelector } from "../../shared/stream/access";
import { MessageBudget } from "../../shared/stream/limits";
import { liveSocketLimits } from "../config/subscriber";
import { isUserStream, type TradeUpdate, type UserStream } from "../../shared/trading/stream";
import { METRICS_STORE } from "../../shared/observability/catalog";
import { objectName } from "../name";
import { database, schema } from "../../platform/db";

// The account object's side of its user's sockets.
// 1. Alpaca's trading stream (docs/alpaca-compat.md §6): hibernatable sockets whose
//    attachment says which streams they listen to and which credential opened them. A
//    socket reaches the object already authenticated (by the gateway, at the handshake or
//    in-band, in which case the gateway relays it).
// 2. The user's market-data sockets, which live in the stream hubs: the account counts them
//    (one lease per socket), because a user's sockets may sit on any hub.

const log = logger("account");

interface Listening {
  streams: string[];
  /** Whether the client's authenticate was answered (by the relay, or here): a second one is refused. */
  authenticated?: boolean;
  /** Absent on sockets accepted before credentials were recorded. */
  credential?: SocketCredential;
}

const attachments = new SocketAttachments<Listening>();
// Per socket, in memory: a hibernated object was idle, which ends any window anyway.
const budgets = new WeakMap<WebSocket, MessageBudget>();
const send = (ws: WebSocket, message: unknown) => {
  try {
    ws.send(JSON.stringify(message));
  } catch {
    // Closed meanwhile.
  }
};
// Alpaca's SDKs read `data.error` of any frame as the stream's error.
const errorFrame = (error: string) => ({ stream: "error", data: { error } });
const isOpen = (ws: WebSocket) => ws.readyState === WebSocket.READY_STATE_OPEN;

/**
 * Accepts an upgrade onto the object's hibernatable sockets. A user past the connection
 * limit gets the error frame and a close instead of a stream.
 */
export function acceptTradeSocket(ctx: DurableObjectState, env: Env, request: Request): Response {
  if (!isWebSocketUpgrade(request)) return upgradeRequired();
  const open = ctx.getWebSockets().filter(isOpen).length;
  const credential = credentialFrom(request.headers);
  const answered = request.headers.get(AUTHENTICATED_HEADER) === "in-band";
  const { socket, response } = acceptSocket(ctx, attachments, { streams: [], ...(answered && { authenticated: true }), ...(credential && { credential }) });
  if (open >= liveSocketLimits(env).connectionsPerUser) {
    send(socket, errorFrame("connection limit exceeded"));
    closeQuietly(socket, 1008, "connection limit exceeded");
  }
  reportSockets(ctx, env);
  return response;
}

/**
 * `authenticate` (already done) and `listen`, whose list replaces the previous one. A listen
 * that starts or ends the user's last `notifications` listener is answered once D1 knows
 * (below), so every notification stored after the answer is pushed.
 */
export async function onTradeSocketMessage(ctx: DurableObjectState, env: Env, ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
  const limits = liveSocketLimits(env);
  let budget = budgets.get(ws);
  if (!budget) budgets.set(ws, (budget = new MessageBudget(limits)));
  if (!budget.take(Date.now())) {
    send(ws, errorFrame(`too many messages: at most ${limits.messagesPerWindow} per ${limits.windowSeconds} s`));
    closeQuietly(ws, 1008, "too many messages");
    return;
  }
  const frame = parseFrame(data, { maxBytes: limits.maxFrameBytes });
  if (!frame.ok) return send(ws, errorFrame(frame.error.slice(0, 200)));
  const message = (typeof frame.value === "object" && frame.value !== null ? frame.value : {}) as { action?: unknown; data?: { streams?: unknown } };
  if (message.action === "authenticate") {
    // The socket was authenticated at its handshake (or in-band, by the relay): the SDKs'
    // authenticate is answered once. A second is not checked, so it is not answered
    // "authorized": the socket stays the account it was opened for.
    const current = attachments.get(ws) ?? { streams: [] };
    if (current.authenticated) return send(ws, errorFrame("already authenticated: this connection stays with the account it was opened for; open a new connection for other credentials"));
    // Opened with headers, then authenticated in-band with other credentials: not "authorized".
    if (current.credential && !repeatsCredential((message as { data?: unknown }).data, current.credential))
      return send(ws, errorFrame("this connection was authenticated at its handshake with other credentials and stays with that account; open a new connection for these"));
    attachments.set(ws, { ...current, authenticated: true });
    return send(ws, { stream: "authorization", data: { status: "authorized", action: "authenticate" } });
  }
  if (message.action === "listen") {
    // A list (an empty one stops every stream); anything else is a mistake that changes nothing.
    if (!Array.isArray(message.data?.streams)) return send(ws, errorFrame('listen takes {"data":{"streams":[…]}}: a list of stream names, [] for none'));
    const asked: unknown[] = message.data.streams;
    const wanted = [...new Set(asked.filter(isUserStream))];
    const current = attachments.get(ws);
    attachments.set(ws, { ...current, streams: wanted });
    await syncNotificationListener(ctx, env);
    return send(ws, { stream: "listening", data: { streams: wanted } });
  }
  send(ws, errorFrame(`unknown action ${JSON.stringify(message.action ?? null).slice(0, 64)}`));
}

export function onTradeSocketClose(ctx: DurableObjectState, env: Env, ws: WebSocket, code: number): void {
  closeQuietly(ws, code, "closing");
  reportSockets(ctx, env, ws);
  ctx.waitUntil(syncNotificationListener(ctx, env, ws));
}

// ---- the user's row in notification_listeners (docs/notifications.md) -----------------
// The events consumer pushes a new notification only to users with a row, so a fill nobody
// is listening for costs no call into this object. The row follows this object's sockets:
// written when the first starts listening to `notifications` (before the `listening`
// answer), deleted when the last stops or closes. Writes run one after another, each
// reading the sockets when it runs, so the last one leaves what the sockets say. What an
// incarnation has written is kept in memory; a new one writes at its first change. A row
// left behind (an object reset without its sockets' close) costs a call that reaches no
// socket; a write that fails is logged, and the next change writes again.

const listenerWrites = new WeakMap<DurableObjectState, Promise<void>>();
const listenerWritten = new WeakMap<DurableObjectState, boolean>();

const listensToNotifications = (ctx: DurableObjectState, closing?: WebSocket) =>
  ctx.getWebSockets().some((ws) => ws !== closing && isOpen(ws) && (attachments.get(ws)?.streams.includes("notifications") ?? false));

function syncNotificationListener(ctx: DurableObjectState, env: Env, closing?: WebSocket): Promise<void> {
  const user = objectName(ctx);
  if (!user) return Promise.resolve();
  const write = async () => {
    const listening = listensToNotifications(ctx, closing);
    if (listenerWritten.get(ctx) === listening) return;
    const t = schema.notificationListeners;
    try {
      if (listening) await database(env).insert(t).values({ userId: user, since: Date.now() }).onConflictDoNothing();
      else await database(env).delete(t).where(eq(t.userId, user));
      listenerWritten.set(ctx, listening);
    } catch (error) {
      listenerWritten.delete(ctx);
      log("warn", "could not record the notifications listener", { account: user, listening, error: String(error) });
    }
  };
  const next = (listenerWrites.get(ctx) ?? Promise.resolve()).then(write);
  listenerWrites.set(ctx, next);
  return next;
}

/** Sends an update to every socket listening to trade_updates. */
export function broadcastTradeUpdate(ctx: DurableObjectState, env: Env, update: TradeUpdate): void {
  broadcast(ctx, env, "trade_updates", update);
}

/** Sends `{stream, data}` to every socket listening to `stream`; answers how many. */
export function broadcastToStream(ctx: DurableObjectState, env: Env, stream: UserStream, data: unknown): number {
  return broadcast(ctx, env, stream, { stream, data });
}

function broadcast(ctx: DurableObjectState, env: Env, stream: UserStream, frame: unknown): number {
  let text: string | undefined;
  let sent = 0;
  for (const ws of ctx.getWebSockets()) {
    if (!attachments.get(ws)?.streams.includes(stream)) continue;
    try {
      ws.send((text ??= JSON.stringify(frame)));
      sent += 1;
    } catch {
      // a closing socket; its close handler cleans up
    }
  }
  if (sent > 0) countFrames(ctx, env, sent);
  return sent;
}

/** Ends the trade_updates sockets a revocation selects: the error frame, then a close. Answers how many. */
export function closeTradeSockets(ctx: DurableObjectState, selector: SocketSelector, reason: string): number {
  let closed = 0;
  for (const ws of ctx.getWebSockets()) {
    const a = attachments.get(ws);
    if (!a || !isOpen(ws) || !selects(selector, a.credential ?? { userId: selector.userId })) continue;
    attachments.set(ws, { ...a, streams: [] });
    send(ws, errorFrame(`access revoked: ${reason}`));
    closeQuietly(ws, 1008, reason);
    closed += 1;
  }
  const env = tallies.get(ctx)?.env;
  if (closed > 0 && env) {
    reportSockets(ctx, env);
    ctx.waitUntil(syncNotificationListener(ctx, env));
  }
  return closed;
}

// ---- metrics: open trade sockets and frames sent (docs/observability.md) ---------------
// Reported to the metrics object when a socket opens or closes: the number open (absolute,
// so a repeated or lost report heals with the next) and the frames sent since the last
// report. Frames sent while sockets stay open are reported FRAME_REPORT_MS after the first
// of them, in one call. Never awaited by a command: an order's trade update only counts a
// frame in memory. One report in flight per object, the latest state sent after it.

const FRAME_REPORT_MS = 5_000;

interface Tally {
  env: Env;
  frames: number;
  sending: boolean;
  again: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}
const tallies = new WeakMap<DurableObjectState, Tally>();

function tallyOf(ctx: DurableObjectState, env: Env): Tally {
  let tally = tallies.get(ctx);
  if (!tally) tallies.set(ctx, (tally = { env, frames: 0, sending: false, again: false, timer: null }));
  return tally;
}

function countFrames(ctx: DurableObjectState, env: Env, frames: number): void {
  const tally = tallyOf(ctx, env);
  tally.frames += frames;
  tally.timer ??= setTimeout(() => {
    tally.timer = null;
    reportSockets(ctx, tally.env);
  }, FRAME_REPORT_MS);
}

/** Reports the open sockets (not counting `closing`) and the frames not yet reported. */
function reportSockets(ctx: DurableObjectState, env: Env, closing?: WebSocket): void {
  const tally = tallyOf(ctx, env);
  if (tally.sending) {
    tally.again = true;
    return;
  }
  tally.sending = true;
  const frames = tally.frames;
  tally.frames = 0;
  const open = ctx.getWebSockets().filter((ws) => ws !== closing && isOpen(ws)).length;
  const account = objectName(ctx) ?? ctx.id.toString();
  ctx.waitUntil(
    env.METRICS.getByName(METRICS_STORE)
      .reportAccount(account, open, frames)
      .catch((error: unknown) => {
        tally.frames += frames;
        log("warn", "could not report trade sockets to the metrics object", { account, error: String(error) });
      })
      .finally(() => {
        tally.sending = false;
        if (tally.again) {
          tally.again = false;
          reportSockets(ctx, env);
        }
      }),
  );
}

// ---- the user's market-data sockets ---------------------------------------------------
// One storage key per open socket (`market-socket:<socket id>` → hub name), so admitting
// and releasing write one small value however many sockets are open. A hub releases a
// socket when it closes; a socket that closed without the hub hearing of it (a hub reset)
// is found out when the user reaches the limit: the account then asks the hubs which of
// its leased sockets are still open before refusing.

const LEASE_PREFIX = "market-socket:";
const leaseCache = new WeakMap<DurableObjectState, Map<string, string>>();

function leasesOf(ctx: DurableObjectState): Map<string, string> {
  let leases = leaseCache.get(ctx);
  if (!leases) {
    leases = new Map([...ctx.storage.kv.list<string>({ prefix: LEASE_PREFIX })].map(([key, hub]) => [key.slice(LEASE_PREFIX.length), hub]));
    leaseCache.set(ctx, leases);
  }
  return leases;
}

/** Admits a market-data socket of this user on `hub` unless the user is at the limit. */
export async function admitMarketSocket(ctx: DurableObjectState, env: Env, socketId: string, hub: string): Promise<{ admitted: boolean }> {
  const limit = liveSocketLimits(env).connectionsPerUser;
  if (leasesOf(ctx).size >= limit) await forgetClosedSockets(ctx, env);
  // Decide and record without an await in between: concurrent admissions see each other.
  const leases = leasesOf(ctx);
  if (leases.size >= limit) return { admitted: false };
  leases.set(socketId, hub);
  ctx.storage.kv.put(LEASE_PREFIX + socketId, hub);
  return { admitted: true };
}

export function releaseMarketSockets(ctx: DurableObjectState, socketIds: string[]): void {
  const leases = leasesOf(ctx);
  for (const id of socketIds) {
    if (leases.delete(id)) ctx.storage.kv.delete(LEASE_PREFIX + id);
  }
}

async function forgetClosedSockets(ctx: DurableObjectState, env: Env): Promise<void> {
  const byHub = new Map<string, string[]>();
  for (const [id, hub] of leasesOf(ctx)) byHub.set(hub, [...(byHub.get(hub) ?? []), id]);
  await Promise.all(
    [...byHub].map(async ([hub, ids]) => {
      try {
        const open = new Set(await env.STREAM_HUB.getByName(hub).openSockets(ids));
        releaseMarketSockets(
          ctx,
          ids.filter((id) => !open.has(id)),
        );
      } catch (error) {
        // Unknown: keep the leases (refusing a socket beats exceeding the limit).
        log("warn", "could not check a hub's sockets", { hub, error: String(error) });
      }
    }),
  );
}
