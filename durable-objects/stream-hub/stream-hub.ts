import { decode, encode } from "@msgpack/msgpack";
import { DurableObject } from "cloudflare:workers";
import { ClientMessage, ERRORS, errorMessage, subscriptionMessage, type ControlMessage, type SocketKind, type StreamKind } from "../../shared/stream/protocol";
import type { MarketEvent } from "../../shared/market/types";
import { changeSubscriptions, namedSymbols, registrationChanges, streamKindOf, streamKinds, SubscriptionIndex, type Listener } from "../../shared/stream/subscriptions";
import type { AssetClass } from "../../shared/market/instrument";
import { activeSymbols } from "../../platform/assets";
import { fromAccessToken, fromApiKey } from "../../platform/credentials";
import { logger } from "../../platform/log";
import { acceptSocket, closeQuietly, isWebSocketUpgrade, parseFrame, SocketAttachments, upgradeRequired } from "../../platform/socket";
import { objectName } from "../name";

const log = logger("stream-hub");

interface Attachment extends Listener {
  id: string;
  encoding: "json" | "msgpack";
  userId: string | null;
  connectedAt: number;
}

const AUTH_TIMEOUT_MS = 10_000;
const MAX_SYMBOLS_PER_CONNECTION = 2_000;
// A subscribe naming the limit's worth of symbols on every channel fits well inside this.
const MAX_FRAME_BYTES = 256 * 1024;

/**
 * Holds client market-data WebSockets (hibernatable) and their subscriptions. Clients are
 * spread over several hubs; each symbol object publishes a tick once per interested hub,
 * and the hub fans it out to its own sockets. So a hot symbol costs its object one call
 * per hub, not one send per subscriber, and capacity grows with the number of hubs.
 */
export class StreamHub extends DurableObject<Env> {
  readonly #name: string | undefined;
  readonly #attachments = new SocketAttachments<Attachment>();
  // Rebuilt from the attachments after hibernation.
  readonly #index = new SubscriptionIndex<WebSocket>();
  #reconciling: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#name = objectName(ctx);
    for (const ws of ctx.getWebSockets()) {
      const a = this.#attachments.get(ws);
      if (a) this.#index.set(ws, a);
    }
  }

  override async fetch(request: Request): Promise<Response> {
    if (!isWebSocketUpgrade(request)) return upgradeRequired();
    const requested = request.headers.get("x-redfire-stream");
    const kind: SocketKind = requested === "crypto" || requested === "all" ? requested : "stocks";
    const encoding = /application\/msgpack/i.test(request.headers.get("content-type") ?? "") ? "msgpack" : "json";
    const userId = request.headers.get("x-redfire-user");
    const attachment: Attachment = { id: crypto.randomUUID(), kind, encoding, userId, connectedAt: Date.now(), subs: {} };
    const { socket, response } = acceptSocket(this.ctx, this.#attachments, attachment);
    this.#send(socket, attachment, [{ T: "success", msg: "connected" }]);
    if (userId) this.#send(socket, attachment, [{ T: "success", msg: "authenticated" }]);
    else await this.#armAuthTimeout();
    return response;
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a) return;
    const frame = parseFrame(data, { maxBytes: MAX_FRAME_BYTES, decodeBinary: (bytes) => decode(bytes) });
    if (!frame.ok) return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax, frame.error)]);
    const parsed = ClientMessage.safeParse(frame.value);
    if (!parsed.success) return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax)]);
    const message = parsed.data;
    if (message.action === "auth") return this.#authenticate(ws, a, message);
    if (!a.userId) return this.#send(ws, a, [errorMessage(ERRORS.notAuthenticated)]);
    await this.#changeSubscriptions(ws, message.action, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.#drop(ws);
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#drop(ws);
  }

  /**
   * Called by a symbol's object for every batch of market data. Answers whether this hub
   * still wants the symbol, so a stale registration heals itself.
   */
  publish(kind: StreamKind, symbol: string, events: MarketEvent[]): { wanted: boolean } {
    if (!this.#index.wants(kind, symbol)) {
      // The symbol will forget this hub; forget the registration too so a later
      // subscriber registers afresh.
      const key = `registered:${kind}`;
      this.ctx.storage.kv.put(key, (this.ctx.storage.kv.get<string[]>(key) ?? []).filter((s) => s !== symbol));
      return { wanted: false };
    }
    // Encode each distinct (encoding, events) group once, however many sockets get it.
    const frames = new Map<string, string | Uint8Array>();
    for (const [ws, indices] of this.#index.route(kind, symbol, events.map((e) => e.channel))) {
      const encoding = this.#attachments.get(ws)?.encoding;
      if (!encoding) continue;
      const key = `${encoding}:${indices.join(",")}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = encodeFrame(encoding, indices.map((i) => ({ ...events[i]!.msg, S: symbol })));
        frames.set(key, frame);
      }
      try {
        ws.send(frame);
      } catch {
        // A socket closing under us is dropped by its close event.
      }
    }
    return { wanted: true };
  }

  /** Number of open client sockets and subscriptions, for metrics and tests. */
  stats(): { sockets: number; authenticated: number; keys: number } {
    const sockets = this.ctx.getWebSockets();
    return { sockets: sockets.length, authenticated: sockets.filter((ws) => this.#attachments.get(ws)?.userId).length, keys: this.#index.keyCount };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    let pending = false;
    for (const ws of this.ctx.getWebSockets()) {
      const a = this.#attachments.get(ws);
      if (!a || a.userId) continue;
      if (now - a.connectedAt >= AUTH_TIMEOUT_MS) {
        this.#send(ws, a, [errorMessage(ERRORS.authTimeout)]);
        closeQuietly(ws, 1008, "auth timeout");
      } else pending = true;
    }
    if (pending) await this.ctx.storage.setAlarm(now + 1000);
  }

  async #armAuthTimeout(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + AUTH_TIMEOUT_MS);
  }

  async #authenticate(ws: WebSocket, a: Attachment, m: Extract<ClientMessage, { action: "auth" }>): Promise<void> {
    if (a.userId) return this.#send(ws, a, [errorMessage(ERRORS.alreadyAuthenticated)]);
    const outcome = m.token ? await fromAccessToken(this.env, m.token) : await fromApiKey(this.env, m.key ?? "", m.secret ?? "", this.ctx);
    if (typeof outcome === "string") {
      this.#send(ws, a, [errorMessage(ERRORS.authFailed)]);
      closeQuietly(ws, 1008, "auth failed");
      return;
    }
    // Re-read after the await: every write replaces the attachment.
    const current = this.#attachments.get(ws) ?? a;
    const next = { ...current, userId: outcome.userId };
    this.#attachments.set(ws, next);
    this.#send(ws, next, [{ T: "success", msg: "authenticated" }]);
  }

  async #changeSubscriptions(ws: WebSocket, action: "subscribe" | "unsubscribe", message: Record<string, unknown>): Promise<void> {
    let registry = await activeSymbols(this.env);
    // Symbols added since the registry was cached: read it again before calling them unknown.
    if (namedSymbols(message).some((s) => !registry.has(s))) registry = await activeSymbols(this.env, { fresh: true });
    // Re-read after the await: another message on this socket may have changed it.
    const a = this.#attachments.get(ws);
    if (!a) return;
    const classOf = (symbol: string): StreamKind | undefined => {
      const row = registry.get(symbol);
      return row && streamKindOf(row.assetClass);
    };
    const change = changeSubscriptions(a, action, message, classOf, MAX_SYMBOLS_PER_CONNECTION);
    if (!change.ok) return this.#send(ws, a, change.errors);
    const next: Attachment = { ...a, ...change.listener };
    this.#attachments.set(ws, next);
    this.#index.set(ws, next);
    // Echo only once the symbols know about this hub: from the echo on, data flows.
    await Promise.all(streamKinds(next.kind).map((k) => this.#reconcile(k)));
    this.#send(ws, next, [...change.errors, subscriptionMessage(next.kind, next.subs)]);
  }

  async #drop(ws: WebSocket): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a) return;
    this.#index.delete(ws);
    this.#attachments.set(ws, { ...a, subs: {} });
    await Promise.all(streamKinds(a.kind).map((k) => this.#reconcile(k)));
  }

  // Tell symbol objects which hubs want them. Reconciliations run one at a time and
  // compare what subscribers need now with what was registered (kept in storage, so it
  // survives hibernation), so interleaved subscribes and closes cannot leave a symbol
  // unregistered while someone here still wants it.
  #reconcile(kind: StreamKind): Promise<void> {
    this.#reconciling = this.#reconciling.then(() => this.#reconcileNow(kind)).catch((error: unknown) => log("warn", "hub registration failed", { hub: this.#name, error: String(error) }));
    return this.#reconciling;
  }

  async #reconcileNow(kind: StreamKind): Promise<void> {
    const hub = this.#name;
    if (hub === undefined) {
      log("warn", "hub has no name; cannot register with symbols", { kind });
      return;
    }
    const needed = this.#index.neededSymbols(kind);
    // "*" means every symbol of the kind as of now, not as of the cached registry.
    const wanted = needed.has("*") ? symbolsOfKind(await activeSymbols(this.env, { fresh: true }), kind) : needed;
    const key = `registered:${kind}`;
    const { attach, detach } = registrationChanges(wanted, new Set(this.ctx.storage.kv.get<string[]>(key) ?? []));
    await Promise.all([...attach.map((s) => this.env.MARKET.getByName(s).attachHub(hub)), ...detach.map((s) => this.env.MARKET.getByName(s).detachHub(hub))]);
    this.ctx.storage.kv.put(key, [...wanted]);
  }

  #send(ws: WebSocket, a: Pick<Attachment, "encoding">, messages: ControlMessage[]): void {
    try {
      ws.send(encodeFrame(a.encoding, messages));
    } catch {
      // Closed meanwhile.
    }
  }
}

const symbolsOfKind = (registry: ReadonlyMap<string, { assetClass: AssetClass }>, kind: StreamKind): Set<string> =>
  new Set([...registry].filter(([, row]) => streamKindOf(row.assetClass) === kind).map(([symbol]) => symbol));

// Every server frame is an array (Alpaca's framing), JSON text or msgpack binary.
function encodeFrame(encoding: "json" | "msgpack", messages: readonly object[]): string | Uint8Array {
  // encode() returns a view into a shared scratch buffer: copy it out before sending.
  return encoding === "msgpack" ? encode(messages).slice() : JSON.stringify(messages);
}
