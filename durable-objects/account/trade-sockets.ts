import { acceptSocket, closeQuietly, isWebSocketUpgrade, parseFrame, SocketAttachments, upgradeRequired } from "../../platform/socket";
import type { TradeUpdate } from "../../shared/trading/stream";

// The account object's side of Alpaca's trading stream (docs/alpaca-compat.md §6):
// hibernatable sockets whose attachment says which streams they listen to. A socket
// reaches the object already authenticated (by the gateway, at the handshake or in-band).

interface Listening {
  streams: string[];
}

// Control frames are a few dozen bytes; anything much larger is not Alpaca's protocol.
const MAX_FRAME_BYTES = 16 * 1024;
const attachments = new SocketAttachments<Listening>();
const send = (ws: WebSocket, message: unknown) => ws.send(JSON.stringify(message));

/** Accepts an upgrade onto the object's hibernatable sockets. */
export function acceptTradeSocket(ctx: DurableObjectState, request: Request): Response {
  if (!isWebSocketUpgrade(request)) return upgradeRequired();
  return acceptSocket(ctx, attachments, { streams: [] }).response;
}

/** `authenticate` (already done) and `listen`, whose list replaces the previous one. */
export function onTradeSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
  const frame = parseFrame(data, { maxBytes: MAX_FRAME_BYTES });
  if (!frame.ok) return send(ws, { stream: "error", data: { error: frame.error } });
  const message = (typeof frame.value === "object" && frame.value !== null ? frame.value : {}) as { action?: unknown; data?: { streams?: unknown } };
  if (message.action === "authenticate") return send(ws, { stream: "authorization", data: { status: "authorized", action: "authenticate" } });
  if (message.action === "listen") {
    const wanted = Array.isArray(message.data?.streams) ? message.data.streams.filter((s): s is string => s === "trade_updates") : [];
    attachments.set(ws, { streams: wanted });
    return send(ws, { stream: "listening", data: { streams: wanted } });
  }
  send(ws, { stream: "error", data: { error: `unknown action ${JSON.stringify(message.action ?? null).slice(0, 64)}` } });
}

export function onTradeSocketClose(ws: WebSocket, code: number): void {
  closeQuietly(ws, code, "closing");
}

/** Sends an update to every socket listening to trade_updates. */
export function broadcastTradeUpdate(ctx: DurableObjectState, update: TradeUpdate): void {
  const text = JSON.stringify(update);
  for (const ws of ctx.getWebSockets()) {
    if (!attachments.get(ws)?.streams.includes("trade_updates")) continue;
    try {
      ws.send(text);
    } catch {
      // a closing socket; its close handler cleans up
    }
  }
}
