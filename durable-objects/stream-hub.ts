import { decode, encode } from "@msgpack/msgpack";
import { DurableObject } from "cloudflare:workers";
import {
  ALL_CHANNELS,
  addSubscriptions,
  ClientMessage,
  ERRORS,
  errorMessage,
  removeSubscriptions,
  subscriptionMessage,
  symbolCount,
  channelsOf,
  type Channel,
  type ControlMessage,
  type SocketKind,
  type StreamKind,
  type Subscriptions,
} from "../shared/stream-protocol";
import { fromAccessToken, fromApiKey } from "../platform/credentials";
import { logger } from "../platform/log";

const log = logger("stream-hub");

/** One market-data message bound for the subscribers of (channel, symbol). */
export interface MarketEvent {
  channel: Channel;
  msg: Record<string, unknown>;
}

interface Attachment {
  id: string;
  kind: SocketKind;
  encoding: "json" | "msgpack";
  userId: string | null;
  connectedAt: number;
  subs: Subscriptions;
  /** On an "all" socket: each subscribed symbol's asset class, so the index can be rebuilt without a lookup. */
  classes?: Record<string, StreamKind>;
}

const KINDS: readonly StreamKind[] = ["stocks", "crypto"];
/** The asset classes a socket's subscription to `symbol` reads from. */
const kindsOf = (a: Pick<Attachment, "kind" | "classes">, symbol: string): readonly StreamKind[] =>
  a.kind !== "all" ? [a.kind] : symbol === "*" ? KINDS : a.classes?.[symbol] ? [a.classes[symbol]] : [];
const streamKinds = (kind: SocketKind): readonly StreamKind[] => (kind === "all" ? KINDS : [kind]);

const AUTH_TIMEOUT_MS = 10_000;
const MAX_SYMBOLS_PER_CONNECTION = 2_000;
const REGISTRY_TTL_MS = 30_000;

/**
 * Holds client market-data WebSockets (hibernatable) and their subscriptions. Clients are
 * spread over several hubs; each symbol object publishes a tick once per interested hub,
 * and the hub fans it out to its own sockets. So a hot symbol costs its object one call
 * per hub, not one send per subscriber, and capacity grows with the number of hubs.
 */
export class StreamHub extends DurableObject<Env> {
  // `${kind}|${channel}|${symbol}` → sockets. Rebuilt from attachments after hibernation.
  #index = new Map<string, Set<WebSocket>>();
  #registry: { at: number; symbols: Map<string, StreamKind> } | undefined;
  #reconciling: Promise<void> = Promise.resolve();
  // The hot path (every tick × every subscriber) needs only the encoding; reading it from
  // the attachment each time would deserialise it per send.
  #encodings = new WeakMap<WebSocket, Attachment["encoding"]>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    for (const ws of ctx.getWebSockets()) {
      const a = attachmentOf(ws);
      if (a) this.#indexSubs(ws, a, a.subs, true);
    }
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const hub = request.headers.get("x-redfire-hub");
    if (hub) this.ctx.storage.kv.put("name", hub);
    const requested = request.headers.get("x-redfire-stream");
    const kind: SocketKind = requested === "crypto" || requested === "all" ? requested : "stocks";
    const encoding = /application\/msgpack/i.test(request.headers.get("content-type") ?? "") ? "msgpack" : "json";
    const userId = request.headers.get("x-redfire-user");
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    const attachment: Attachment = { id: crypto.randomUUID(), kind, encoding, userId, connectedAt: Date.now(), subs: {} };
    server.serializeAttachment(attachment);
    this.#send(server, attachment, [{ T: "success", msg: "connected" }]);
    if (userId) this.#send(server, attachment, [{ T: "success", msg: "authenticated" }]);
    else await this.#armAuthTimeout();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const a = attachmentOf(ws);
    if (!a) return;
    let raw: unknown;
    try {
      raw = typeof data === "string" ? JSON.parse(data) : decode(new Uint8Array(data));
    } catch {
      return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax)]);
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax)]);
    const message = parsed.data;
    if (message.action === "auth") return this.#authenticate(ws, a, message);
    if (!a.userId) return this.#send(ws, a, [errorMessage(ERRORS.notAuthenticated)]);
    await this.#changeSubscriptions(ws, message.action, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.#drop(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#drop(ws);
  }

  /**
   * Called by a symbol's object for every batch of market data. Answers whether this hub
   * still wants the symbol, so a stale registration heals itself.
   */
  publish(kind: StreamKind, symbol: string, events: MarketEvent[]): { wanted: boolean } {
    if (!this.#wants(kind, symbol)) {
      // The symbol will forget this hub; forget the registration too so a later
      // subscriber registers afresh.
      const key = `registered:${kind}`;
      this.ctx.storage.kv.put(key, (this.ctx.storage.kv.get<string[]>(key) ?? []).filter((s) => s !== symbol));
      return { wanted: false };
    }
    // Group the messages per socket, then encode each distinct group once.
    const perSocket = new Map<WebSocket, number[]>();
    events.forEach((event, i) => {
      for (const key of [`${kind}|${event.channel}|${symbol}`, `${kind}|${event.channel}|*`]) {
        for (const ws of this.#index.get(key) ?? []) {
          const list = perSocket.get(ws);
          if (!list) perSocket.set(ws, [i]);
          else if (list[list.length - 1] !== i) list.push(i);
        }
      }
    });
    const frames = new Map<string, string | Uint8Array>();
    for (const [ws, indices] of perSocket) {
      const encoding = this.#encodingOf(ws);
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

  #encodingOf(ws: WebSocket): Attachment["encoding"] | undefined {
    let encoding = this.#encodings.get(ws);
    if (!encoding) {
      encoding = attachmentOf(ws)?.encoding;
      if (encoding) this.#encodings.set(ws, encoding);
    }
    return encoding;
  }

  /** Number of open client sockets and subscriptions, for metrics and tests. */
  stats(): { sockets: number; authenticated: number; keys: number } {
    const sockets = this.ctx.getWebSockets();
    return { sockets: sockets.length, authenticated: sockets.filter((ws) => attachmentOf(ws)?.userId).length, keys: this.#index.size };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    let pending = false;
    for (const ws of this.ctx.getWebSockets()) {
      const a = attachmentOf(ws);
      if (!a || a.userId) continue;
      if (now - a.connectedAt >= AUTH_TIMEOUT_MS) {
        this.#send(ws, a, [errorMessage(ERRORS.authTimeout)]);
        ws.close(1008, "auth timeout");
      } else pending = true;
    }
    if (pending) await this.ctx.storage.setAlarm(now + 1000);
  }

  async #armAuthTimeout(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + AUTH_TIMEOUT_MS);
  }

  async #authenticate(ws: WebSocket, a: Attachment, m: Extract<ClientMessage, { action: "auth" }>): Promise<void> {
    if (a.userId) return this.#send(ws, a, [errorMessage(ERRORS.alreadyAuthenticated)]);
    const outcome = m.token
      ? await fromAccessToken(this.env, m.token)
      : await fromApiKey(this.env, m.key ?? "", m.secret ?? "", this.ctx);
    if (typeof outcome === "string") {
      this.#send(ws, a, [errorMessage(ERRORS.authFailed)]);
      ws.close(1008, "auth failed");
      return;
    }
    a.userId = outcome.userId;
    ws.serializeAttachment(a);
    this.#send(ws, a, [{ T: "success", msg: "authenticated" }]);
  }

  async #changeSubscriptions(ws: WebSocket, action: "subscribe" | "unsubscribe", message: Record<string, unknown>): Promise<void> {
    const registry = await this.#symbols();
    // Symbols added since the registry was cached: look them up before calling them unknown.
    const named = ALL_CHANNELS.flatMap((c) => (Array.isArray(message[c]) ? (message[c] as unknown[]) : [])).filter((s): s is string => typeof s === "string" && s !== "*");
    const missing = [...new Set(named.map((s) => s.toUpperCase()).filter((s) => !registry.has(s)))].slice(0, 90);
    if (missing.length > 0) {
      const { results } = await this.env.DB.prepare(`SELECT symbol, class FROM assets WHERE status = 'active' AND symbol IN (${missing.map(() => "?").join(",")})`)
        .bind(...missing)
        .all<{ symbol: string; class: string }>();
      for (const r of results) registry.set(r.symbol, r.class === "crypto" ? "crypto" : "stocks");
    }
    // Re-read after the await: another message on this socket may have changed it.
    const a = attachmentOf(ws);
    if (!a) return;
    const requested = pickChannels(message, a.kind);
    const errors: ControlMessage[] = [];
    const classes = { ...a.classes };
    if (action === "subscribe") {
      for (const [channel, symbols] of Object.entries(requested) as [Channel, string[]][]) {
        requested[channel] = symbols.filter((s) => {
          const kind = registry.get(s.toUpperCase());
          // A channel only one class has (orderbooks, statuses…) takes only that class's symbols.
          if (s === "*" || (kind && (a.kind === "all" ? channelsOf(kind).includes(channel) : kind === a.kind))) {
            if (kind && a.kind === "all") classes[s.toUpperCase()] = kind;
            return true;
          }
          errors.push(errorMessage(ERRORS.invalidSyntax, `unknown symbol ${s}`));
          return false;
        });
      }
    }
    const next = action === "subscribe" ? addSubscriptions(a.subs, requested) : removeSubscriptions(a.subs, requested);
    if (symbolCount(next) > MAX_SYMBOLS_PER_CONNECTION) return this.#send(ws, a, [...errors, errorMessage(ERRORS.symbolLimit)]);
    this.#indexSubs(ws, a, a.subs, false);
    a.subs = next;
    if (a.kind === "all") a.classes = classes;
    ws.serializeAttachment(a);
    this.#indexSubs(ws, a, next, true);
    // Echo only once the symbols know about this hub: from the echo on, data flows.
    await Promise.all(streamKinds(a.kind).map((k) => this.#reconcile(k)));
    this.#send(ws, a, [...errors, subscriptionMessage(a.kind, next)]);
  }

  async #drop(ws: WebSocket): Promise<void> {
    const a = attachmentOf(ws);
    if (!a) return;
    this.#indexSubs(ws, a, a.subs, false);
    ws.serializeAttachment({ ...a, subs: {} });
    await Promise.all(streamKinds(a.kind).map((k) => this.#reconcile(k)));
  }

  #indexSubs(ws: WebSocket, a: Pick<Attachment, "kind" | "classes">, subs: Subscriptions, add: boolean): void {
    for (const [channel, symbols] of Object.entries(subs) as [Channel, string[]][]) {
      for (const symbol of symbols) {
        for (const kind of kindsOf(a, symbol)) {
          if (!channelsOf(kind).includes(channel)) continue;
          const key = `${kind}|${channel}|${symbol}`;
          const set = this.#index.get(key) ?? new Set<WebSocket>();
          if (add) set.add(ws);
          else set.delete(ws);
          if (set.size > 0) this.#index.set(key, set);
          else this.#index.delete(key);
        }
      }
    }
  }

  #wants(kind: StreamKind, symbol: string): boolean {
    return channelsOf(kind).some((c) => this.#index.has(`${kind}|${c}|${symbol}`) || this.#index.has(`${kind}|${c}|*`));
  }

  /** Symbols this hub needs data for, "*" meaning every symbol of the kind. */
  #neededSymbols(kind: StreamKind): Set<string> {
    const needed = new Set<string>();
    for (const key of this.#index.keys()) {
      const [k, , symbol] = key.split("|");
      if (k === kind && symbol) needed.add(symbol);
    }
    return needed;
  }

  // Tell symbol objects which hubs want them. Reconciliations run one at a time and
  // compare what subscribers need now with what was registered (kept in storage, so it
  // survives hibernation), so interleaved subscribes and closes cannot leave a symbol
  // unregistered while someone here still wants it.
  #reconcile(kind: StreamKind): Promise<void> {
    this.#reconciling = this.#reconciling.then(() => this.#reconcileNow(kind)).catch((error: unknown) => log("warn", "hub registration failed", { error: String(error) }));
    return this.#reconciling;
  }

  async #reconcileNow(kind: StreamKind): Promise<void> {
    const needed = this.#neededSymbols(kind);
    // "*" means every symbol of the kind as of now, not as of the cached registry.
    if (needed.has("*")) this.#registry = undefined;
    const wanted = needed.has("*") ? new Set([...(await this.#symbols())].filter(([, k]) => k === kind).map(([s]) => s)) : needed;
    const key = `registered:${kind}`;
    const registered = new Set(this.ctx.storage.kv.get<string[]>(key) ?? []);
    const hub = this.ctx.storage.kv.get<string>("name") ?? "hub-0";
    const attach = [...wanted].filter((s) => !registered.has(s));
    const detach = [...registered].filter((s) => !wanted.has(s));
    await Promise.all([...attach.map((s) => this.env.MARKET.getByName(s).attachHub(hub)), ...detach.map((s) => this.env.MARKET.getByName(s).detachHub(hub))]);
    this.ctx.storage.kv.put(key, [...wanted]);
  }

  async #symbols(): Promise<Map<string, StreamKind>> {
    if (this.#registry && Date.now() - this.#registry.at < REGISTRY_TTL_MS) return this.#registry.symbols;
    const { results } = await this.env.DB.prepare("SELECT symbol, class FROM assets WHERE status = 'active'").all<{ symbol: string; class: string }>();
    const symbols = new Map(results.map((r) => [r.symbol, r.class === "crypto" ? ("crypto" as const) : ("stocks" as const)]));
    this.#registry = { at: Date.now(), symbols };
    return symbols;
  }

  #send(ws: WebSocket, a: Attachment, messages: ControlMessage[]): void {
    try {
      ws.send(encodeFrame(a.encoding, messages));
    } catch {
      // Closed meanwhile.
    }
  }
}

function attachmentOf(ws: WebSocket): Attachment | undefined {
  return (ws.deserializeAttachment() as Attachment | null) ?? undefined;
}

// Every server frame is an array (Alpaca's framing), JSON text or msgpack binary.
function encodeFrame(encoding: "json" | "msgpack", messages: readonly object[]): string | Uint8Array {
  // encode() returns a view into a shared scratch buffer: copy it out before sending.
  return encoding === "msgpack" ? encode(messages).slice() : JSON.stringify(messages);
}

function pickChannels(message: Record<string, unknown>, kind: SocketKind): Subscriptions {
  const picked: Subscriptions = {};
  for (const channel of channelsOf(kind)) {
    const value = message[channel];
    if (Array.isArray(value)) picked[channel] = value.filter((v): v is string => typeof v === "string");
  }
  return picked;
}
