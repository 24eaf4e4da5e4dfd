import { logger } from "../../platform/log";
import { CONFIG_STORE, type AccountConfig, type HubConfig, type SymbolConfig } from "../../shared/config/live";
import { socketLimits, type SocketLimits } from "../../shared/stream/limits";

const log = logger("config");

/**
 * A running object's copy of the configuration (docs/config.md). The copy it last
 * received is kept in its own storage and applied when it wakes, without a call; it then
 * registers with the ConfigStore in the background, which answers the current values and
 * pushes every later change. Nothing here runs on a request, except that an object that
 * never held a copy (a new account, a new symbol) waits for its registration's answer once.
 */
export class LiveConfig<T extends { version: number }> {
  #current: T | null;
  /** Settles when the object holds the values it should: at once if it had a copy. */
  readonly ready: Promise<void>;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly key: string,
    register: () => Promise<T>,
    private readonly apply: (config: T) => void,
    who: Record<string, string>,
  ) {
    this.#current = storage.kv.get<T>(key) ?? null;
    if (this.#current) apply(this.#current);
    const registered = register()
      .then((config) => this.receive(config))
      .catch((error: unknown) => log("warn", "config registration failed; the stored copy (or the defaults) stand until the next push", { ...who, error: String(error) }));
    this.ready = this.#current ? Promise.resolve() : registered;
  }

  get current(): T | null {
    return this.#current;
  }

  /** A push or a registration's answer: applied and kept unless it is older than what the object holds. */
  receive(config: T): void {
    if (this.#current && config.version <= this.#current.version) return;
    // The store's version 0 is the vars' defaults, which the object already runs with.
    if (!this.#current && config.version === 0) return;
    this.#current = config;
    this.storage.kv.put(this.key, config);
    this.apply(config);
  }
}

/** An account object's copy: its risk limits, rate limits, flags and socket limits. */
export class ConfigSubscriber extends LiveConfig<AccountConfig> {
  constructor(storage: DurableObjectStorage, env: Env, owner: string, apply: (config: AccountConfig) => void) {
    const applyAll = (config: AccountConfig) => {
      if (config.socketLimits) noteSocketLimits(env, config.version, config.socketLimits);
      apply(config);
    };
    super(storage, "config", () => env.CONFIG.getByName(CONFIG_STORE).register(owner), applyAll, { account: owner });
  }
}

/** A stream hub's copy: the socket limits. */
export class HubConfigSubscriber extends LiveConfig<HubConfig> {
  constructor(storage: DurableObjectStorage, env: Env, hub: string) {
    super(storage, "config", () => env.CONFIG.getByName(CONFIG_STORE).registerHub(hub), (config) => noteSocketLimits(env, config.version, config.socketLimits), { hub });
  }
}

// socket_limits is global only, so the newest copy any object of this isolate received is
// every object's: the socket code (durable-objects/account/trade-sockets.ts, the hubs)
// reads it here by env, without a handle on its object's subscriber.
const socketLimitsSeen = new WeakMap<object, { version: number; limits: SocketLimits }>();

function noteSocketLimits(env: Env, version: number, limits: SocketLimits): void {
  const seen = socketLimitsSeen.get(env);
  if (!seen || version > seen.version) socketLimitsSeen.set(env, { version, limits });
}

/** The socket limits as configured at run time (docs/config.md): the vars' SOCKET_LIMITS until a copy arrives. */
export function liveSocketLimits(env: Env): SocketLimits {
  return socketLimitsSeen.get(env)?.limits ?? socketLimits(env);
}

/** A symbol object's copy: its venue's settings. */
export class SymbolConfigSubscriber extends LiveConfig<SymbolConfig> {
  constructor(storage: DurableObjectStorage, env: Env, symbol: string, apply: (config: SymbolConfig) => void) {
    super(storage, "venue-config", () => env.CONFIG.getByName(CONFIG_STORE).registerSymbol(symbol), apply, { symbol });
  }
}
