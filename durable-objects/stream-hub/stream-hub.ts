import { decode, encode } from "@msgpack/msgpack";
import { DurableObject } from "cloudflare:workers";
import { credentialOf, mayStream, selects, type SocketCredential, type SocketSelector } from "../../shared/stream/access";
import { MessageBudget } from "../../shared/stream/limits";
import { FrameTurns } from "../../shared/stream/frame-turns";
import type { HubConfig } from "../../shared/config/live";
import { HubConfigSubscriber, liveSocketLimits } from "../config/subscriber";
import { ClientMessage, ERRORS, errorMessage, subscriptionMessage, type ControlMessage, type SocketKind, type StreamKind } from "../../shared/stream/protocol";
import type { MarketEvent } from "../../shared/market/types";
import { orderbookMessage } from "../../shared/market/format";
import { bookSnapshotSymbols, changeSubscriptions, namedSymbols, registrationChanges, STREAM_KINDS, streamKindOf, streamKinds, SubscriptionIndex, type Listener } from "../../shared/stream/subscriptions";
import type { AssetClass } from "../../shared/market/instrument";
import { activeSymbols } from "../../platform/assets";
import { fromAccessToken, fromApiKey } from "../../platform/credentials";
import type { Principal } from "../../shared/principal";
import { logger } from "../../platform/log";
import { acceptSocket, closeQuietly, credentialFrom, isWebSocketUpgrade, parseFrame, SocketAttachments, upgradeRequired } from "../../platform/socket";
import { objectName } from "../name";

const log = logger("stream-hub");

interface Attachment extends Listener {
  id: string;
  encoding: "json" | "msgpack";
  /** Set once authenticated (and admitted under the user's connection limit). */
  userId: string | null;
  /** What authenticated the socket; absent on sockets accepted before it was recorded. */
  credential?: SocketCredential;
  /** The user's account counts this socket until the hub releases it. */
  leased?: boolean;
  /** Revoked, refused or over a limit: closing, and deaf to whatever the client still sends. */
  closed?: boolean;
  connectedAt: number;
}

/** A market-data message as a subscriber receives it (with its symbol in `S`). */
type DataMessage = Record<string, unknown>;

const AUTH_TIMEOUT_MS = 10_000;
/** Frames a client may send behind its auth before the answer (the trade stream's bound). */
const MAX_HELD_FRAMES = 16;
/**
 * How long a frame from a socket that has sent no auth yet waits for one before it is
 * answered 401: the local runtime was seen to hand the hub a subscribe sent right behind
 * the auth before the auth itself (the first message of a socket, now and then), which
 * answered a correct client "not authenticated".
 */
const EARLY_GRACE_MS = 250;
/** A socket's frames (FrameTurns) and, while frames from before any auth are set aside, the timer of their grace. */
interface SocketTurns {
  frames: FrameTurns<string | ArrayBuffer>;
  timer: ReturnType<typeof setTimeout> | null;
}

// Sockets are tagged with their id, so a hub answers "is this socket open" without a scan.
const socketTag = (id: string) => `socket:${id}`;

/**
 * Holds client market-data WebSockets (hibernatable) and their subscriptions. Clients are
 * spread over several hubs; each symbol object publishes a tick once per interested hub,
 * and the hub fans it out to its own sockets. So a hot symbol costs its object one call
 * per hub, not one send per subscriber, and capacity grows with the number of hubs.
 */
export class StreamHub extends DurableObject<Env> {
  readonly #name: string | undefined;
  readonly #config: HubConfigSubscriber | undefined;
  readonly #attachments = new SocketAttachments<Attachment>();
  // Rebuilt from the attachments after hibernation.
  readonly #index = new SubscriptionIndex<WebSocket>();
  readonly #budgets = new WeakMap<WebSocket, MessageBudget>();
  /** Each socket's frames not yet answered (by socket id): see SocketTurns. */
  readonly #turns = new Map<string, SocketTurns>();
  /** Sockets that have sent an auth, or whose grace has passed: their frames are not held early. */
  readonly #graceOver = new Set<string>();
  #reconciling: Promise<void> = Promise.resolve();
  // Which instance this is, and how many sockets it found when it started: an instance
  // that found sockets was woken from hibernation (or restarted) with them.
  readonly #instance = crypto.randomUUID();
  readonly #restored: number;
  // Frames sent to client sockets by this instance: read by GET /metrics through stats(), and
  // back to 0 when the hub restarts or wakes from hibernation (a counter reset to Prometheus).
  #framesSent = 0;
  // The last book each pair published here, numbered in arrival order: a subscriber's first
  // book, read from the symbol, must not be older than one published while it was read.
  readonly #books = new Map<string, { seq: number; t: number; msg: DataMessage }>();
  #booksSeen = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#name = objectName(ctx);
    // Run-time socket limits (docs/config.md): registered on wake, pushed on change.
    if (this.#name) this.#config = new HubConfigSubscriber(ctx.storage, env, this.#name);
    const sockets = ctx.getWebSockets();
    this.#restored = sockets.length;
    for (const ws of sockets) {
      const a = this.#attachments.get(ws);
      if (a && !a.closed) this.#index.set(ws, a);
    }
  }

  get #limits() {
    return liveSocketLimits(this.env);
  }

  /**
   * The listed symbols changed (an asset added, or made active or inactive): a "*"
   * subscription takes every active symbol of its kind from now on, as Alpaca's does, not
   * only those listed when it was made (found in QA). Answers once the hub is registered.
   */
  async assetsChanged(): Promise<void> {
    await Promise.all(STREAM_KINDS.filter((kind) => this.#index.neededSymbols(kind).has("*")).map((kind) => this.#reconcile(kind)));
  }

  /** A socket_limits change pushed by the ConfigStore: new sockets and each message from now on are held to it. */
  configChanged(config: HubConfig): void {
    this.#config?.receive(config);
  }

  override async fetch(request: Request): Promise<Response> {
    if (!isWebSocketUpgrade(request)) return upgradeRequired();
    const requested = request.headers.get("x-redfire-stream");
    const kind: SocketKind = requested === "crypto" || requested === "all" ? requested : "stocks";
    const encoding = /application\/msgpack/i.test(request.headers.get("content-type") ?? "") ? "msgpack" : "json";
    // The gateway checked a handshake credential (and the socket kind's permission).
    const credential = credentialFrom(request.headers);
    const attachment: Attachment = { id: crypto.randomUUID(), kind, encoding, userId: null, connectedAt: Date.now(), subs: {} };
    const { socket, response } = acceptSocket(this.ctx, this.#attachments, attachment, [socketTag(attachment.id)]);
    this.#send(socket, attachment, [{ T: "success", msg: "connected" }]);
    if (credential) await this.#admit(socket, credential);
    else await this.#armAuthTimeout();
    return response;
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a || a.closed) return;
    const limits = this.#limits;
    let budget = this.#budgets.get(ws);
    if (!budget) this.#budgets.set(ws, (budget = new MessageBudget(limits)));
    if (!budget.take(Date.now())) return this.#end(ws, errorMessage(ERRORS.tooManyMessages, `at most ${limits.messagesPerWindow} per ${limits.windowSeconds} s`), "too many messages");
    const turns = this.#turnsOf(ws, a.id);
    // Before an auth is answered, a bounded number wait (then 429 and a close); after it the
    // message budget bounds them.
    if (!a.userId && turns.frames.waiting >= MAX_HELD_FRAMES) return this.#end(ws, errorMessage(ERRORS.tooManyMessages, `at most ${MAX_HELD_FRAMES} before the authentication is answered`), "too many messages");
    await this.#taken(a.id, turns, turns.frames.push(data));
  }

  /** A socket's turns, made when it has a frame to answer (in memory: an answer in progress keeps the hub awake). */
  #turnsOf(ws: WebSocket, id: string): SocketTurns {
    let turns = this.#turns.get(id);
    if (!turns) {
      const frames = new FrameTurns<string | ArrayBuffer>(
        (frame) => this.#take(ws, frame),
        (error) => log("warn", "a client frame failed", { hub: this.#name, error: String(error) }),
      );
      this.#turns.set(id, (turns = { frames, timer: null }));
    }
    return turns;
  }

  /** Waits for a run of the socket's frames (if this call started one), then forgets its turns if nothing is left. */
  async #taken(id: string, turns: SocketTurns, run: Promise<void> | undefined): Promise<void> {
    await run;
    if (turns.frames.idle && this.#turns.get(id) === turns) this.#turns.delete(id);
  }

  /** Answers one client frame (its budget already taken), the socket's only one being answered. */
  async #take(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a || a.closed) return;
    const limits = this.#limits;
    const frame = parseFrame(data, { maxBytes: limits.maxFrameBytes, decodeBinary: a.encoding === "msgpack" ? decodeMsgpackOrJson : decodeJsonOrMsgpack });
    if (!frame.ok) return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax, frame.error)]);
    const parsed = ClientMessage.safeParse(frame.value);
    if (!parsed.success) return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax)]);
    const message = parsed.data;
    if (message.action === "auth") {
      // No frame is set aside from now on; those set aside were sent after this auth.
      this.#graceOver.add(a.id);
      const turns = this.#turns.get(a.id);
      if (turns?.timer) clearTimeout(turns.timer);
      const early = turns?.frames.takeAside() ?? [];
      if (turns) turns.timer = null;
      // In memory only while it is checked: the pending check keeps the hub awake, so it
      // cannot hibernate with frames waiting behind it.
      try {
        await this.#authenticate(ws, a, message);
      } finally {
        // After a success a second auth is answered "already authenticated"; after a failure
        // the socket is closed and deaf to them.
        for (const frame of early) await this.#take(ws, frame).catch((error: unknown) => log("warn", "an early frame failed", { hub: this.#name, error: String(error) }));
      }
      return;
    }
    if (!a.userId) {
      if (!a.credential && !this.#graceOver.has(a.id)) return this.#holdEarly(ws, a, data);
      return this.#send(ws, a, [errorMessage(ERRORS.notAuthenticated)]);
    }
    // Alpaca's 405 for a message naming too many symbols; nothing changes.
    if (namedSymbols(message).length > limits.symbolsPerMessage) return this.#send(ws, a, [errorMessage(ERRORS.symbolLimit, `at most ${limits.symbolsPerMessage} symbols per message`)]);
    await this.#changeSubscriptions(ws, message.action, message);
  }

  /** Sets aside a frame of a socket that has sent no auth, for EARLY_GRACE_MS, in case its auth is still on its way. */
  #holdEarly(ws: WebSocket, a: Attachment, data: string | ArrayBuffer): void {
    const turns = this.#turns.get(a.id);
    // Always there: the frame is being taken from it.
    if (!turns) return;
    turns.frames.setAside(data);
    turns.timer ??= setTimeout(() => {
      // No auth came: the frames are answered as an unauthenticated socket's, first in line.
      this.#graceOver.add(a.id);
      turns.timer = null;
      void this.#taken(a.id, turns, turns.frames.requeueAside());
    }, EARLY_GRACE_MS);
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
    for (const event of events) if (event.channel === "orderbooks") this.#noteBook(symbol, event.msg);
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
        this.#framesSent += 1;
      } catch {
        // A socket closing under us is dropped by its close event.
      }
    }
    return { wanted: true };
  }

  /**
   * Number of open client sockets and subscriptions, for metrics and tests; `ofUser` counts
   * one user's authenticated sockets; `instance` and `restored` tell a fresh instance (after
   * hibernation) from the one that accepted the sockets; `framesSent` since this instance started.
   */
  stats(userId?: string): { sockets: number; authenticated: number; keys: number; ofUser: number; instance: string; restored: number; framesSent: number } {
    const sockets = this.ctx.getWebSockets();
    const authenticated = sockets.map((ws) => this.#attachments.get(ws)).filter((a) => a?.userId && !a.closed);
    return {
      sockets: sockets.length,
      authenticated: authenticated.length,
      keys: this.#index.keyCount,
      ofUser: authenticated.filter((a) => a?.userId === userId).length,
      instance: this.#instance,
      restored: this.#restored,
      framesSent: this.#framesSent,
    };
  }

  /**
   * Ends the sockets a revocation selects: Alpaca's error frame ("auth failed" and why),
   * then a close. Their subscriptions go at once, so nothing more is sent to them.
   */
  async closeSockets(selector: SocketSelector, reason: string): Promise<number> {
    const ended: WebSocket[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      const a = this.#attachments.get(ws);
      const credential = a?.credential ?? (a?.userId ? { userId: a.userId } : undefined);
      if (!a || a.closed || !credential || !selects(selector, credential)) continue;
      ended.push(ws);
    }
    await Promise.all(ended.map((ws) => this.#end(ws, errorMessage(ERRORS.authFailed, reason), reason)));
    return ended.length;
  }

  /** Which of these sockets are open here: the account asks before refusing a connection. */
  openSockets(ids: string[]): string[] {
    return ids.filter((id) => this.ctx.getWebSockets(socketTag(id)).some((ws) => ws.readyState === WebSocket.READY_STATE_OPEN && !this.#attachments.get(ws)?.closed));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    let pending = false;
    for (const ws of this.ctx.getWebSockets()) {
      const a = this.#attachments.get(ws);
      if (!a || a.userId || a.closed) continue;
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
    if (a.userId || a.credential) return this.#send(ws, a, [errorMessage(ERRORS.alreadyAuthenticated)]);
    // Two credentials in one message: checking either would let the other's fault pass
    // unseen (an invalid key under a valid token), so neither is checked. The socket stays,
    // unauthenticated, and may send one credential (its auth timeout still runs).
    if (bothCredentials(m))
      return this.#send(ws, a, [errorMessage(ERRORS.invalidSyntax, "give either key and secret or a token, not both")]);
    const outcome: Principal | string = m.token ? await fromAccessToken(this.env, m.token) : await fromApiKey(this.env, m.key ?? "", m.secret ?? "", this.ctx);
    if (typeof outcome === "string") return this.#end(ws, errorMessage(ERRORS.authFailed), "auth failed");
    // The handshake's rule (workers/routes/streams.ts), so a guest gets no stock data in-band either.
    if (!mayStream(a.kind, outcome.permissions)) return this.#end(ws, errorMessage(ERRORS.insufficientSubscription, "the credential may not read market data"), "insufficient subscription");
    await this.#admit(ws, credentialOf(outcome));
  }

  /** Counts the socket against its user's connection limit, then marks it authenticated (or ends it: 406). */
  async #admit(ws: WebSocket, credential: SocketCredential): Promise<void> {
    // Record the credential before the await, so a revocation meanwhile finds the socket.
    const pending = this.#attachments.get(ws);
    if (!pending || pending.closed) return;
    this.#attachments.set(ws, { ...pending, credential });
    const admitted = await this.#admitted(credential.userId, pending.id);
    // Re-read after the await: every write replaces the attachment.
    const current = this.#attachments.get(ws);
    if (!current || current.closed) {
      if (admitted) this.#release(credential.userId, [pending.id]);
      return;
    }
    if (!admitted) return this.#end(ws, errorMessage(ERRORS.connectionLimit), "connection limit exceeded");
    const next: Attachment = { ...current, userId: credential.userId, leased: true };
    this.#attachments.set(ws, next);
    this.#send(ws, next, [{ T: "success", msg: "authenticated" }]);
  }

  async #admitted(userId: string, socketId: string): Promise<boolean> {
    if (this.#name === undefined) return true;
    try {
      return (await this.env.ACCOUNT.getByName(userId).admitMarketSocket(socketId, this.#name)).admitted;
    } catch (error) {
      // The limit guards against abuse; an account that cannot answer should not take the market data down with it.
      log("warn", "connection limit unchecked: the account did not answer", { hub: this.#name, error: String(error) });
      return true;
    }
  }

  #release(userId: string, socketIds: string[]): void {
    this.ctx.waitUntil(
      this.env.ACCOUNT.getByName(userId)
        .releaseMarketSockets(socketIds)
        .catch((error: unknown) => log("warn", "could not release sockets; the account re-checks them at its limit", { hub: this.#name, error: String(error) })),
    );
  }

  /** Sends a last error, closes the socket and forgets its subscriptions and lease. */
  async #end(ws: WebSocket, error: ControlMessage, reason: string): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a || a.closed) return;
    this.#send(ws, a, [error]);
    closeQuietly(ws, 1008, reason);
    await this.#drop(ws, { closed: true });
  }

  async #changeSubscriptions(ws: WebSocket, action: "subscribe" | "unsubscribe", message: Record<string, unknown>): Promise<void> {
    let registry = await activeSymbols(this.env);
    // Symbols added since the registry was cached: read it again before calling them unknown.
    if (namedSymbols(message).some((s) => !registry.has(s))) registry = await activeSymbols(this.env, { fresh: true });
    // Re-read after the await: another message on this socket may have changed it.
    const a = this.#attachments.get(ws);
    if (!a || a.closed) return;
    const classOf = (symbol: string): StreamKind | undefined => {
      const row = registry.get(symbol);
      return row && streamKindOf(row.assetClass);
    };
    const change = changeSubscriptions(a, action, message, classOf, this.#limits.symbolsPerConnection);
    if (!change.ok) return this.#send(ws, a, change.errors);
    const next: Attachment = { ...a, ...change.listener };
    this.#attachments.set(ws, next);
    this.#index.set(ws, next);
    const pairs = action === "subscribe" ? bookSnapshotSymbols(message, next.kind, next.subs, () => [...symbolsOfKind(registry, "crypto")]) : [];
    // Echo only once the symbols know about this hub: from the echo on, data flows. Then
    // each new order book's whole current state, the base for the books that follow.
    const [, books] = await Promise.all([Promise.all(streamKinds(next.kind).map((k) => this.#reconcile(k))), this.#currentBooks(pairs)]);
    this.#send(ws, next, [...change.errors, subscriptionMessage(next.kind, next.subs, (symbol) => next.classes?.[symbol])]);
    if (books.length > 0) this.#send(ws, next, books);
  }

  #noteBook(symbol: string, msg: DataMessage): void {
    this.#books.set(symbol, { seq: ++this.#booksSeen, t: Date.parse(String(msg.t)), msg: { ...msg, S: symbol } });
  }

  /**
   * The pairs' books as the symbols hold them now. A book published here while they were
   * read has reached the subscriber already; when it is the newer, it is sent again rather
   * than the one read, so the subscriber's book never steps back in time.
   */
  async #currentBooks(pairs: readonly string[]): Promise<DataMessage[]> {
    const since = this.#booksSeen;
    const read = await Promise.all(
      pairs.map((symbol) =>
        this.env.MARKET.getByName(symbol)
          .orderbook()
          .catch((error: unknown) => {
            // The book follows with the pair's next quote.
            log("warn", "order book snapshot unavailable", { hub: this.#name, symbol, error: String(error) });
            return null;
          }),
      ),
    );
    return pairs.flatMap((symbol, i) => {
      const book = read[i];
      const published = this.#books.get(symbol);
      if (published && published.seq > since && (!book || published.t >= Date.parse(book.t))) return [published.msg];
      return book ? [{ ...orderbookMessage(book), S: symbol }] : [];
    });
  }

  async #drop(ws: WebSocket, mark: { closed?: boolean } = {}): Promise<void> {
    const a = this.#attachments.get(ws);
    if (!a) return;
    clearTimeout(this.#turns.get(a.id)?.timer ?? undefined);
    this.#turns.delete(a.id);
    this.#graceOver.delete(a.id);
    this.#index.delete(ws);
    this.#attachments.set(ws, { ...a, ...mark, subs: {}, leased: false });
    if (a.leased && a.userId) this.#release(a.userId, [a.id]);
    if (Object.values(a.subs).some((symbols) => symbols.length > 0)) await Promise.all(streamKinds(a.kind).map((k) => this.#reconcile(k)));
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

  #send(ws: WebSocket, a: Pick<Attachment, "encoding">, messages: readonly (ControlMessage | DataMessage)[]): void {
    try {
      ws.send(encodeFrame(a.encoding, messages));
      this.#framesSent += 1;
    } catch {
      // Closed meanwhile.
    }
  }
}

/** An auth carrying a key (or secret) and a token: refused without checking either. */
const bothCredentials = (m: Extract<ClientMessage, { action: "auth" }>): boolean => m.token !== undefined && (m.key !== undefined || m.secret !== undefined);

const symbolsOfKind = (registry: ReadonlyMap<string, { assetClass: AssetClass }>, kind: StreamKind): Set<string> =>
  new Set([...registry].filter(([, row]) => streamKindOf(row.assetClass) === kind).map(([symbol]) => symbol));

// Every server frame is an array (Alpaca's framing), JSON text or msgpack binary.

/**
 * A binary control frame: msgpack on a msgpack socket, JSON bytes on a JSON one (a client
 * may send its JSON as a binary frame), each also read as the other when it is not its own.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
/** Reads `bytes` with `first`, else with `second`. */
const either =
  (first: (bytes: Uint8Array) => unknown, second: (bytes: Uint8Array) => unknown) =>
  (bytes: Uint8Array): unknown => {
    try {
      return first(bytes);
    } catch {
      return second(bytes);
    }
  };
const jsonBytes = (bytes: Uint8Array): unknown => JSON.parse(utf8.decode(bytes));
const decodeMsgpackOrJson = either(decode, jsonBytes);
const decodeJsonOrMsgpack = either(jsonBytes, decode);
function encodeFrame(encoding: "json" | "msgpack", messages: readonly object[]): string | Uint8Array {
  // encode() returns a view into a shared scratch buffer: copy it out before sending.
  return encoding === "msgpack" ? encode(messages.map(withTimestamp)).slice() : JSON.stringify(messages);
}

/**
 * A message as msgpack carries it: a data message's `t` (RFC-3339 in JSON) becomes the
 * msgpack timestamp extension (type -1), as Alpaca sends it: alpaca-py calls
 * `t.to_datetime()`, and the JS SDK's decoder reads the extension too. @msgpack/msgpack
 * writes a Date as that extension; RedFire's instants are whole milliseconds, so nothing is
 * lost. Control messages carry no `t` and pass unchanged.
 */
function withTimestamp(message: object): object {
  const t = (message as { t?: unknown }).t;
  if (typeof t !== "string") return message;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? message : { ...message, t: new Date(ms) };
}
