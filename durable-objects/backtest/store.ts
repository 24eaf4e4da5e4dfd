import { inJsonChunks } from "../../platform/json-chunks";
import { packBars, PACKED_BAR_WIDTH, type BacktestJobRequest, type BacktestStatus, type MetricsView } from "../../shared/schemas/backtests";
import type { BacktestPart, BacktestReport, BarFeed, RunLogs } from "../../shared/strategy/backtest";
import type { StrategyBar } from "../../shared/strategy/runtime";

// A backtest job's storage (its object's SQLite): the request, the job's state, the bars it
// plays (kept, so a restarted run replays exactly what the first one saw even if the
// symbol's history changes meanwhile) and, once done, its results. Bars are stored in rows
// of BARS_PER_ROW (their packed numbers, 240 KB a row) and series as JSON chunks, rather
// than one row per bar: writing a million rows would cost more than the run. Rows stay far
// below SQLite's 2 MB value limit. A run reads its bars a row at a time as it plays
// (`barFeed`), so a million of them are never all in memory.

export interface JobState {
  status: BacktestStatus;
  barsDone: number;
  barsTotal: number;
  error: string | null;
  metrics: MetricsView | null;
  /** The bars are in storage (posted with the request, or read from history). */
  loaded: boolean;
  /** The D1 row and the socket have heard the final status. */
  reported: boolean;
  finishedAt: number | null;
  /** Times a code run was started (a run that took its worker down is started again by the alarm, at most MAX_CODE_STARTS times). */
  codeStarts?: number;
}

export interface StoredSummary {
  seriesPointsTotal: number;
  downsampled: boolean;
  unsent: number;
  logs: { t: number; text: string }[];
  /** Absent in a summary stored before it was kept. */
  logsDropped?: number;
}

/** Bars per stored row; an upload's chunks and history pages are multiples of it. */
export const BARS_PER_ROW = 5_000;
const SCHEMA_VERSION = 1;

/** A bar as stored: [t, open, high, low, close, volume]. */
type BarRow = [number, number, number, number, number, number];

export class JobStore {
  constructor(private readonly storage: DurableObjectStorage) {
    const sql = storage.sql;
    if (storage.kv.get<number>("schema") !== SCHEMA_VERSION) {
      sql.exec("CREATE TABLE IF NOT EXISTS bar_rows (k INTEGER PRIMARY KEY, bars TEXT NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS series (name TEXT PRIMARY KEY, points TEXT NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS fills (i INTEGER PRIMARY KEY, data TEXT NOT NULL)");
      sql.exec("CREATE TABLE IF NOT EXISTS orders (i INTEGER PRIMARY KEY, data TEXT NOT NULL)");
      storage.kv.put("schema", SCHEMA_VERSION);
    }
  }

  request(): BacktestJobRequest | undefined {
    return this.storage.kv.get<BacktestJobRequest>("request");
  }

  state(): JobState | undefined {
    return this.storage.kv.get<JobState>("state");
  }

  setState(state: JobState): void {
    this.storage.kv.put("state", state);
  }

  /** Records a new job with its bars, if it came with them; bars are not kept in the request. */
  create(request: BacktestJobRequest, state: JobState): void {
    this.storage.transactionSync(() => {
      this.storage.kv.put("request", { ...request, bars: null });
      if (request.bars) this.putBars(request.bars, 0);
      this.setState(state);
    });
  }

  /** Appends bars after the `offset` already stored (offset a multiple of the row size, or the end). */
  putBars(bars: readonly StrategyBar[], offset: number): void {
    this.putPacked(packBars(bars), offset);
  }

  /**
   * putBars for bars packed as an upload chunk is (PACKED_BAR_WIDTH numbers a bar): each
   * row is the packed numbers' bytes, a BLOB about the size of the same bars as JSON text,
   * written and read back without formatting or parsing a number.
   */
  private putPacked(packed: Float64Array, offset: number): void {
    const count = packed.length / PACKED_BAR_WIDTH;
    for (let i = 0; i < count; i += BARS_PER_ROW) {
      const row = packed.slice(i * PACKED_BAR_WIDTH, Math.min(count, i + BARS_PER_ROW) * PACKED_BAR_WIDTH);
      this.storage.sql.exec("INSERT OR REPLACE INTO bar_rows (k, bars) VALUES (?, ?)", Math.floor((offset + i) / BARS_PER_ROW), row.buffer);
    }
  }

  /** Bars uploaded so far, before the job starts (POST /api/backtests/csv streams them in). */
  uploaded(): number {
    return this.storage.kv.get<number>("uploaded") ?? 0;
  }

  /**
   * Appends uploaded bars at `offset`, which must be where the upload has got to; a chunk
   * already stored (a repeated call) changes nothing. Every chunk but the last is a whole
   * number of rows.
   */
  upload(offset: number, packed: Float64Array): number {
    const count = packed.length / PACKED_BAR_WIDTH;
    const have = this.uploaded();
    if (offset + count <= have) return have;
    if (offset !== have || offset % BARS_PER_ROW !== 0) throw new RangeError(`an upload chunk at bar ${offset} does not follow the ${have} bars stored (chunks of whole ${BARS_PER_ROW}-bar rows, in order)`);
    this.storage.transactionSync(() => {
      this.putPacked(packed, offset);
      this.storage.kv.put("uploaded", have + count);
    });
    return have + count;
  }

  /** The stored bars read in order, one row at a time: `length` of them (the job's total). */
  barFeed(length: number): BarFeed {
    let k = -1;
    let row = new Float64Array(0);
    return {
      length,
      at: (index) => {
        if (index < 0 || index >= length) return undefined;
        const want = Math.floor(index / BARS_PER_ROW);
        if (want !== k) {
          const stored = this.storage.sql.exec<{ bars: ArrayBuffer | string }>("SELECT bars FROM bar_rows WHERE k = ?", want).toArray()[0]?.bars;
          if (stored === undefined) throw new Error(`bar row ${want} is missing from the job's storage`);
          // A job stored before rows were packed numbers has them as JSON text.
          row = typeof stored === "string" ? new Float64Array((JSON.parse(stored) as BarRow[]).flat()) : new Float64Array(stored);
          k = want;
        }
        const at = (index - k * BARS_PER_ROW) * PACKED_BAR_WIDTH;
        if (at + PACKED_BAR_WIDTH > row.length) throw new Error(`bar ${index} is missing from the job's storage`);
        return { t: row[at]!, open: row[at + 1]!, high: row[at + 2]!, low: row[at + 3]!, close: row[at + 4]!, volume: row[at + 5]! };
      },
    };
  }

  /** A run starting (again, after a restart) from its first bar: nothing it handed over is kept. */
  clearRun(): void {
    this.storage.transactionSync(() => {
      this.storage.sql.exec("DELETE FROM fills");
      this.storage.sql.exec("DELETE FROM orders");
    });
  }

  /**
   * Orders and fills the run handed over: fills after those kept, orders at their place in
   * creation order. Each table's rows go in as one statement a megabyte of them (their JSON
   * read with json_each, each row's data written back as its JSON text) rather than one a
   * row. Keeping a million-bar run's 39,455 orders and fills is about 2 s of its job either
   * way: the cost is the writing, not the statements (docs/benchmarks.md).
   */
  keep(part: BacktestPart): void {
    if (part.fills.length === 0 && part.orders.length === 0) return;
    this.storage.transactionSync(() => {
      const sql = this.storage.sql;
      const next = sql.exec<{ n: number }>("SELECT coalesce(max(i) + 1, 0) AS n FROM fills").one().n;
      for (const json of inJsonChunks(part.fills.map((f, i) => [next + i, f]))) {
        sql.exec("INSERT INTO fills (i, data) SELECT value ->> 0, value -> 1 FROM json_each(?)", json);
      }
      for (const json of inJsonChunks(part.orders.map(({ seq, order }) => [seq, order]))) {
        sql.exec("INSERT OR REPLACE INTO orders (i, data) SELECT value ->> 0, value -> 1 FROM json_each(?)", json);
      }
    });
  }

  /** The run's report (its orders and fills already kept), in one transaction with its final state. */
  finish(result: BacktestReport, state: JobState): void {
    const { series } = result;
    const summary: StoredSummary = { seriesPointsTotal: series.total, downsampled: series.downsampled, unsent: result.unsent, logs: result.logs, logsDropped: result.logsDropped };
    this.storage.transactionSync(() => {
      const sql = this.storage.sql;
      sql.exec("INSERT OR REPLACE INTO series (name, points) VALUES ('equity', ?)", JSON.stringify(series.equity));
      sql.exec("INSERT OR REPLACE INTO series (name, points) VALUES ('drawdown', ?)", JSON.stringify(series.drawdown));
      this.storage.kv.put("summary", summary);
      this.setState(state);
    });
  }

  /** A failed run's final state, with what it logged until it failed, in one transaction. */
  fail(state: JobState, logs: RunLogs | null): void {
    this.storage.transactionSync(() => {
      if (logs) this.storage.kv.put("failed_logs", logs);
      this.setState(state);
    });
  }

  /** A run's log: a finished one's (in its summary), or a failed one's until it failed. */
  logs(): RunLogs | undefined {
    const summary = this.summary();
    return summary ? { logs: summary.logs, logsDropped: summary.logsDropped ?? 0 } : this.storage.kv.get<RunLogs>("failed_logs");
  }

  summary(): StoredSummary | undefined {
    return this.storage.kv.get<StoredSummary>("summary");
  }

  series<V>(name: "equity" | "drawdown"): [number, V][] {
    const row = this.storage.sql.exec<{ points: string }>("SELECT points FROM series WHERE name = ?", name).toArray()[0];
    return row ? (JSON.parse(row.points) as [number, V][]) : [];
  }

  page<T>(table: "fills" | "orders", offset: number, limit: number): { items: T[]; total: number } {
    const sql = this.storage.sql;
    if (table === "fills") {
      // Fills are numbered from 0 without gaps (keep): a page is a seek on the key and the
      // total the last number + 1. OFFSET and count(*) read every row before it, so the 193
      // pages of a 386,000-fill CSV read about 110 million rows.
      const last = sql.exec<{ n: number }>("SELECT coalesce(max(i) + 1, 0) AS n FROM fills").one().n;
      const rows = sql.exec<{ data: string }>("SELECT data FROM fills WHERE i >= ? ORDER BY i LIMIT ?", offset, limit).toArray();
      return { items: rows.map((r) => JSON.parse(r.data) as T), total: last };
    }
    const total = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;
    // Orders are keyed by their place in creation order, which has gaps (an order withdrawn before it was sent has none).
    const items = sql.exec<{ data: string }>(`SELECT data FROM ${table} ORDER BY i LIMIT ? OFFSET ?`, limit, offset).toArray();
    return { items: items.map((r) => JSON.parse(r.data) as T), total };
  }
}
