import type { SocketCredential } from "../shared/stream/access";

// Hibernatable WebSockets for Durable Objects: accepting the upgrade, a typed attachment,
// parsing client frames and closing. Every object that owns client sockets uses these, so
// close codes, size limits and attachment handling are the same everywhere.

export const isWebSocketUpgrade = (request: Request): boolean => request.headers.get("upgrade")?.toLowerCase() === "websocket";

/** The answer to a plain HTTP request at a WebSocket endpoint. */
export const upgradeRequired = (message = "expected a WebSocket upgrade"): Response =>
  new Response(message, { status: 426, headers: { Upgrade: "websocket" } });

/**
 * A socket's attachment, typed and cached. The attachment survives hibernation, but
 * `deserializeAttachment()` parses it on every call; the hot path (every message, every
 * broadcast) reads it from a per-instance cache instead. The cache dies with the instance,
 * so after hibernation the first read parses once more. Writes go through to the socket.
 */
export class SocketAttachments<A extends object> {
  #cache = new WeakMap<WebSocket, Readonly<A>>();

  get(ws: WebSocket): Readonly<A> | undefined {
    const cached = this.#cache.get(ws);
    if (cached) return cached;
    const stored = ws.deserializeAttachment() as A | null;
    if (stored === null || stored === undefined) return undefined;
    this.#cache.set(ws, stored);
    return stored;
  }

  /** Replaces the attachment; pass a new object rather than mutating the one `get` returned. */
  set(ws: WebSocket, attachment: A): void {
    ws.serializeAttachment(attachment);
    this.#cache.set(ws, attachment);
  }
}

/**
 * Accepts a hibernatable WebSocket with its first attachment. The caller may send on
 * `socket` at once and must return `response` from `fetch()`.
 */
export function acceptSocket<A extends object>(
  ctx: DurableObjectState,
  attachments: SocketAttachments<A>,
  attachment: A,
  tags?: string[],
): { socket: WebSocket; response: Response } {
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  ctx.acceptWebSocket(server, tags);
  attachments.set(server, attachment);
  return { socket: server, response: new Response(null, { status: 101, webSocket: client }) };
}

export type Frame = { ok: true; value: unknown } | { ok: false; error: string };

export interface FrameOptions {
  /** Largest frame accepted, in bytes (UTF-8 for text). */
  maxBytes: number;
  /** How a binary frame becomes a value; by default its bytes are UTF-8 JSON. */
  decodeBinary?: (bytes: Uint8Array) => unknown;
}

const utf8Length = (text: string): number => new TextEncoder().encode(text).byteLength;

/**
 * A client frame as a value, or why it is refused. Local workerd does not enforce
 * production message limits, so the size is checked here before anything is parsed.
 */
export function parseFrame(data: string | ArrayBuffer, options: FrameOptions): Frame {
  // A character takes at most 3 UTF-8 bytes: count them only when the length alone cannot decide.
  const bytes = typeof data !== "string" ? data.byteLength : data.length > options.maxBytes || data.length * 3 <= options.maxBytes ? data.length : utf8Length(data);
  if (bytes > options.maxBytes) return { ok: false, error: `frame of ${bytes} bytes is over the ${options.maxBytes}-byte limit` };
  try {
    if (typeof data === "string") return { ok: true, value: JSON.parse(data) };
    const view = new Uint8Array(data);
    return { ok: true, value: options.decodeBinary ? options.decodeBinary(view) : JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(view)) };
  } catch (error) {
    return { ok: false, error: `frame is not valid ${typeof data === "string" || !options.decodeBinary ? "JSON" : "binary data"}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

// 1005 (no status), 1006 (abnormal closure) and 1015 (TLS failure) are reported by the
// runtime but may not be sent: close() throws on them, as on anything outside 1000–4999.
const RESERVED = new Set([1004, 1005, 1006, 1015]);
const MAX_REASON_BYTES = 123;

/** The code to send for `code`: reserved and out-of-range codes become 1000. */
export const sendableCloseCode = (code: number): number =>
  Number.isInteger(code) && code >= 1000 && code <= 4999 && !RESERVED.has(code) && !(code > 1015 && code < 3000) ? code : 1000;

/** Closes a socket; never throws (the peer may have gone, or the socket be closed already). */
export function closeQuietly(ws: WebSocket, code = 1000, reason = ""): void {
  let text = reason;
  while (utf8Length(text) > MAX_REASON_BYTES) text = text.slice(0, -1);
  try {
    ws.close(sendableCloseCode(code), text);
  } catch {
    // Already closed or closing: nothing left to do.
  }
}

// The gateway tells a socket's object who authenticated the upgrade in these headers. A
// client may send headers of any name, so every x-redfire-* header it sent is dropped first.
const INTERNAL_PREFIX = "x-redfire-";
const CREDENTIAL_HEADERS = { userId: "x-redfire-socket-user", sessionId: "x-redfire-socket-session", keyId: "x-redfire-socket-key" } as const;

/** A client's headers without any x-redfire-* header, plus `extra` and the credential (if any). */
export function internalHeaders(client: Headers, credential: SocketCredential | undefined, extra: Record<string, string> = {}): Headers {
  const headers = new Headers();
  for (const [name, value] of client) if (!name.toLowerCase().startsWith(INTERNAL_PREFIX)) headers.append(name, value);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  if (credential) for (const [field, name] of Object.entries(CREDENTIAL_HEADERS)) {
    const value = credential[field as keyof SocketCredential];
    if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** The credential the gateway put in an upgrade's headers, if it authenticated one. */
export function credentialFrom(headers: Headers): SocketCredential | undefined {
  const userId = headers.get(CREDENTIAL_HEADERS.userId);
  if (!userId) return undefined;
  const sessionId = headers.get(CREDENTIAL_HEADERS.sessionId) ?? undefined;
  const keyId = headers.get(CREDENTIAL_HEADERS.keyId) ?? undefined;
  return { userId, ...(sessionId && { sessionId }), ...(keyId && { keyId }) };
}
