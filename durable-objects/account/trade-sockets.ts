import type { TradeUpdate } from "../../shared/trading/stream";

// The account object's side of Alpaca's trading stream (alpaca-compat.md §6): hibernatable
// sockets whose attachment says which streams they listen to. A socket reaches the object
// already authenticated (by the gateway, at the handshake or in-band).

interface Listening {
  streams: string[];
}

const send = (ws: WebSocket, message: unknown) => ws.send(JSON.stringify(message));

/** Accepts an upgrade onto the object's hibernatable sockets. */
export function acceptTradeSocket(ctx: DurableObjectState, request: Request): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  ctx.acceptWebSocket(server);
  server.serializeAttachment({ streams: [] } satisfies Listening);
  return new Response(null, { status: 101, webSocket: client });
}

/** `authenticate` (already done) and `listen`, whose list replaces the previous one. */
export function onTradeSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
  let message: { action?: unknown; data?: { streams?: unknown } };
  try {
    message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data)) as typeof message;
  } catch {
    return send(ws, { stream: "error", data: { error: "invalid JSON" } });
  }
  if (message.action === "authenticate") return send(ws, { stream: "authorization", data: { status: "authorized", action: "authenticate" } });
  if (message.action === "listen") {
    const wanted = Array.isArray(message.data?.streams) ? message.data.streams.filter((s): s is string => s === "trade_updates") : [];
    ws.serializeAttachment({ streams: wanted } satisfies Listening);
    return send(ws, { stream: "listening", data: { streams: wanted } });
  }
  send(ws, { stream: "error", data: { error: `unknown action ${JSON.stringify(message.action ?? null)}` } });
}

export function onTradeSocketClose(ws: WebSocket, code: number): void {
  try {
    ws.close(code === 1005 ? 1000 : code, "closing");
  } catch {
    // already closed
  }
}

/** Sends an update to every socket listening to trade_updates. */
export function broadcastTradeUpdate(ctx: DurableObjectState, update: TradeUpdate): void {
  const text = JSON.stringify(update);
  for (const ws of ctx.getWebSockets()) {
    const a = ws.deserializeAttachment() as Listening | null;
    if (!a?.streams?.includes("trade_updates")) continue;
    try {
      ws.send(text);
    } catch {
      // a closing socket; its close handler cleans up
    }
  }
}
