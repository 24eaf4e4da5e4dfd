import { DurableObject } from "cloudflare:workers";
import { logger } from "../../platform/log";
import type { ConfigKey, LoginThrottle, RateLimits, Scope } from "../../shared/config/keys";
import { accountScope, APPLIED_BY, hubSubscriber, symbolScope, type AccountConfig, type GatewayLiveConfig, type HubConfig, type SymbolConfig } from "../../shared/config/live";
import type { SocketLimits } from "../../shared/stream/limits";
import { defaults, deleteOverride, effectiveAll, rollback, setOverride, type Applied, type Author, type Override, type Value, type Version, type WriteResult } from "../../shared/config/versions";
import type { RiskLimits } from "../../shared/trading/risk";
import type { VenueConfig } from "../../shared/venue/venue";

const log = logger("config-store");

/** A registration not refreshed for this long is dropped: its object has been evicted and woken since, or is gone. */
const SUBSCRIPTION_TTL_MS = 7 * 24 * 3_600_000;

/**
 * The environment's configuration (one object, named "config"): the current overrides and
 * every version that made them, by the rules of shared/config/versions.ts. Running account,
 * symbol and stream hub objects register when they wake; every change is pushed to those it concerns
 * before the write answers, so they never poll (docs/config.md).
 */
export class ConfigStore extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  #version: number;
  #overrides: Override[];
  readonly #defaults: Record<ConfigKey, Value>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#defaults = defaults(env);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS versions (
      version INTEGER PRIMARY KEY, at INTEGER NOT NULL, author TEXT NOT NULL, reason TEXT NOT NULL,
      action TEXT NOT NULL, rolled_back_to INTEGER, changes TEXT NOT NULL)`);
    this.#sql.exec("CREATE TABLE IF NOT EXISTS overrides (key TEXT NOT NULL, scope TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key, scope))");
    // One row per registered object, named by the scope it reads its values at ("account:…", "symbol:…"; "hub:…" reads the global ones).
    this.#sql.exec("CREATE TABLE IF NOT EXISTS subscribers (scope TEXT PRIMARY KEY, seen_at INTEGER NOT NULL)");
    this.#version = this.#sql.exec<{ v: number | null }>("SELECT max(version) AS v FROM versions").one().v ?? 0;
    this.#overrides = this.#sql
      .exec<{ key: string; scope: string; value: string }>("SELECT key, scope, value FROM overrides")
      .toArray()
      .map((r) => ({ key: r.key as ConfigKey, scope: r.scope, value: JSON.parse(r.value) as Value }));
  }

  /** The version, every stored override, and the defaults from the vars they override. */
  snapshot(): { version: number; overrides: Override[]; defaults: Record<ConfigKey, Value> } {
    return { version: this.#version, overrides: this.#overrides, defaults: this.#defaults };
  }

  /** Versions newest first, below `before` (null: from the latest), that touched `key` (null: any). */
  history(key: string | null, before: number | null, limit: number): Version[] {
    const rows = this.#sql
      .exec<VersionRow>(
        `SELECT * FROM versions WHERE version < ?
           AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(versions.changes) WHERE json_extract(value, '$.key') = ?))
         ORDER BY version DESC LIMIT ?`,
        before ?? Number.MAX_SAFE_INTEGER,
        key,
        key,
        limit,
      )
      .toArray();
    return rows.map(versionOf);
  }

  set(key: string, scope: Scope, value: unknown, ifMatch: number, by: Author): Promise<WriteResult> {
    return this.#commit(setOverride(this.#version, this.#overrides, key, scope, value, ifMatch, by, this.#defaults));
  }

  remove(key: string, scope: Scope, ifMatch: number, by: Author): Promise<WriteResult> {
    return this.#commit(deleteOverride(this.#version, this.#overrides, key, scope, ifMatch, by));
  }

  rollback(target: number, ifMatch: number, by: Author): Promise<WriteResult> {
    const upTo = this.#sql.exec<VersionRow>("SELECT * FROM versions WHERE version <= ? ORDER BY version", target).toArray().map(versionOf);
    return this.#commit(rollback(this.#version, this.#overrides, upTo, target, ifMatch, by, this.#defaults));
  }

  /** An account object that woke: remembered for pushes, and answered its values now. */
  register(owner: string): AccountConfig {
    this.#subscribe(accountScope(owner));
    return this.#accountConfig(owner);
  }

  /** A symbol object that woke: remembered for pushes, and answered its venue's settings now. */
  registerSymbol(symbol: string): SymbolConfig {
    this.#subscribe(symbolScope(symbol));
    return this.#symbolConfig(symbol);
  }

  /** A stream hub that woke: remembered for pushes, and answered the socket limits now. */
  registerHub(hub: string): HubConfig {
    this.#subscribe(hubSubscriber(hub));
    return this.#hubConfig();
  }

  /**
   * The global values the gateway applies to callers no object counts (no credential, a
   * refused one, sign-in failures). Gateways ask at most twice a second per isolate
   * (workers/lib/config.ts): there are too many rate-limiter objects to push to.
   */
  gateway(): GatewayLiveConfig {
    const values = effectiveAll(this.#overrides, this.#defaults, "global");
    return { version: this.#version, rateLimits: values.rate_limits as RateLimits, loginThrottle: values.login_throttle as LoginThrottle, socketLimits: values.socket_limits as SocketLimits };
  }

  #subscribe(scope: Scope): void {
    this.#sql.exec("INSERT INTO subscribers (scope, seen_at) VALUES (?, ?) ON CONFLICT (scope) DO UPDATE SET seen_at = excluded.seen_at", scope, Date.now());
  }

  // The check and the writes run without an await between them, so two writes based on
  // the same version cannot both pass: the second sees the first's version and gets 412.
  async #commit(applied: Applied): Promise<WriteResult> {
    if (!applied.ok) return applied;
    const { version, overrides } = applied;
    this.#sql.exec(
      "INSERT INTO versions (version, at, author, reason, action, rolled_back_to, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
      version.version,
      version.at,
      version.author,
      version.reason,
      version.action,
      version.rolledBackTo,
      JSON.stringify(version.changes),
    );
    for (const c of version.changes) {
      if (c.after) this.#sql.exec("INSERT INTO overrides (key, scope, value) VALUES (?, ?, ?) ON CONFLICT (key, scope) DO UPDATE SET value = excluded.value", c.key, c.scope, JSON.stringify(c.after));
      else this.#sql.exec("DELETE FROM overrides WHERE key = ? AND scope = ?", c.key, c.scope);
    }
    this.#version = version.version;
    this.#overrides = overrides;
    await this.#push(version);
    return { ok: true, version };
  }

  /** Sends the new values to every registered object the version concerns, and waits for them: the write answers once running objects hold it. */
  async #push(version: Version): Promise<void> {
    this.#sql.exec("DELETE FROM subscribers WHERE seen_at < ?", Date.now() - SUBSCRIPTION_TTL_MS);
    const global = version.changes.some((c) => c.scope === "global");
    const scopes = global
      ? this.#sql.exec<{ scope: string }>("SELECT scope FROM subscribers").toArray().map((r) => r.scope)
      : version.changes.map((c) => c.scope).filter((s) => this.#sql.exec("SELECT 1 FROM subscribers WHERE scope = ?", s).toArray().length > 0);
    // An object hears only of the keys it applies, at its own scope or globally.
    const concerns = (kind: "account" | "symbol" | "hub", scope: Scope) => version.changes.some((c) => (c.scope === "global" || c.scope === scope) && APPLIED_BY[kind].includes(c.key));
    const calls: Promise<void>[] = [];
    for (const scope of new Set(scopes)) {
      const [kind, name] = [scope.slice(0, scope.indexOf(":")), scope.slice(scope.indexOf(":") + 1)];
      if (kind === "account" && concerns("account", scope)) calls.push(this.env.ACCOUNT.getByName(name).configChanged(this.#accountConfig(name)));
      else if (kind === "symbol" && concerns("symbol", scope)) calls.push(this.env.MARKET.getByName(name).configChanged(this.#symbolConfig(name)));
      else if (kind === "hub" && concerns("hub", scope)) calls.push(this.env.STREAM_HUB.getByName(name).configChanged(this.#hubConfig()));
    }
    const results = await Promise.allSettled(calls);
    const failed = results.filter((r) => r.status === "rejected").length;
    // An object that missed a push reads its values again when it next wakes.
    if (failed > 0) log("warn", "config push failed for some objects", { version: version.version, failed, pushed: calls.length });
  }

  #accountConfig(owner: string): AccountConfig {
    const values = effectiveAll(this.#overrides, this.#defaults, accountScope(owner));
    return {
      version: this.#version,
      riskLimits: values.risk_limits as RiskLimits,
      rateLimits: values.rate_limits as RateLimits,
      featureFlags: values.feature_flags as Record<string, boolean>,
      socketLimits: values.socket_limits as unknown as SocketLimits,
    };
  }

  #hubConfig(): HubConfig {
    return { version: this.#version, socketLimits: effectiveAll(this.#overrides, this.#defaults, "global").socket_limits as unknown as SocketLimits };
  }

  #symbolConfig(symbol: string): SymbolConfig {
    return { version: this.#version, venue: effectiveAll(this.#overrides, this.#defaults, symbolScope(symbol)).venue as unknown as VenueConfig };
  }
}

interface VersionRow extends Record<string, SqlStorageValue> {
  version: number;
  at: number;
  author: string;
  reason: string;
  action: string;
  rolled_back_to: number | null;
  changes: string;
}

const versionOf = (r: VersionRow): Version => ({
  version: r.version,
  at: r.at,
  author: r.author,
  reason: r.reason,
  action: r.action as Version["action"],
  rolledBackTo: r.rolled_back_to,
  changes: JSON.parse(r.changes) as Version["changes"],
});
