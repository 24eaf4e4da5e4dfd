import { and, desc, eq, lt, ne, sql, type SQL } from "drizzle-orm";
import { database, schema, type Database } from "../../platform/db";
import { logger } from "../../platform/log";
import { strategyOrderPrefix } from "../../shared/strategy/live";
import { accountOf } from "./accounts";
import { publish } from "./events";
import { marketOf } from "./objects";
import type { Strategy } from "../../shared/schemas/strategies";

const log = logger("gateway");

// Data access for saved strategies and their versions: the routes in
// workers/routes/strategies.ts and the live runner both go through here.
//
// D1 has no interactive transactions, so every write that must see the state it read is one
// batch whose statements carry the condition themselves: a version row is inserted only
// while the strategy's current_version is still the one the writer read, and the strategy
// row moves to it in the same batch. Two concurrent saves cannot both take version N+1;
// the loser sees no change and tries again on the new state.

export type StrategyRow = typeof schema.strategies.$inferSelect;
export type StrategyVersionRow = typeof schema.strategyVersions.$inferSelect;

/** The most strategies one user may keep; creating more is refused with 409. */
export const MAX_STRATEGIES_PER_USER = 50;

export interface VersionContent {
  template: string | null;
  /** Validated parameters (template defaults filled in), as an object. */
  params: Record<string, unknown>;
  source: string | null;
  compiled: string | null;
  language: "js" | "ts" | null;
}

export interface NewStrategy {
  id: string;
  userId: string;
  name: string;
  kind: StrategyRow["kind"];
  symbol: string;
  timeframe: string;
  now: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const paramsOf = (json: string) => JSON.parse(json) as Record<string, unknown>;

/** The wire view of a strategy row. */
export function strategyView(row: StrategyRow): Strategy {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    template: row.template,
    symbol: row.symbol,
    timeframe: row.timeframe,
    params: paramsOf(row.params),
    current_version: row.currentVersion,
    status: row.status,
    status_message: row.statusMessage,
    running_version: row.runningVersion,
    last_run: row.lastRun,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

type VersionSummaryRow = Omit<StrategyVersionRow, "source" | "compiled">;

export function versionView(row: VersionSummaryRow) {
  return {
    strategy_id: row.strategyId,
    version: row.version,
    template: row.template,
    params: paramsOf(row.params),
    language: row.language,
    created_at: iso(row.createdAt),
  };
}

/**
 * A user's strategy and one of its versions (the current one unless `version` is given),
 * or undefined when the user has no such strategy or it has no such version. Another
 * user's strategy answers exactly like a missing one.
 */
export async function loadStrategy(
  env: Env,
  userId: string,
  id: string,
  version?: number,
): Promise<{ strategy: StrategyRow; version: StrategyVersionRow } | undefined> {
  const db = database(env);
  const strategy = await ownStrategy(env, userId, id);
  if (!strategy) return undefined;
  const saved = await db
    .select()
    .from(schema.strategyVersions)
    .where(and(eq(schema.strategyVersions.strategyId, id), eq(schema.strategyVersions.version, version ?? strategy.currentVersion)))
    .get();
  return saved ? { strategy, version: saved } : undefined;
}

export async function ownStrategy(env: Env, userId: string, id: string): Promise<StrategyRow | undefined> {
  return database(env)
    .select()
    .from(schema.strategies)
    .where(and(eq(schema.strategies.id, id), eq(schema.strategies.userId, userId)))
    .get();
}

/**
 * Saves a new strategy with its version 1. "limit" when the user already has the most
 * strategies allowed (counted in the same statement, so concurrent creates cannot pass it);
 * a duplicate name throws D1's UNIQUE error (see isUniqueViolation).
 */
export async function insertStrategy(env: Env, s: NewStrategy, content: VersionContent): Promise<StrategyRow | "limit"> {
  const db = database(env);
  const params = JSON.stringify(content.params);
  const [inserted] = await db.batch([
    // Every column in the schema's order (d1/schema.ts): drizzle names them all for an
    // INSERT … SELECT. The NULLs are the status message, the running version and the last run.
    db.insert(schema.strategies).select(
      sql`SELECT ${s.id}, ${s.userId}, ${s.name}, ${s.kind}, ${content.template}, ${s.symbol}, ${s.timeframe}, ${params}, 1, 'stopped', NULL, NULL, NULL, ${s.now}, ${s.now}
        WHERE (SELECT count(*) FROM strategies WHERE user_id = ${s.userId}) < ${MAX_STRATEGIES_PER_USER}`,
    ),
    insertVersionIf(db, s.id, 1, content, s.now, sql`SELECT 1 FROM strategies WHERE id = ${s.id}`),
  ]);
  if (inserted.meta.changes !== 1) return "limit";
  const row = await ownStrategy(env, s.userId, s.id);
  if (!row) throw new Error(`strategy ${s.id} vanished right after it was inserted`);
  return row;
}

/**
 * Where a strategy runs: the symbol and timeframe a move gives it. A strategy moves only
 * while it is not running (a running one lives in its symbol's object), so every write of a
 * move carries that condition, and the symbol's object records a start only on a row that
 * still names its symbol (durable-objects/market-symbol/strategy-status.ts).
 */
export interface Placement {
  symbol: string;
  timeframe: string;
}

const notRunning = ne(schema.strategies.status, "running");

/**
 * Saves `content` as version `from + 1` if the strategy is still at version `from` and on
 * the symbol its content was checked against (a template's parameters are checked against
 * the instrument: a move racing the edit would leave them unchecked there), and renames it
 * when `name` is given; with `place`, moves it too, if it is not running. The updated row,
 * or undefined when another save, a move or a start got there first (or the strategy is
 * gone): read it again and retry.
 */
export async function appendVersion(env: Env, strategy: StrategyRow, content: VersionContent, name: string | undefined, now: number, place?: Placement): Promise<StrategyRow | undefined> {
  const db = database(env);
  const from = strategy.currentVersion;
  const s = schema.strategies;
  const unchanged = and(eq(s.id, strategy.id), eq(s.currentVersion, from), eq(s.symbol, strategy.symbol), place ? notRunning : undefined);
  const [, updated] = await db.batch([
    // The version row carries the update's own condition: written alone, it would leave version from + 1 taken.
    insertVersionIf(db, strategy.id, from + 1, content, now, sql`SELECT 1 FROM ${s} WHERE ${unchanged}`),
    // Only the columns the edit sets: a name written back as read would undo a rename made meanwhile.
    db
      .update(s)
      .set({ currentVersion: from + 1, params: JSON.stringify(content.params), updatedAt: now, ...(name === undefined ? {} : { name }), ...place })
      .where(unchanged)
      .returning(),
  ]);
  return updated[0];
}

/**
 * Moves a strategy that is not running to `place` (and renames it when `name` is given),
 * if it is still at the version and on the symbol whose parameters were checked for the
 * move. The row, or undefined when it runs, changed or is gone: read it again.
 */
export async function moveStrategy(env: Env, strategy: StrategyRow, place: Placement, name: string | undefined, now: number): Promise<StrategyRow | undefined> {
  const s = schema.strategies;
  return database(env)
    .update(s)
    .set({ ...place, updatedAt: now, ...(name === undefined ? {} : { name }) })
    .where(and(eq(s.id, strategy.id), eq(s.userId, strategy.userId), eq(s.currentVersion, strategy.currentVersion), eq(s.symbol, strategy.symbol), notRunning))
    .returning()
    .get();
}

function insertVersionIf(db: Database, strategyId: string, version: number, content: VersionContent, now: number, condition: SQL) {
  // Every column in the table's order: drizzle names them all for an INSERT … SELECT.
  return db.insert(schema.strategyVersions).select(
    sql`SELECT ${strategyId}, ${version}, ${content.template}, ${JSON.stringify(content.params)}, ${content.source}, ${content.compiled}, ${content.language}, ${now}
      WHERE EXISTS (${condition})`,
  );
}

/**
 * Stops every running strategy of a user who may no longer run them (disabled, or a role
 * without `strategy:write` or `trading:write`), each with `reason` as its status message,
 * and cancels the orders they left open: the owner could no longer stop them or cancel
 * their orders, and new ones would be refused. One that cannot be stopped now (its symbol
 * object unreachable) is logged and left to the account's refusal of its orders; the
 * admin's change stands either way.
 */
export async function stopUserStrategies(env: Env, userId: string, reason: string, traceparent: string): Promise<number> {
  const running = await database(env)
    .select({ id: schema.strategies.id, name: schema.strategies.name, symbol: schema.strategies.symbol })
    .from(schema.strategies)
    .where(and(eq(schema.strategies.userId, userId), eq(schema.strategies.status, "running")))
    .all();
  let stopped = 0;
  for (const s of running) {
    try {
      const outcome = await marketOf(env, s.symbol, traceparent).strategyStop(s.id, reason);
      await accountOf(env, userId).strategySend(s.symbol, strategyOrderPrefix(s.id), { kind: "cancelAll" }, traceparent);
      if (!outcome?.stopped) continue;
      stopped += 1;
      await publish(env, "strategy.stopped", `user:${userId}`, { strategyId: s.id, name: s.name, symbol: s.symbol, message: reason }, traceparent);
    } catch (error) {
      log("error", "a strategy of a user who may no longer run it could not be stopped", { userId, strategyId: s.id, error: String(error) });
    }
  }
  return stopped;
}

/**
 * Deletes a stopped (or errored) strategy with its versions (they cascade). A running one
 * is refused in the same statement, so a start racing the delete cannot leave a runner
 * without its record.
 */
export async function deleteStrategy(env: Env, userId: string, id: string): Promise<"deleted" | "missing" | "running"> {
  const db = database(env);
  // RETURNING, not meta.changes: D1 counts the cascaded version rows in changes.
  const deleted = await db
    .delete(schema.strategies)
    .where(and(eq(schema.strategies.id, id), eq(schema.strategies.userId, userId), ne(schema.strategies.status, "running")))
    .returning({ id: schema.strategies.id });
  if (deleted.length === 1) return "deleted";
  return (await ownStrategy(env, userId, id)) ? "running" : "missing";
}

/** A strategy's versions (without their code), newest first, `before` a version number when paging. */
export async function listVersions(env: Env, strategyId: string, limit: number, before?: number): Promise<VersionSummaryRow[]> {
  const v = schema.strategyVersions;
  // Without source and compiled code: a list of versions stays small.
  return database(env)
    .select({ strategyId: v.strategyId, version: v.version, template: v.template, params: v.params, language: v.language, createdAt: v.createdAt })
    .from(v)
    .where(before === undefined ? eq(v.strategyId, strategyId) : and(eq(v.strategyId, strategyId), lt(v.version, before)))
    .orderBy(desc(v.version))
    .limit(limit)
    .all();
}
