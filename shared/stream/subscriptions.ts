import {
  addSubscriptions,
  ALL_CHANNELS,
  channelsOf,
  ERRORS,
  errorMessage,
  removeSubscriptions,
  symbolCount,
  type Channel,
  type ControlMessage,
  normaliseSymbols,
  type SocketKind,
  type StreamKind,
  type Subscriptions,
} from "./protocol";
import type { AssetClass } from "../market/instrument";

// Who listens to which channel of which symbol, for one stream hub. Pure: the hub keeps
// the subscriptions in each socket's attachment (they survive hibernation) and rebuilds
// this index from them; the index answers who gets a published event, whether the hub
// still wants a symbol, and which symbols it must register with.

/** What one client listens to. On an "all" socket, `classes` names each subscribed symbol's class. */
export interface Listener {
  kind: SocketKind;
  subs: Subscriptions;
  classes?: Readonly<Record<string, StreamKind>>;
}

export const STREAM_KINDS: readonly StreamKind[] = ["stocks", "crypto"];

/** The stream an instrument of `assetClass` is published on. */
export const streamKindOf = (assetClass: AssetClass): StreamKind => (assetClass === "crypto" ? "crypto" : "stocks");

/** The asset classes a socket of `kind` streams. */
export const streamKinds = (kind: SocketKind): readonly StreamKind[] => (kind === "all" ? STREAM_KINDS : [kind]);

/** The asset classes a listener's subscription to `symbol` reads from ("*" on an "all" socket: both). */
function kindsOf(listener: Listener, symbol: string): readonly StreamKind[] {
  if (listener.kind !== "all") return [listener.kind];
  if (symbol === "*") return STREAM_KINDS;
  const kind = listener.classes?.[symbol];
  return kind ? [kind] : [];
}

const keyOf = (kind: StreamKind, channel: Channel, symbol: string) => `${kind}|${channel}|${symbol}`;

export class SubscriptionIndex<S> {
  // `${kind}|${channel}|${symbol}` → subscribers; "*" as the symbol for wildcards.
  readonly #keys = new Map<string, Set<S>>();
  readonly #listeners = new Map<S, Listener>();
  // Per kind, how many keys name each symbol: what the hub wants, without a scan.
  readonly #symbols: Record<StreamKind, Map<string, number>> = { stocks: new Map(), crypto: new Map() };

  /** Sets (or replaces) what `subscriber` listens to. */
  set(subscriber: S, listener: Listener): void {
    this.delete(subscriber);
    this.#listeners.set(subscriber, listener);
    this.#visit(listener, (kind, key, symbol) => {
      let set = this.#keys.get(key);
      if (!set) {
        set = new Set();
        this.#keys.set(key, set);
        this.#count(kind, symbol, 1);
      }
      set.add(subscriber);
    });
  }

  delete(subscriber: S): void {
    const listener = this.#listeners.get(subscriber);
    if (!listener) return;
    this.#listeners.delete(subscriber);
    this.#visit(listener, (kind, key, symbol) => {
      const set = this.#keys.get(key);
      if (!set?.delete(subscriber) || set.size > 0) return;
      this.#keys.delete(key);
      this.#count(kind, symbol, -1);
    });
  }

  /**
   * Who receives a batch of events on `symbol`: per subscriber, the indices of the events
   * on channels it listens to (by name or by "*"), ascending and without repeats.
   */
  route(kind: StreamKind, symbol: string, channels: readonly Channel[]): Map<S, number[]> {
    const routes = new Map<S, number[]>();
    channels.forEach((channel, i) => {
      for (const key of [keyOf(kind, channel, symbol), keyOf(kind, channel, "*")]) {
        for (const subscriber of this.#keys.get(key) ?? []) {
          const list = routes.get(subscriber);
          if (!list) routes.set(subscriber, [i]);
          else if (list[list.length - 1] !== i) list.push(i);
        }
      }
    });
    return routes;
  }

  /** Whether any subscriber listens to `symbol` of `kind`, by name or by "*". */
  wants(kind: StreamKind, symbol: string): boolean {
    const symbols = this.#symbols[kind];
    return symbols.has(symbol) || symbols.has("*");
  }

  /** The symbols of `kind` someone listens to; "*" stands for every symbol of the kind. */
  neededSymbols(kind: StreamKind): Set<string> {
    return new Set(this.#symbols[kind].keys());
  }

  /** Distinct (kind, channel, symbol) keys with a subscriber. */
  get keyCount(): number {
    return this.#keys.size;
  }

  get subscriberCount(): number {
    return this.#listeners.size;
  }

  #visit(listener: Listener, visit: (kind: StreamKind, key: string, symbol: string) => void): void {
    for (const [channel, symbols] of Object.entries(listener.subs) as [Channel, string[]][]) {
      for (const symbol of symbols) {
        for (const kind of kindsOf(listener, symbol)) {
          // A channel only the other class has (orderbooks on stocks…) carries nothing.
          if (channelsOf(kind).includes(channel)) visit(kind, keyOf(kind, channel, symbol), symbol);
        }
      }
    }
  }

  #count(kind: StreamKind, symbol: string, delta: 1 | -1): void {
    const symbols = this.#symbols[kind];
    const n = (symbols.get(symbol) ?? 0) + delta;
    if (n > 0) symbols.set(symbol, n);
    else symbols.delete(symbol);
  }
}

/** The symbols a subscribe or unsubscribe message names, upper-cased, without "*". */
export function namedSymbols(message: Record<string, unknown>): string[] {
  const named = ALL_CHANNELS.flatMap((c) => (Array.isArray(message[c]) ? (message[c] as unknown[]) : []));
  return [...new Set(named.filter((s): s is string => typeof s === "string" && s !== "*").map((s) => s.toUpperCase()))];
}

/** The channels a socket of `kind` may carry, picked from a client message. */
export function pickChannels(message: Record<string, unknown>, kind: SocketKind): Subscriptions {
  const picked: Subscriptions = {};
  for (const channel of channelsOf(kind)) {
    const value = message[channel];
    if (Array.isArray(value)) picked[channel] = value.filter((v): v is string => typeof v === "string");
  }
  return picked;
}

export type SubscriptionChange =
  | { ok: true; listener: Listener; errors: ControlMessage[] }
  /** Over the symbol limit: nothing changes. */
  | { ok: false; errors: ControlMessage[] };

/** Unknown symbols named one error each, up to this many; the rest in one more error. */
export const MAX_SYMBOL_ERRORS = 5;

/**
 * A listener after a subscribe or unsubscribe message. `classOf` names an active symbol's
 * class (undefined for an unknown one); a subscription to an unknown symbol, or to a
 * channel its class does not have, is refused with an error and the rest applies. The
 * errors stay a few whatever the message names, so a reply never outgrows a bounded size.
 */
export function changeSubscriptions(
  current: Listener,
  action: "subscribe" | "unsubscribe",
  message: Record<string, unknown>,
  classOf: (symbol: string) => StreamKind | undefined,
  maxSymbols: number,
): SubscriptionChange {
  const requested = pickChannels(message, current.kind);
  // Each symbol refused once, whatever number of channels named it (found in QA: 999 names on
  // two channels were counted 1,993), with why: unknown, or known without that channel (a
  // stock has no order book; QA read "unknown symbol AAPL" beside AAPL's accepted trades).
  const refused = new Map<string, string>();
  const classes = { ...current.classes };
  if (action === "subscribe") {
    for (const [channel, symbols] of Object.entries(requested) as [Channel, string[]][]) {
      requested[channel] = symbols.filter((s) => {
        if (s === "*") return true;
        const kind = classOf(s.toUpperCase());
        if (kind && (current.kind === "all" ? channelsOf(kind).includes(channel) : kind === current.kind)) {
          if (current.kind === "all") classes[s.toUpperCase()] = kind;
          return true;
        }
        if (!refused.has(s)) refused.set(s, kind && current.kind === "all" ? `no ${channel} for ${s}` : `unknown symbol ${s}`);
        return false;
      });
    }
  }
  const reasons = [...refused.values()];
  const errors = reasons.slice(0, MAX_SYMBOL_ERRORS).map((why) => errorMessage(ERRORS.invalidSyntax, why));
  // The count says what the rest are: unknown, or (some of them) known without the channel asked.
  const rest = reasons.slice(MAX_SYMBOL_ERRORS);
  if (rest.length > 0) errors.push(errorMessage(ERRORS.invalidSyntax, `${rest.length} more ${rest.every((why) => why.startsWith("unknown")) ? "unknown symbols" : "symbols refused, unknown or without the channel asked"}`));
  const subs = action === "subscribe" ? addSubscriptions(current.subs, requested) : removeSubscriptions(current.subs, requested);
  if (symbolCount(subs) > maxSymbols) return { ok: false, errors: [...errors, errorMessage(ERRORS.symbolLimit)] };
  return { ok: true, listener: current.kind === "all" ? { kind: current.kind, subs, classes } : { kind: current.kind, subs }, errors };
}

/**
 * The pairs whose order book a subscribe message starts, given the subscriptions it led to
 * (`subscribed`): Alpaca sends each a whole book right after the subscription, as the
 * base its later books build on. `pairs` lists every active pair, for "*".
 */
export function bookSnapshotSymbols(message: Record<string, unknown>, kind: SocketKind, subscribed: Subscriptions, pairs: () => string[]): string[] {
  const requested = normaliseSymbols(pickChannels(message, kind).orderbooks ?? []);
  const accepted = new Set(subscribed.orderbooks ?? []);
  if (requested.includes("*")) return accepted.has("*") ? pairs() : [];
  return requested.filter((s) => accepted.has(s) || accepted.has("*"));
}

/** The symbol objects to attach this hub to and detach it from, so the registered set becomes `wanted`. */
export function registrationChanges(wanted: ReadonlySet<string>, registered: ReadonlySet<string>): { attach: string[]; detach: string[] } {
  return { attach: [...wanted].filter((s) => !registered.has(s)), detach: [...registered].filter((s) => !wanted.has(s)) };
}
