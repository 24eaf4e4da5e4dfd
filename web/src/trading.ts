// The terminal's state: live quotes for the watchlist, and the account, orders, positions
// and fills, reloaded from REST whenever trade_updates says something changed.
import type { accountView, positionView } from "../../shared/trading/views";
import type { OrderView } from "../../shared/trading/orders";
import { api, ApiError, session } from "./api";
import { dec, type Money } from "./format";
import { market, trades, type MarketMsg } from "./streams";
import { createStore } from "./store";
import { movesATrail } from "./trailing";

export type AccountJson = ReturnType<typeof accountView>;
export type PositionJson = ReturnType<typeof positionView>;
export type OrderJson = OrderView;
export interface FillJson {
  id: string;
  execution_id: string;
  order_id: string;
  transaction_time: string;
  symbol: string;
  side: string;
  qty: string;
  price: string;
  fee: string;
  realized_pl: string;
}

export interface Quote {
  bid?: Money;
  ask?: Money;
  last?: Money;
  prevClose?: Money;
  /** Which side moved last, for the flash; and a counter so the same move flashes again. */
  moved?: "up" | "down";
  tick: number;
}

const WATCHLIST_KEY = "redfire.watchlist";
const DEFAULT_WATCHLIST = ["AAPL", "MSFT", "SPY", "TSLA", "BTC/USD", "ETH/USD"];

export const watchlist = createStore<string[]>(JSON.parse(localStorage.getItem(WATCHLIST_KEY) ?? "null") ?? DEFAULT_WATCHLIST);
export const selected = createStore<string>(watchlist.get()[0] ?? "AAPL");
export const quotes = createStore<Record<string, Quote>>({});
export const account = createStore<AccountJson | null>(null);
export const openOrders = createStore<OrderJson[]>([]);
export const closedOrders = createStore<OrderJson[]>([]);
export const positions = createStore<PositionJson[]>([]);
export const fills = createStore<FillJson[]>([]);

watchlist.subscribe((list) => {
  localStorage.setItem(WATCHLIST_KEY, JSON.stringify(list));
  subscribe();
  if (syncedFor !== null && syncedFor === userId() && !fromServer) pushWatchlist();
});

// The watchlist is also kept by the account (`/v2/watchlists`, the list named "Terminal"),
// so it follows the trader to another browser; localStorage paints it before that answers.
// Until the signed-in user's list has been read, nothing is sent (a stale local list must
// not overwrite it); a caller who may not keep one (a read-only role) keeps the local list.
const SERVER_NAME = "Terminal";
const SERVER_LIST = `/v2/watchlists:by_name?name=${encodeURIComponent(SERVER_NAME)}`;
/** Whose list the browser's copy is (a new user's account does not start with another's). */
const WATCHLIST_OWNER_KEY = "redfire.watchlist.owner";
const userId = () => session.get().user?.id ?? null;
/** The user whose account list has been read, or null. */
let syncedFor: string | null = null;
let fromServer = false;
let pushing: Promise<void> | null = null;
let dirty = false;

function adopt(symbols: string[]): void {
  fromServer = true;
  try {
    watchlist.set(symbols);
  } finally {
    fromServer = false;
  }
}

async function readServerWatchlist(): Promise<void> {
  const user = userId();
  if (user === null || syncedFor === user) return;
  syncedFor = null;
  // Twice at most: the list may be made between this read and this create (another tab).
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // A user this browser has not synced yet may have no list: the lists are asked first,
      // so a first visit makes one without a 404 in the console (found in QA).
      if (attempt === 0 && localStorage.getItem(WATCHLIST_OWNER_KEY) !== user && !(await hasServerWatchlist())) {
        if (!(await createServerWatchlist(user))) continue;
      } else adopt((await api<{ assets: { symbol: string }[] }>("GET", SERVER_LIST)).assets.map((a) => a.symbol));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404 || !(await createServerWatchlist(user))) continue;
    }
    if (userId() !== user) return;
    localStorage.setItem(WATCHLIST_OWNER_KEY, user);
    syncedFor = user;
    return;
  }
}

/** Whether the account keeps the app's list (GET /v2/watchlists lists them without their symbols). */
async function hasServerWatchlist(): Promise<boolean> {
  return (await api<{ name: string }[]>("GET", "/v2/watchlists")).some((w) => w.name === SERVER_NAME);
}

/**
 * A first visit: the account's list starts as this browser's, when it is this user's (or
 * nobody's yet), else as the default one. Answers whether the list now holds that; false
 * when it must be read (another tab made it, or some symbol was refused and the list was
 * made with the ones the platform takes, one by one).
 */
async function createServerWatchlist(user: string): Promise<boolean> {
  const owner = localStorage.getItem(WATCHLIST_OWNER_KEY);
  const seed = owner === null || owner === user ? watchlist.get() : DEFAULT_WATCHLIST;
  try {
    await api("POST", "/v2/watchlists", { name: SERVER_NAME, symbols: seed });
    adopt(seed);
    return true;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 422 || error.field("name")) return false;
  }
  try {
    await api("POST", "/v2/watchlists", { name: SERVER_NAME });
  } catch {
    return false;
  }
  for (const symbol of seed) await api("POST", SERVER_LIST, { symbol }).catch(() => undefined);
  return false;
}

/** Sends the list as it is now; changes made while a send is out go in one more send after it, so the last one wins. */
function pushWatchlist(): void {
  dirty = true;
  if (pushing) return;
  pushing = (async () => {
    while (dirty) {
      dirty = false;
      const symbols = watchlist.get();
      await api("PUT", SERVER_LIST, { symbols }).catch(async (error: unknown) => {
        // Deleted elsewhere (the API): made again from this page's list.
        if (error instanceof ApiError && error.status === 404) await api("POST", "/v2/watchlists", { name: SERVER_NAME, symbols }).catch(() => undefined);
      });
    }
    pushing = null;
  })();
}

selected.subscribe(() => subscribe());

function subscribe(): void {
  market.want(watchlist.get(), [selected.get()]);
}

const isCrypto = (s: string) => s.includes("/");

interface Snapshot {
  latestTrade?: { p: number } | null;
  latestQuote?: { bp: number; ap: number } | null;
  prevDailyBar?: { c: number } | null;
  dailyBar?: { o: number } | null;
}

/** Seeds quotes (and the previous close the change is measured from) from snapshots. */
async function loadSnapshots(symbols: string[]): Promise<void> {
  const stocks = symbols.filter((s) => !isCrypto(s));
  const crypto = symbols.filter(isCrypto);
  const none: Record<string, Snapshot> = {};
  const [s, c] = await Promise.all([
    stocks.length ? api<Record<string, Snapshot>>("GET", `/v2/stocks/snapshots?symbols=${encodeURIComponent(stocks.join(","))}`).catch(() => none) : none,
    crypto.length ? api<{ snapshots: Record<string, Snapshot> }>("GET", `/v1beta3/crypto/us/snapshots?symbols=${encodeURIComponent(crypto.join(","))}`).then((r) => r.snapshots, () => none) : none,
  ]);
  const snaps = { ...s, ...c };
  quotes.update((q) => {
    const next = { ...q };
    for (const [symbol, snap] of Object.entries(snaps)) {
      const current = next[symbol] ?? { tick: 0 };
      next[symbol] = {
        ...current,
        bid: current.bid ?? dec(snap.latestQuote?.bp),
        ask: current.ask ?? dec(snap.latestQuote?.ap),
        last: current.last ?? dec(snap.latestTrade?.p),
        prevClose: dec(snap.prevDailyBar?.c) ?? dec(snap.dailyBar?.o),
      };
    }
    return next;
  });
  // A symbol that had not traded yet (its feed starts after the page loaded) has no daily
  // bar: its snapshot is read again after its first trade (onMarket).
  for (const symbol of symbols) {
    const snap = snaps[symbol];
    if (snap?.prevDailyBar?.c === undefined && snap?.dailyBar?.o === undefined) noClose.add(symbol);
    else noClose.delete(symbol);
  }
}

/** Symbols whose snapshot answered without a previous close or a daily open to measure the change from. */
const noClose = new Set<string>();
/** When each of them was last asked for again: at most every 30 s a symbol. */
const reasked = new Map<string, number>();
const REASK_EVERY_MS = 30_000;
/** After its first trade the symbol's daily bar is stored; the snapshot is read once it surely is. */
const REASK_AFTER_MS = 1_500;

function reaskSnapshot(symbol: string): void {
  const now = Date.now();
  if (now - (reasked.get(symbol) ?? -Infinity) < REASK_EVERY_MS) return;
  reasked.set(symbol, now);
  setTimeout(() => void loadSnapshots([symbol]), REASK_AFTER_MS);
}

function onMarket(m: MarketMsg): void {
  if (m.T !== "q" && m.T !== "t") return;
  // Only once its snapshot has answered without one: a trade that comes before the page's
  // first snapshots answer asks nothing twice.
  if (m.T === "t" && noClose.has(m.S)) reaskSnapshot(m.S);
  // Only while a trailing stop is open is a trade's price read for it (this runs on every trade).
  const open = openOrders.get();
  if (m.T === "t" && open.some((o) => o.type === "trailing_stop")) {
    const price = dec(m.p);
    if (price !== undefined && movesATrail(open, m.S, price)) reloadOpenOrders();
  }
  quotes.update((q) => {
    const current = q[m.S] ?? { tick: 0 };
    const next: Quote = { ...current, tick: current.tick + 1 };
    if (m.T === "q") {
      next.bid = dec(m.bp);
      next.ask = dec(m.ap);
    } else {
      const price = dec(m.p);
      if (price !== undefined && current.last !== undefined && price !== current.last) next.moved = price > current.last ? "up" : "down";
      next.last = price;
    }
    return { ...q, [m.S]: next };
  });
}

const OPEN = new Set(["pending_new", "accepted", "new", "partially_filled"]);

/** An order as trade_updates reports it, placed in the open or closed list at once. */
export function applyOrder(o: OrderJson): void {
  const without = (list: OrderJson[]) => list.filter((x) => x.id !== o.id);
  if (OPEN.has(o.status)) {
    openOrders.update((list) => [o, ...without(list)].sort((a, b) => b.created_at.localeCompare(a.created_at)));
  } else {
    openOrders.update(without);
    closedOrders.update((list) => [o, ...without(list)].slice(0, 100));
  }
}

// The gateway rate-limits each user (200 requests a minute on the account routes by
// default): however fast fills come, the account views reload at most every 2 s.
const RELOAD_EVERY_MS = 2_000;

/** `load` at most every RELOAD_EVERY_MS, bursts collapsed into one call; `soon`: at once, unless one is waiting. */
function throttled(load: () => Promise<unknown>): (soon?: boolean) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  return (soon = false) => {
    if (timer !== undefined) return;
    const wait = soon ? 0 : Math.max(0, last + RELOAD_EVERY_MS - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      last = Date.now();
      void load().catch(() => undefined);
    }, wait);
  };
}

/**
 * Reads `path` into `store` for the user signed in when it was asked: an answer that comes
 * after another user signed in on the page is dropped, not shown as theirs.
 */
function loadFor<T>(path: string, store: { set(value: T): void }): Promise<void> {
  const asked = userId();
  return api<T>("GET", path).then((value) => {
    if (asked !== null && userId() === asked) store.set(value);
  });
}

const loadOpenOrders = () => loadFor("/v2/orders?status=open&limit=500", openOrders);

/** Reloads the account's views from REST; bursts collapse into one reload. */
export const reloadAccount = throttled(() =>
  Promise.all([
    loadFor("/v2/account", account),
    loadOpenOrders(),
    loadFor("/v2/orders?status=closed&limit=100", closedOrders),
    loadFor("/v2/positions", positions),
    loadFor("/v2/account/activities/FILL?page_size=100", fills),
  ]),
);

/**
 * Empties the account's views when the user signing in changes (sign-out included): the
 * page keeps running, and the next user must not see the last one's money, positions and
 * orders until their own load (found in QA: for 20 s and more after a sign-in as another
 * user, the terminal showed the previous account, its open orders with Cancel buttons).
 */
let viewsOf: string | null = null;
session.subscribe(({ user }) => {
  const id = user?.id ?? null;
  if (id === viewsOf) return;
  viewsOf = id;
  account.set(null);
  openOrders.set([]);
  closedOrders.set([]);
  positions.set([]);
  fills.set([]);
});

/** The open orders again (a trailing stop's stop moved), on the same terms. */
const reloadOpenOrders = throttled(loadOpenOrders);

let started = false;

/** Starts the terminal's feeds once per page load. */
export function startTerminal(): void {
  if (started) {
    subscribe();
    trades.start();
    // Another user may have signed in on this page since: their list and their account.
    void readServerWatchlist();
    reloadAccount(true);
    return;
  }
  started = true;
  market.on(onMarket);
  trades.on((u) => {
    applyOrder(u.order);
    reloadAccount();
  });
  subscribe();
  trades.start();
  void readServerWatchlist();
  void loadSnapshots(watchlist.get());
  watchlist.subscribe((list) => void loadSnapshots(list.filter((s) => !quotes.get()[s])));
  reloadAccount(true);
}

/**
 * The account's equity as it moves with the market between account reloads: cash plus each
 * position at its live price; the account's own figure while a position has no price yet.
 * The account bar and the Equity tab show this one figure.
 */
export function liveEquity(a: AccountJson | null, held: PositionJson[], q: Record<string, Quote | undefined>): Money | undefined {
  const cash = dec(a?.cash);
  const marketValue = held.reduce<Money | undefined>((sum, p) => {
    const v = livePosition(p, q[p.symbol]).value;
    return sum === undefined || v === undefined ? undefined : sum + v;
  }, 0n);
  return cash !== undefined && marketValue !== undefined ? cash + marketValue : dec(a?.equity);
}

/** Live value of a position at the last trade (else its own current price), exactly. */
export function livePosition(p: PositionJson, q: Quote | undefined): { last?: Money; value?: Money; pl?: Money } {
  const qty = dec(p.qty);
  const last = q?.last ?? dec(p.current_price);
  const basis = dec(p.cost_basis);
  if (qty === undefined || last === undefined || basis === undefined) return {};
  const value = (qty * last) / 10n ** 18n;
  return { last, value, pl: value - basis };
}
