import type { DomainEvent } from "../../shared/events";
import { openLots, type AccountOrder, type OrderStatus } from "../../shared/trading/orders";
import type { Ledger } from "../../shared/trading/ledger";
import { foldActivities, type Holdings, type HoldingsMark, type PortfolioFold } from "../../shared/trading/portfolio-history";
import type { Watchlist, WatchlistChange } from "../../shared/trading/watchlists";
import type { AccountBook, AccountChanges, AccountState, ActivityQuery, ActivityRow, OrderQuery } from "../../shared/trading/ports";

// The account object's storage, behind the engine's AccountBook port: the engine's state
// in one key, and SQLite tables of orders (with the columns the list queries filter on,
// the rest as JSON), activities (fills and cash movements, the account's history) and the
// outbox of domain events not yet on the queue. commit() writes one engine command's
// changes in one transaction, and deletes there the events the queue has taken since the
// last one (so sending them costs the order path no transaction of its own).
const SCHEMA_VERSION = 5;
const STATE_KEY = "account";

// Bigints survive storage as "123n" strings.
const encode = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
const decode = <T>(text: string): T => JSON.parse(text, (_k, v: unknown) => (typeof v === "string" && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as T;

type Row = Record<string, SqlStorageValue>;

/** A stored activity row as the book hands it out. */
const activityRow = (r: Row): ActivityRow => ({ id: String(r.id), type: String(r.type), t: Number(r.t), data: JSON.parse(String(r.data)) as Record<string, unknown> });

/** Activities a portfolio history folds between two holdings marks, by default. */
const MARK_EVERY = 1_000;
/** Unsent events an incarnation follows in memory at most, by default; beyond, it reads the table. */
const KNOWN_MAX = 100;
/** Orders whose last written rows the store keeps in memory (#written). */
const WRITTEN_KEPT = 64;
/** The order an event is about (what #withdraw matches in SQL). */
const orderIdOf = (e: DomainEvent): unknown => (e.data as { order?: { id?: unknown } }).order?.id;

export class AccountStore implements AccountBook {
  private readonly sql: SqlStorage;
  /** Outbox rows being sent to the queue now. */
  readonly #sending = new Set<string>();
  /** Outbox rows the queue has taken, deleted by the next commit (or dropPublished). */
  readonly #published = new Set<string>();
  /**
   * The outbox's unsent rows (neither being sent nor published), in the order stored, when
   * this incarnation knows them exactly: from a read that took every unsent row, each commit
   * appends its events and removes a withdrawn order's. Then sending the events after a
   * command reads and parses nothing. Null when not known (a new incarnation, a failed
   * send, more than KNOWN_MAX waiting): the table is read. Bounded, so a queue that is down
   * cannot grow it.
   */
  #unsent: DomainEvent[] | null = null;
  /**
   * The rows of the orders the last commits wrote, as stored (the JSON text), newest last:
   * an order is read back right after it is written (the venue's answer acknowledges it,
   * its reports fill it), and this object is the orders table's only writer, so those reads
   * need not go to SQLite. Filled after each transaction has committed; a copy is parsed
   * for every read, as from the table.
   */
  readonly #written = new Map<string, string>();

  /** Activities folded between two holdings marks. */
  readonly #markEvery: number;
  /**
   * The latest holdings mark's time (null: there is none), or undefined when a transaction
   * deleted marks and it is to be read again (the transaction may have rolled back).
   */
  #lastMarkT: number | null | undefined;

  /** How many unsent events it follows in memory at most (0: it always reads the table). */
  readonly #knownMax: number;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly owner: string,
    options: { knownMax?: number; markEvery?: number } = {},
  ) {
    this.#knownMax = options.knownMax ?? KNOWN_MAX;
    const sql = (this.sql = storage.sql);
    sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const version = Number(sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0]?.value ?? 0);
    if (version < 1) {
      sql.exec(
        `CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL, side TEXT NOT NULL,
           status TEXT NOT NULL, open INTEGER NOT NULL, created_at INTEGER NOT NULL, data TEXT NOT NULL)`,
      );
      sql.exec(`CREATE INDEX IF NOT EXISTS orders_open ON orders (open, created_at)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS activities (id TEXT PRIMARY KEY, type TEXT NOT NULL, t INTEGER NOT NULL, data TEXT NOT NULL)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS activities_t ON activities (t, id)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, t INTEGER NOT NULL, event TEXT NOT NULL)`);
    }
    if (version < 2) {
      // Orders the retry alarm must look at (not yet at the venue, or a cancel not yet
      // confirmed): found by index, so an alarm costs nothing per resting order.
      sql.exec(`ALTER TABLE orders ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0`);
      sql.exec(`UPDATE orders SET unsettled = 1 WHERE open = 1 AND (json_extract(data, '$.atVenue') = 0 OR json_extract(data, '$.cancelRequested') = 1)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS orders_unsettled ON orders (unsettled) WHERE unsettled = 1`);
      sql.exec(`CREATE INDEX IF NOT EXISTS orders_open_symbol ON orders (symbol, side) WHERE open = 1`);
    }
    if (version < 3) {
      // What each open order may still fill, in lots (openLots): an order's risk check sums
      // it over the symbol's open buys by index instead of reading and parsing every one.
      sql.exec(`ALTER TABLE orders ADD COLUMN open_lots INTEGER NOT NULL DEFAULT 0`);
      sql.exec(`UPDATE orders SET open_lots = COALESCE(json_extract(data, '$.qty') - json_extract(data, '$.filledQty'), 0) WHERE open = 1`);
    }
    if (version < 4) {
      // The account's watchlists (shared/trading/watchlists.ts), a row each; the name is unique per account.
      sql.exec(`CREATE TABLE IF NOT EXISTS watchlists (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, data TEXT NOT NULL)`);
    }
    if (version < 5) {
      // Holdings marks (shared/trading/portfolio-history.ts): the holdings after the activity
      // at (t, id), so a portfolio history folds only what came after the latest one before its span.
      sql.exec(`CREATE TABLE IF NOT EXISTS holding_marks (t INTEGER NOT NULL, id TEXT NOT NULL, holdings TEXT NOT NULL, PRIMARY KEY (t, id))`);
    }
    this.#markEvery = options.markEvery ?? MARK_EVERY;
    this.#lastMarkT = this.#readLastMarkT();
    if (version < SCHEMA_VERSION) sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
  }

  state(): AccountState | undefined {
    const text = this.storage.kv.get<string>(STATE_KEY) ?? this.#legacyState();
    return text === undefined ? undefined : decode<AccountState>(text);
  }

  /**
   * An account stored before the engine kept its ledger under "ledger" and the rest under
   * "meta"; read as the engine's state (the previous close taken as now).
   */
  #legacyState(): string | undefined {
    const ledgerText = this.storage.kv.get<string>("ledger");
    const metaText = this.storage.kv.get<string>("meta");
    if (ledgerText === undefined || metaText === undefined) return undefined;
    const ledger = decode<Ledger>(ledgerText);
    const meta = decode<{ accountId: string; createdAt: number; limits: AccountState["limits"]; day: { date: string; loss: string }; cursors: Record<string, number>; eventSeq: number }>(metaText);
    const lots = Object.fromEntries(Object.entries(ledger.positions).filter(([, p]) => p.qty > 0).map(([symbol, p]) => [symbol, p.qty]));
    const state: AccountState = {
      accountId: meta.accountId,
      owner: this.owner,
      createdAt: meta.createdAt,
      ledger,
      limits: meta.limits,
      day: { date: meta.day.date, loss: meta.day.loss, close: { cash: (ledger.cash + ledger.reservedCash).toString(), lots } },
      cursors: meta.cursors,
      held: {},
      replacements: {},
      eventSeq: meta.eventSeq,
      anomalies: 0,
      blocked: null,
    };
    return encode(state);
  }

  /** The state as stored, for audits: bigints as "123n". */
  rawState(): string | undefined {
    return this.storage.kv.get<string>(STATE_KEY);
  }

  commit(changes: AccountChanges): void {
    const sent = [...this.#published];
    const rows = changes.orders.map((o) => [o, JSON.stringify(o)] as const);
    this.storage.transactionSync(() => {
      if (changes.state) this.storage.kv.put(STATE_KEY, encode(changes.state));
      for (const id of changes.withdrawn) this.#withdraw(id);
      for (const [o, data] of rows) this.#putOrder(o, data);
      for (const a of changes.activities) this.addActivity(a);
      for (const e of changes.events) this.enqueue(e);
      this.#deleteFromOutbox(sent);
    });
    // Committed: marks an activity deleted are gone for good (rolled back, they would still be there).
    if (this.#lastMarkT === undefined) this.#lastMarkT = this.#readLastMarkT();
    for (const id of changes.withdrawn) this.#written.delete(id);
    for (const [o, data] of rows) {
      this.#written.delete(o.id);
      this.#written.set(o.id, data);
    }
    for (const id of this.#written.keys()) {
      if (this.#written.size <= WRITTEN_KEPT) break;
      this.#written.delete(id);
    }
    // Committed: the same changes to the unsent rows, in the transaction's order (an
    // event already in the table, in any state, was not inserted again).
    if (this.#unsent) {
      const withdrawn = new Set(changes.withdrawn);
      const kept = withdrawn.size === 0 ? this.#unsent : this.#unsent.filter((e) => !withdrawn.has(orderIdOf(e) as string));
      const present = new Set(kept.map((e) => e.id));
      const next = [...kept];
      for (const e of changes.events) {
        if (present.has(e.id) || this.#sending.has(e.id) || this.#published.has(e.id)) continue;
        present.add(e.id);
        next.push(e);
      }
      this.#unsent = next.length > this.#knownMax ? null : next;
    }
    for (const id of sent) this.#published.delete(id);
  }

  /**
   * An order withdrawn (its venue declined it): deleted with its events not yet taken by
   * the queue. One being sent already cannot be recalled (docs/order-path.md, failures).
   */
  #withdraw(id: string): void {
    this.sql.exec(`DELETE FROM orders WHERE id = ?`, id);
    const taken = JSON.stringify([...this.#sending, ...this.#published]);
    this.sql.exec(`DELETE FROM outbox WHERE json_extract(event, '$.data.order.id') = ? AND id NOT IN (SELECT value FROM json_each(?))`, id, taken);
  }

  latestOrderOf(symbol: string): AccountOrder | undefined {
    return this.orders({ open: null, after: null, until: null, direction: "desc", limit: 1, symbols: [symbol], side: null })[0];
  }

  #putOrder(o: AccountOrder, data: string): void {
    this.sql.exec(
      `INSERT INTO orders (id, client_order_id, symbol, side, status, open, unsettled, open_lots, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, open = excluded.open, unsettled = excluded.unsettled, open_lots = excluded.open_lots, data = excluded.data`,
      o.id,
      o.clientOrderId,
      o.spec.symbol,
      o.side,
      o.status,
      isOpenStatus(o.status) ? 1 : 0,
      isOpenStatus(o.status) && (!o.atVenue || o.cancelRequested) ? 1 : 0,
      openLots(o),
      o.createdAt,
      data,
    );
  }

  /** The account's watchlists, oldest first. */
  watchlists(): Watchlist[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM watchlists ORDER BY created_at, id`)
      .toArray()
      .map((r) => JSON.parse(r.data) as Watchlist);
  }

  /** Stores one watchlist change (its own transaction: it touches nothing else). */
  saveWatchlist({ list, deleted }: WatchlistChange): void {
    if (deleted) this.sql.exec(`DELETE FROM watchlists WHERE id = ?`, list.id);
    else
      this.sql.exec(
        `INSERT INTO watchlists (id, name, created_at, data) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, data = excluded.data`,
        list.id,
        list.name,
        list.createdAt,
        JSON.stringify(list),
      );
  }

  /** Open orders the venue has not confirmed yet: not received, or a cancel pending. */
  unsettledOrders(): AccountOrder[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM orders WHERE unsettled = 1 ORDER BY created_at, id`)
      .toArray()
      .map((r) => JSON.parse(r.data) as AccountOrder);
  }

  /** Orders placed after `t`: the order-rate check counts from storage, so a restart does not reset it. */
  ordersSince(t: number): number {
    return Number(this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM orders WHERE created_at > ?`, t).one().n);
  }

  /** Lots left on the open orders of one symbol and side, except `except`'s (one indexed sum, nothing parsed). */
  openLotsOf(symbol: string, side: "buy" | "sell", except: readonly string[]): number {
    const row = this.sql
      .exec<{ lots: number }>(`SELECT COALESCE(SUM(open_lots), 0) AS lots FROM orders WHERE open = 1 AND symbol = ? AND side = ? AND id NOT IN (SELECT value FROM json_each(?))`, symbol, side, JSON.stringify(except))
      .one();
    return Number(row.lots);
  }

  order(id: string): AccountOrder | undefined {
    const data = this.#written.get(id) ?? this.sql.exec<{ data: string }>(`SELECT data FROM orders WHERE id = ?`, id).toArray()[0]?.data;
    return data === undefined ? undefined : (JSON.parse(data) as AccountOrder);
  }

  orderByClientId(clientOrderId: string): AccountOrder | undefined {
    const row = this.sql.exec<{ data: string }>(`SELECT data FROM orders WHERE client_order_id = ?`, clientOrderId).toArray()[0];
    return row ? (JSON.parse(row.data) as AccountOrder) : undefined;
  }

  openOrders(): AccountOrder[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM orders WHERE open = 1 ORDER BY created_at, id`)
      .toArray()
      .map((r) => JSON.parse(r.data) as AccountOrder);
  }

  orders(q: OrderQuery): AccountOrder[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    const add = clause(where, args);
    if (q.open !== null) where.push(`open = ${q.open ? 1 : 0}`);
    if (q.after !== null) add(`created_at > ?`, q.after);
    if (q.until !== null) add(`created_at < ?`, q.until);
    if (q.side) add(`side = ?`, q.side);
    // Lists go in as one JSON value: a Durable Object's SQLite takes at most 100 bound
    // parameters per statement, and a client may ask for hundreds of symbols.
    if (q.symbols) add(`symbol IN (SELECT value FROM json_each(?))`, JSON.stringify(q.symbols));
    const dir = q.direction === "asc" ? "ASC" : "DESC";
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM orders ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at ${dir}, id ${dir} LIMIT ?`, ...args, q.limit)
      .toArray()
      .map((r) => JSON.parse(r.data) as AccountOrder);
  }

  addActivity(a: ActivityRow): void {
    this.sql.exec(`INSERT OR IGNORE INTO activities (id, type, t, data) VALUES (?, ?, ?, ?)`, a.id, a.type, a.t, JSON.stringify(a.data));
    // An activity at or before a mark's time (a fill the venue reported late) is not in the
    // marks from then on: they go, and later histories fold past it again.
    const last = this.#lastMarkT === undefined ? this.#readLastMarkT() : this.#lastMarkT;
    if (last !== null && a.t <= last) {
      this.sql.exec(`DELETE FROM holding_marks WHERE t >= ?`, a.t);
      this.#lastMarkT = undefined;
    }
  }

  #readLastMarkT(): number | null {
    const t = this.sql.exec<{ t: number | null }>(`SELECT MAX(t) AS t FROM holding_marks`).one().t;
    return t === null ? null : Number(t);
  }

  /**
   * The account's holdings when [from, until) starts and every change in it: folded from the
   * latest holdings mark before `from` (or the first activity), leaving a new mark every
   * `markEvery` activities folded on the way.
   */
  portfolioFold(from: number, until: number, createdAt: number): PortfolioFold {
    const row = this.sql.exec<Row>(`SELECT t, id, holdings FROM holding_marks WHERE t < ? ORDER BY t DESC, id DESC LIMIT 1`, from).toArray()[0];
    const start: HoldingsMark | null = row ? { t: Number(row.t), id: String(row.id), holdings: decode<Holdings>(String(row.holdings)) } : null;
    const marks: HoldingsMark[] = [];
    const rows = start
      ? this.sql.exec<Row>(`SELECT id, type, t, data FROM activities WHERE t < ? AND (t > ? OR (t = ? AND id > ?)) ORDER BY t, id`, until, start.t, start.t, start.id)
      : this.sql.exec<Row>(`SELECT id, type, t, data FROM activities WHERE t < ? ORDER BY t, id`, until);
    const fold = foldActivities(
      (function* () {
        for (const r of rows) yield activityRow(r);
      })(),
      from,
      until,
      createdAt,
      { start, markEvery: this.#markEvery, mark: (m) => marks.push(m) },
    );
    // Written once the activities' cursor is done; each on its own (no transaction needed: a
    // mark is whole or absent, and nothing else depends on it).
    for (const m of marks) this.sql.exec(`INSERT OR REPLACE INTO holding_marks (t, id, holdings) VALUES (?, ?, ?)`, m.t, m.id, encode(m.holdings));
    if (marks.length > 0 && this.#lastMarkT !== undefined) this.#lastMarkT = Math.max(this.#lastMarkT ?? -Infinity, marks.at(-1)!.t);
    return fold;
  }

  activities(q: ActivityQuery): ActivityRow[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    const add = clause(where, args);
    if (q.types) add(`type IN (SELECT value FROM json_each(?))`, JSON.stringify(q.types));
    if (q.after !== null) add(`t > ?`, q.after);
    if (q.until !== null) add(`t < ?`, q.until);
    // Activity ids sort by time (yyyymmddHHMMSSmmm::uuid), so the token is a position.
    if (q.pageToken) add(q.direction === "asc" ? `id > ?` : `id < ?`, q.pageToken);
    const dir = q.direction === "asc" ? "ASC" : "DESC";
    return this.sql
      .exec<Row>(`SELECT id, type, t, data FROM activities ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id ${dir} LIMIT ?`, ...args, q.pageSize)
      .toArray()
      .map(activityRow);
  }

  enqueue(event: DomainEvent): void {
    this.sql.exec(`INSERT OR IGNORE INTO outbox (id, t, event) VALUES (?, ?, ?)`, event.id, Date.parse(event.occurredAt), JSON.stringify(event));
  }

  /**
   * Events not yet on the queue and not being sent, oldest first, at most `limit`; they
   * count as being sent until published() or unsent().
   */
  takeOutbox(limit = 100): { id: string; event: DomainEvent }[] {
    if (this.#unsent) {
      // The table's order: time, then insertion (a stable sort of the rows in insertion order).
      const ordered = this.#unsent.map((event, i) => ({ event, i, t: Date.parse(event.occurredAt) })).sort((a, b) => a.t - b.t || a.i - b.i);
      const taken = ordered.slice(0, limit).map((r) => r.event);
      this.#unsent = ordered.slice(limit).sort((a, b) => a.i - b.i).map((r) => r.event);
      for (const e of taken) this.#sending.add(e.id);
      return taken.map((event) => ({ id: event.id, event }));
    }
    const taken = this.#sending.size + this.#published.size;
    const read = this.sql.exec<{ id: string; event: string }>(`SELECT id, event FROM outbox ORDER BY t, rowid LIMIT ?`, limit + taken).toArray();
    const unsent = read.filter((r) => !this.#sending.has(r.id) && !this.#published.has(r.id));
    const rows = unsent.slice(0, limit);
    // Every row was read and every unsent one is taken now: from here on they are known.
    if (this.#knownMax > 0 && read.length < limit + taken && unsent.length <= limit) this.#unsent = [];
    for (const r of rows) this.#sending.add(r.id);
    return rows.map((r) => ({ id: r.id, event: JSON.parse(r.event) as DomainEvent }));
  }

  /**
   * The queue has taken these events. Their rows go with the next commit; if the process
   * dies first, they are sent again (every consumer is idempotent).
   */
  published(ids: string[]): void {
    for (const id of ids) {
      this.#sending.delete(id);
      this.#published.add(id);
    }
  }

  /** Sending these events failed: they are owed again (and read from the table again). */
  unsent(ids: string[]): void {
    for (const id of ids) this.#sending.delete(id);
    if (ids.length > 0) this.#unsent = null;
  }

  /** Deletes the published events now, for when no commit is coming (the retry alarm). */
  dropPublished(): void {
    if (this.#published.size === 0) return;
    const sent = [...this.#published];
    this.#deleteFromOutbox(sent);
    for (const id of sent) this.#published.delete(id);
  }

  #deleteFromOutbox(ids: string[]): void {
    // One statement whatever the count: a JSON list binds as one parameter.
    if (ids.length > 0) this.sql.exec(`DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
  }

  /** Events not yet on the queue (published ones wait for deletion and are not counted). */
  outboxSize(): number {
    if (this.#unsent) return this.#unsent.length + this.#sending.size;
    return Number(this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).one().n) - this.#published.size;
  }

  counts(): Record<string, number> {
    const rows = this.sql.exec<{ status: OrderStatus; n: number }>(`SELECT status, COUNT(*) AS n FROM orders GROUP BY status`).toArray();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}

const isOpenStatus = (s: OrderStatus) => s === "pending_new" || s === "new" || s === "partially_filled";

/** Adds a WHERE clause and its bound values. */
function clause(where: string[], args: SqlStorageValue[]) {
  return (sql: string, ...values: SqlStorageValue[]) => {
    where.push(sql);
    args.push(...values);
  };
}
