import type { HistoryQuery } from "../../shared/market/history";
import type { Bar, Quote, Trade } from "../../shared/market/types";

// The symbol object's SQLite tables: trades and quotes (with retention), bars for the
// stream timeframes, and the hubs that want this symbol's data. Prices are integer ticks,
// sizes integer lots.
// Version 2: bars keep Σ price·size exactly, as a decimal string (pv_exact); the REAL
// column pv stays for bars written before, whose sums were floats.
const SCHEMA_VERSION = 2;

const TRADE_RETENTION = 200_000;
const QUOTE_RETENTION = 200_000;

type Row = Record<string, SqlStorageValue>;

export class MarketStore {
  constructor(private readonly sql: SqlStorage) {
    const version = this.#version();
    if (version < 1) {
      sql.exec(`CREATE TABLE IF NOT EXISTS trades (id INTEGER PRIMARY KEY, t INTEGER NOT NULL, price INTEGER NOT NULL, size INTEGER NOT NULL, side TEXT NOT NULL)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS trades_t ON trades (t, id)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS quotes (seq INTEGER PRIMARY KEY AUTOINCREMENT, t INTEGER NOT NULL, bid INTEGER NOT NULL, ask INTEGER NOT NULL, bid_size INTEGER NOT NULL, ask_size INTEGER NOT NULL)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS quotes_t ON quotes (t, seq)`);
      sql.exec(
        `CREATE TABLE IF NOT EXISTS bars (tf TEXT NOT NULL, t INTEGER NOT NULL, o INTEGER NOT NULL, h INTEGER NOT NULL, l INTEGER NOT NULL, c INTEGER NOT NULL,
           v INTEGER NOT NULL, n INTEGER NOT NULL, pv REAL NOT NULL, first_t INTEGER NOT NULL, last_t INTEGER NOT NULL, PRIMARY KEY (tf, t)) WITHOUT ROWID`,
      );
      sql.exec(`CREATE TABLE IF NOT EXISTS hubs (name TEXT PRIMARY KEY)`);
      sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    }
    if (version < 2) {
      sql.exec(`ALTER TABLE bars ADD COLUMN pv_exact TEXT`);
      sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
    }
  }

  #version(): number {
    try {
      const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0];
      return row ? Number(row.value) : 0;
    } catch {
      return 0;
    }
  }

  insertTrade(trade: Trade): void {
    this.sql.exec(`INSERT OR IGNORE INTO trades (id, t, price, size, side) VALUES (?, ?, ?, ?, ?)`, trade.id, trade.t, trade.priceTicks, trade.sizeLots, trade.takerSide);
  }

  insertQuote(q: Quote): void {
    this.sql.exec(`INSERT INTO quotes (t, bid, ask, bid_size, ask_size) VALUES (?, ?, ?, ?, ?)`, q.t, q.bidTicks, q.askTicks, q.bidLots, q.askLots);
  }

  getBar(tf: string, t: number): Bar | undefined {
    const row = this.sql.exec<Row>(`SELECT * FROM bars WHERE tf = ? AND t = ?`, tf, t).toArray()[0];
    return row ? barOf(row) : undefined;
  }

  putBar(tf: string, bar: Bar): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO bars (tf, t, o, h, l, c, v, n, pv, pv_exact, first_t, last_t) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      tf, bar.t, bar.o, bar.h, bar.l, bar.c, bar.v, bar.n, Number(bar.pv), bar.pv, bar.firstT, bar.lastT,
    );
  }

  deleteBars(tf: string, from: number, to: number): void {
    this.sql.exec(`DELETE FROM bars WHERE tf = ? AND t >= ? AND t <= ?`, tf, from, to);
  }

  bars(tf: string, q: HistoryQuery): Bar[] {
    const [op, order] = q.sort === "asc" ? [">", "ASC"] : ["<", "DESC"];
    const cursor = q.cursor ? `AND t ${op} ?` : "";
    const args: SqlStorageValue[] = [tf, q.start, q.end, ...(q.cursor ? [q.cursor[0]] : []), q.limit];
    return this.sql.exec<Row>(`SELECT * FROM bars WHERE tf = ? AND t >= ? AND t <= ? ${cursor} ORDER BY t ${order} LIMIT ?`, ...args).toArray().map(barOf);
  }

  /** The bars of a timeframe in [start, end], up to `limit`, oldest first or newest first (for roll-ups and replay). */
  barRange(tf: string, start: number, end: number, limit: number, sort: "asc" | "desc" = "asc"): Bar[] {
    const order = sort === "asc" ? "ASC" : "DESC";
    return this.sql.exec<Row>(`SELECT * FROM bars WHERE tf = ? AND t >= ? AND t <= ? ORDER BY t ${order} LIMIT ?`, tf, start, end, limit).toArray().map(barOf);
  }

  latestBar(tf: string, before = Number.MAX_SAFE_INTEGER): Bar | undefined {
    const row = this.sql.exec<Row>(`SELECT * FROM bars WHERE tf = ? AND t <= ? ORDER BY t DESC LIMIT 1`, tf, before).toArray()[0];
    return row ? barOf(row) : undefined;
  }

  trades(q: HistoryQuery): Trade[] {
    const [op, order] = q.sort === "asc" ? [">", "ASC"] : ["<", "DESC"];
    const cursor = q.cursor ? `AND (t, id) ${op} (?, ?)` : "";
    const args: SqlStorageValue[] = [q.start, q.end, ...(q.cursor ?? []), q.limit];
    return this.sql
      .exec<Row>(`SELECT * FROM trades WHERE t >= ? AND t <= ? ${cursor} ORDER BY t ${order}, id ${order} LIMIT ?`, ...args)
      .toArray()
      .map((r) => ({ id: Number(r.id), t: Number(r.t), priceTicks: Number(r.price), sizeLots: Number(r.size), takerSide: r.side === "S" ? "S" : "B" }));
  }

  quotes(q: HistoryQuery): (Quote & { seq: number })[] {
    const [op, order] = q.sort === "asc" ? [">", "ASC"] : ["<", "DESC"];
    const cursor = q.cursor ? `AND (t, seq) ${op} (?, ?)` : "";
    const args: SqlStorageValue[] = [q.start, q.end, ...(q.cursor ?? []), q.limit];
    return this.sql
      .exec<Row>(`SELECT * FROM quotes WHERE t >= ? AND t <= ? ${cursor} ORDER BY t ${order}, seq ${order} LIMIT ?`, ...args)
      .toArray()
      .map((r) => ({ seq: Number(r.seq), t: Number(r.t), bidTicks: Number(r.bid), askTicks: Number(r.ask), bidLots: Number(r.bid_size), askLots: Number(r.ask_size) }));
  }

  lastTradeId(): number {
    return Number(this.sql.exec<{ id: number | null }>(`SELECT max(id) AS id FROM trades`).one().id ?? 0);
  }

  /** Keeps the newest trades and quotes; bars are kept for good. */
  prune(): void {
    this.sql.exec(`DELETE FROM trades WHERE id <= (SELECT max(id) FROM trades) - ?`, TRADE_RETENTION);
    this.sql.exec(`DELETE FROM quotes WHERE seq <= (SELECT max(seq) FROM quotes) - ?`, QUOTE_RETENTION);
  }

  hubs(): string[] {
    return this.sql.exec<{ name: string }>(`SELECT name FROM hubs`).toArray().map((r) => r.name);
  }

  addHub(name: string): void {
    this.sql.exec(`INSERT OR IGNORE INTO hubs (name) VALUES (?)`, name);
  }

  removeHub(name: string): void {
    this.sql.exec(`DELETE FROM hubs WHERE name = ?`, name);
  }
}

function barOf(r: Row): Bar {
  return {
    t: Number(r.t),
    o: Number(r.o),
    h: Number(r.h),
    l: Number(r.l),
    c: Number(r.c),
    v: Number(r.v),
    n: Number(r.n),
    pv: typeof r.pv_exact === "string" ? r.pv_exact : BigInt(Math.round(Number(r.pv))).toString(),
    firstT: Number(r.first_t),
    lastT: Number(r.last_t),
  };
}
