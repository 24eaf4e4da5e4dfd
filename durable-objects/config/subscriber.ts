import { logger } from "../../platform/log";
import { CONFIG_STORE, type AccountConfig } from "../../shared/config/live";

const log = logger("account");
const KEY = "config";

/**
 * An account object's copy of the configuration (docs/config.md). The copy it last
 * received is kept in its own storage and applied when it wakes, without a call; it then
 * registers with the ConfigStore in the background, which answers the current values and
 * pushes every later change. Nothing here runs on a request, except that an object that
 * never held a copy (a new account) waits for its registration's answer once.
 */
export class ConfigSubscriber {
  #current: AccountConfig | null;
  /** Settles when the object holds the values it should: at once if it had a copy. */
  readonly ready: Promise<void>;

  constructor(
    private readonly storage: DurableObjectStorage,
    env: Env,
    owner: string,
    private readonly apply: (config: AccountConfig) => void,
  ) {
    this.#current = storage.kv.get<AccountConfig>(KEY) ?? null;
    if (this.#current) apply(this.#current);
    const registered = env.CONFIG.getByName(CONFIG_STORE)
      .register(owner)
      .then((config) => this.receive(config))
      .catch((error: unknown) => log("warn", "config registration failed; the stored copy (or the defaults) stand until the next push", { account: owner, error: String(error) }));
    this.ready = this.#current ? Promise.resolve() : registered;
  }

  get current(): AccountConfig | null {
    return this.#current;
  }

  /** A push or a registration's answer: applied and kept unless it is older than what the object holds. */
  receive(config: AccountConfig): void {
    if (this.#current && config.version <= this.#current.version) return;
    // The store's version 0 is the vars' defaults, which the object already runs with.
    if (!this.#current && config.version === 0) return;
    this.#current = config;
    this.storage.kv.put(KEY, config);
    this.apply(config);
  }
}
