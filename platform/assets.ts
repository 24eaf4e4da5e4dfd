import { asc, eq } from "drizzle-orm";
import type { InstrumentSpec } from "../shared/market/instrument";
import { instrumentSpec, type AssetInfo } from "../shared/trading/asset";
import { Session } from "../shared/schemas/assets";
import { database, schema } from "./db";

// The asset registry: the one module that reads and writes the `assets` table. Routes look
// instruments up on every request and the table changes rarely, so each isolate keeps one
// snapshot of it for TTL_MS; a write through this module forgets it at once, other
// isolates see the change when their snapshot expires, inside the 5 s config-visibility
// floor (on the order path, one request later: see Background). A symbol object that must see an admin change at once reads with { fresh: true }.
export type AssetRow = typeof schema.assets.$inferSelect;

const TTL_MS = 3_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A pair written without its slash: "BTCUSD". */
const SLASHLESS_PAIR = /^([A-Z][A-Z0-9.]{0,11}?)(USD|USDT|USDC)$/i;

interface Snapshot {
  /** Every asset, ordered by symbol. */
  all: readonly AssetRow[];
  bySymbol: ReadonlyMap<string, AssetRow>;
  byId: ReadonlyMap<string, AssetRow>;
  active: ReadonlyMap<string, AssetRow>;
}

// Keyed by the D1 binding so two environments in one isolate (tests) never share rows.
// The promise is cached, so concurrent requests share one query.
let cache: { at: number; db: D1Database; snapshot: Promise<Snapshot>; refreshing?: boolean } | undefined;

/**
 * A caller that can leave work running after its answer (a request's waitUntil) gets a
 * snapshot up to STALE_MS old at once while a fresh one loads behind it: the order path
 * then never waits on D1. Others, and every caller past STALE_MS, wait for a fresh one.
 */
export type Background = (work: Promise<unknown>) => void;
const STALE_MS = 30_000;

function snapshot(env: Env, fresh = false, background?: Background): Promise<Snapshot> {
  const now = Date.now();
  const current = cache && cache.db === env.DB ? cache : undefined;
  if (!fresh && current && now - current.at < TTL_MS) return current.snapshot;
  if (!fresh && current && background && now - current.at < STALE_MS) {
    if (!current.refreshing) {
      current.refreshing = true;
      const next = { at: Date.now(), db: env.DB, snapshot: loadSnapshot(env) };
      background(next.snapshot.then(() => {
        if (cache === current) cache = next;
      }, () => {
        current.refreshing = false;
      }));
    }
    return current.snapshot;
  }
  const entry = { at: now, db: env.DB, snapshot: loadSnapshot(env) };
  cache = entry;
  // A failed read must not be served for TTL_MS: forget it so the next caller retries.
  entry.snapshot.catch(() => {
    if (cache === entry) cache = undefined;
  });
  return entry.snapshot;
}

async function loadSnapshot(env: Env): Promise<Snapshot> {
  const rows = await database(env).select().from(schema.assets).orderBy(asc(schema.assets.symbol)).all();
  return {
    all: rows,
    bySymbol: new Map(rows.map((r) => [r.symbol, r])),
    byId: new Map(rows.map((r) => [r.id, r])),
    active: new Map(rows.filter((r) => r.status === "active").map((r) => [r.symbol, r])),
  };
}

/** Drops this isolate's snapshot. The writes below call it; so must any other writer. */
export function forgetAssets(): void {
  cache = undefined;
}

/** Adds an asset (a duplicate symbol fails with D1's UNIQUE constraint error). */
export async function insertAsset(env: Env, row: AssetRow): Promise<void> {
  try {
    await database(env).insert(schema.assets).values(row);
  } finally {
    forgetAssets();
  }
}

/** Changes an asset; the row as changed, or undefined when there is no such asset. */
export async function updateAsset(env: Env, id: string, changes: Partial<Omit<AssetRow, "id" | "symbol" | "createdAt">>): Promise<AssetRow | undefined> {
  try {
    return await database(env).update(schema.assets).set(changes).where(eq(schema.assets.id, id)).returning().get();
  } finally {
    forgetAssets();
  }
}

/**
 * An asset by symbol or id, from this isolate's snapshot. A miss reads the table again:
 * an asset created in another isolate is visible at once, and only hits are cached.
 */
export async function assetBySymbol(env: Env, symbol: string, options: { fresh?: boolean; background?: Background } = {}): Promise<AssetRow | undefined> {
  const key = symbol.trim().toUpperCase();
  if (!options.fresh) {
    const hit = (await snapshot(env, false, options.background)).bySymbol.get(key);
    if (hit) return hit;
  }
  return database(env).select().from(schema.assets).where(eq(schema.assets.symbol, key)).get();
}

/**
 * The registry's spelling of each name (case aside, a pair with or without its slash), from
 * this isolate's snapshot alone: no D1 read however many names a filter lists; a name it
 * does not know is answered as given (it matches nothing).
 */
export async function registrySymbols(env: Env, names: readonly string[]): Promise<string[]> {
  const { bySymbol } = await snapshot(env);
  return names.map((name) => {
    const key = name.trim().toUpperCase();
    const pair = SLASHLESS_PAIR.exec(key);
    return bySymbol.get(key)?.symbol ?? (pair ? bySymbol.get(`${pair[1]}/${pair[2]}`)?.symbol : undefined) ?? key;
  });
}

/** An asset by symbol (case-insensitive) or by id (a UUID). */
export async function findAsset(env: Env, symbolOrId: string, background?: Background): Promise<AssetRow | undefined> {
  if (!UUID.test(symbolOrId)) {
    const direct = await assetBySymbol(env, symbolOrId, { background });
    if (direct) return direct;
    // A pair written without its slash ("BTCUSD"), as Alpaca's older crypto symbols were and
    // its API still takes: the same asset.
    const pair = SLASHLESS_PAIR.exec(symbolOrId);
    return pair ? assetBySymbol(env, `${pair[1]}/${pair[2]}`, { background }) : undefined;
  }
  const id = symbolOrId.toLowerCase();
  const hit = (await snapshot(env, false, background)).byId.get(id);
  if (hit) return hit;
  return database(env).select().from(schema.assets).where(eq(schema.assets.id, id)).get();
}

/** `name` (a symbol in any case, a pair without its slash, or an asset id) in one snapshot. */
function lookUp(snap: Snapshot, name: string): AssetRow | undefined {
  const key = name.trim();
  if (UUID.test(key)) return snap.byId.get(key.toLowerCase());
  const upper = key.toUpperCase();
  const pair = SLASHLESS_PAIR.exec(upper);
  return snap.bySymbol.get(upper) ?? (pair ? snap.bySymbol.get(`${pair[1]}/${pair[2]}`) : undefined);
}

/**
 * Many names at once (a watchlist's symbols), each as `findAsset` reads it: from this
 * isolate's snapshot and, when any is missing, from one fresh read of the table (an asset
 * created in another isolate is found) instead of a query per miss: at most one query
 * however many names (1,000 unknown ones made 1,000 at once, found in QA).
 */
export async function findAssets(env: Env, names: readonly string[], background?: Background): Promise<(AssetRow | undefined)[]> {
  const cached = await snapshot(env, false, background);
  const found = names.map((name) => lookUp(cached, name));
  if (found.every((row) => row !== undefined)) return found;
  const fresh = await snapshot(env, true);
  return names.map((name) => lookUp(fresh, name));
}

/** Every asset, ordered by symbol. */
export async function allAssets(env: Env): Promise<readonly AssetRow[]> {
  return (await snapshot(env)).all;
}

/** Every asset by symbol, active or not (an inactive one's history stays readable). */
export async function knownSymbols(env: Env): Promise<ReadonlyMap<string, AssetRow>> {
  return (await snapshot(env)).bySymbol;
}

/** Active assets by symbol; `fresh` re-reads the table (and renews this isolate's snapshot). */
export async function activeSymbols(env: Env, options: { fresh?: boolean } = {}): Promise<ReadonlyMap<string, AssetRow>> {
  return (await snapshot(env, options.fresh)).active;
}

export const instrumentSpecOf = (row: AssetRow): InstrumentSpec => instrumentSpec(row.symbol, row.assetClass, row.tickSize, row.lotSize);

/** What an account needs of an instrument to take an order on it. */
export function assetInfo(row: AssetRow): AssetInfo {
  return {
    id: row.id,
    spec: instrumentSpecOf(row),
    tradable: row.tradable,
    active: row.status === "active",
    session: row.session === null ? null : Session.parse(JSON.parse(row.session)),
  };
}
