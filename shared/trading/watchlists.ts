import { accepted, refused, type Outcome } from "./outcome";

// An account's watchlists (Alpaca's `/v2/watchlists`): named, ordered lists of assets. The
// rules live here, pure; the account object stores the lists and runs each change in one
// synchronous step, so concurrent requests cannot interleave inside one. Names are unique
// per account (a list is addressed by id or by name), an asset appears at most once in a
// list, and the lists' count and length are bounded. Ids and the clock come in.

export interface WatchedAsset {
  /** The asset's id in the registry; its symbol as it was when added (the view reads the registry). */
  id: string;
  symbol: string;
}

export interface Watchlist {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  /** In the order they were added. */
  assets: WatchedAsset[];
}

export const WATCHLIST_LIMITS = { lists: 100, assets: 1000 } as const;

export type WatchlistRef = { id: string } | { name: string };

/** A change: the list as it now stands, or as it was when `deleted`. */
export interface WatchlistChange {
  list: Watchlist;
  deleted: boolean;
}

/** How a refusal names a list it did not find. */
export const missingWatchlist = (ref: WatchlistRef) => `${"id" in ref ? `watchlist ${ref.id}` : `watchlist named ${JSON.stringify(ref.name)}`} not found`;

export function findWatchlist(lists: readonly Watchlist[], ref: WatchlistRef): Watchlist | undefined {
  return lists.find((l) => ("id" in ref ? l.id === ref.id : l.name === ref.name));
}

const notFound = (ref: WatchlistRef) => refused("not_found", missingWatchlist(ref));

function nameTaken(lists: readonly Watchlist[], name: string, except: string | null): Outcome<never> | null {
  return lists.some((l) => l.name === name && l.id !== except) ? refused("watchlist", `a watchlist named ${JSON.stringify(name)} already exists`, [{ path: "name", message: "already used by another watchlist" }]) : null;
}

/** The first asset given twice, or that would make the list too long. */
function assetsProblem(assets: readonly WatchedAsset[], path: string): Outcome<never> | null {
  const seen = new Set<string>();
  for (const [i, a] of assets.entries()) {
    if (seen.has(a.id)) return refused("watchlist", `${a.symbol} is given twice`, [{ path: `${path}[${i}]`, message: `${a.symbol} is already on the list` }]);
    seen.add(a.id);
  }
  if (assets.length > WATCHLIST_LIMITS.assets) return refused("watchlist", `a watchlist holds at most ${WATCHLIST_LIMITS.assets} assets`, [{ path, message: `at most ${WATCHLIST_LIMITS.assets}` }]);
  return null;
}

export function createWatchlist(lists: readonly Watchlist[], fields: { name: string; assets: readonly WatchedAsset[] }, id: string, now: number): Outcome<WatchlistChange> {
  if (lists.length >= WATCHLIST_LIMITS.lists) return refused("watchlist", `at most ${WATCHLIST_LIMITS.lists} watchlists; delete one first`);
  const problem = nameTaken(lists, fields.name, null) ?? assetsProblem(fields.assets, "symbols");
  if (problem) return problem;
  return accepted({ list: { id, name: fields.name, createdAt: now, updatedAt: now, assets: [...fields.assets] }, deleted: false });
}

/** A new name, new contents (replacing the old in the order given), or both. */
export function updateWatchlist(lists: readonly Watchlist[], ref: WatchlistRef, fields: { name?: string; assets?: readonly WatchedAsset[] }, now: number): Outcome<WatchlistChange> {
  const list = findWatchlist(lists, ref);
  if (!list) return notFound(ref);
  const problem = (fields.name === undefined ? null : nameTaken(lists, fields.name, list.id)) ?? (fields.assets === undefined ? null : assetsProblem(fields.assets, "symbols"));
  if (problem) return problem;
  return accepted({ list: { ...list, name: fields.name ?? list.name, assets: fields.assets ? [...fields.assets] : list.assets, updatedAt: now }, deleted: false });
}

/** Appends an asset; one already on the list is refused (it would appear twice). */
export function addToWatchlist(lists: readonly Watchlist[], ref: WatchlistRef, asset: WatchedAsset, now: number): Outcome<WatchlistChange> {
  const list = findWatchlist(lists, ref);
  if (!list) return notFound(ref);
  if (list.assets.some((a) => a.id === asset.id)) return refused("watchlist", `${asset.symbol} is already on the watchlist`, [{ path: "symbol", message: "already on the list" }]);
  const problem = assetsProblem([...list.assets, asset], "symbol");
  if (problem) return problem;
  return accepted({ list: { ...list, assets: [...list.assets, asset], updatedAt: now }, deleted: false });
}

export function removeFromWatchlist(lists: readonly Watchlist[], ref: WatchlistRef, asset: WatchedAsset, now: number): Outcome<WatchlistChange> {
  const list = findWatchlist(lists, ref);
  if (!list) return notFound(ref);
  if (!list.assets.some((a) => a.id === asset.id)) return refused("not_found", `${asset.symbol} is not on the watchlist`);
  return accepted({ list: { ...list, assets: list.assets.filter((a) => a.id !== asset.id), updatedAt: now }, deleted: false });
}

export function deleteWatchlist(lists: readonly Watchlist[], ref: WatchlistRef): Outcome<WatchlistChange> {
  const list = findWatchlist(lists, ref);
  if (!list) return notFound(ref);
  return accepted({ list, deleted: true });
}

/** A change a route asks of the account's watchlists. */
export type WatchlistCommand =
  | { op: "create"; name: string; assets: WatchedAsset[] }
  | { op: "update"; ref: WatchlistRef; name?: string; assets?: WatchedAsset[] }
  | { op: "add"; ref: WatchlistRef; asset: WatchedAsset }
  | { op: "remove"; ref: WatchlistRef; asset: WatchedAsset }
  | { op: "delete"; ref: WatchlistRef };

/** Runs one command against the lists; `newId` is asked only by a create. */
export function changeWatchlists(lists: readonly Watchlist[], command: WatchlistCommand, newId: () => string, now: number): Outcome<WatchlistChange> {
  switch (command.op) {
    case "create":
      return createWatchlist(lists, command, newId(), now);
    case "update":
      return updateWatchlist(lists, command.ref, command, now);
    case "add":
      return addToWatchlist(lists, command.ref, command.asset, now);
    case "remove":
      return removeFromWatchlist(lists, command.ref, command.asset, now);
    case "delete":
      return deleteWatchlist(lists, command.ref);
  }
}
