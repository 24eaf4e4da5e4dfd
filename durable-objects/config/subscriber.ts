import { logger } from "../../platform/log";
import { CONFIG_STORE, type AccountConfig, type SymbolConfig } from "../../shared/config/live";

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

/** An account object's copy: its risk limits, rate limits and flags. */
export class ConfigSubscriber extends LiveConfig<AccountConfig> {
  constructor(storage: DurableObjectStorage, env: Env, owner: string, apply: (config: AccountConfig) => void) {
    super(storage, "config", () => env.CONFIG.getByName(CONFIG_STORE).register(owner), apply, { account: owner });
  }
}

/** A symbol object's copy: its venue's settings. */
export class SymbolConfigSubscriber extends LiveConfig<SymbolConfig> {
  constructor(storage: DurableObjectStorage, env: Env, symbol: string, apply: (config: SymbolConfig) => void) {
    super(storage, "venue-config", () => env.CONFIG.getByName(CONFIG_STORE).registerSymbol(symbol), apply, { symbol });
  }
}
