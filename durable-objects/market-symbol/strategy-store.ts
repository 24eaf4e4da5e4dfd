import type { FeedEvent } from "../../shared/market/feed";
import type { StrategyCommand } from "../../shared/strategy/invoke";
import { newCounters, type LiveCounters, type LiveStatusName, type LiveStrategyConfig } from "../../shared/strategy/live-host";
import { memoryJson, type CheckedState, type LogLine, type StrategyMemory } from "../../shared/strategy/runtime";

/** Log lines kept per strategy (the oldest go first). */
const LOG_KEPT = 500;

export interface LiveRow {
  config: LiveStrategyConfig;
  status: LiveStatusName;
  message: string | null;
  memory: StrategyMemory;
  /** Orders placed in the last onBar, sent at the next print's quote. */
  held: StrategyCommand[];
  /** The last update of its orders collected from the account. */
  updateSeq: number;
  /** The last feed event it has heard (strategy_events.seq). */
  heardSeq: number;
  stats: LiveCounters;
}

type Row = { id: string; config: string; status: string; message: string | null; memory: string; held: string; update_seq: number; heard_seq: number; stats: string };

/** The symbol object's SQLite tables for its live strategies and their logs. */
export class LiveStrategyStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS live_strategies (id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
      memory TEXT NOT NULL, held TEXT NOT NULL, update_seq INTEGER NOT NULL, stats TEXT NOT NULL)`);
    // Added after the table first shipped: existing tables gain the column.
    if (!sql.exec<{ name: string }>(`PRAGMA table_info(live_strategies)`).toArray().some((c) => c.name === "heard_seq")) {
      sql.exec(`ALTER TABLE live_strategies ADD COLUMN heard_seq INTEGER NOT NULL DEFAULT 0`);
    }
    // The feed's events stored with the prints they come from, until every running
    // strategy has heard them: a restart between a commit and the strategies loses none.
    sql.exec(`CREATE TABLE IF NOT EXISTS strategy_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS live_strategy_logs (id TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (id, seq))`);
  }

  create(config: LiveStrategyConfig): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO live_strategies (id, config, status, message, memory, held, update_seq, heard_seq, stats) VALUES (?, ?, 'running', NULL, ?, '[]', 0, ?, ?)`,
      config.id,
      JSON.stringify(config),
      JSON.stringify({ state: {}, nextId: 0, tags: {} } satisfies StrategyMemory),
      // A new strategy hears what prints from now on, not what is still queued for others.
      this.lastEventSeq(),
      JSON.stringify(newCounters(Date.now())),
    );
  }

  /** Queues feed events for the running strategies (in the transaction that stores their prints). */
  appendEvents(events: readonly FeedEvent[]): void {
    for (const event of events) this.sql.exec(`INSERT INTO strategy_events (event) VALUES (?)`, JSON.stringify(event));
  }

  /** Queued events after `afterSeq`, oldest first. */
  eventsAfter(afterSeq: number, limit: number): { seq: number; event: FeedEvent }[] {
    return this.sql
      .exec<{ seq: number; event: string }>(`SELECT seq, event FROM strategy_events WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
      .toArray()
      .map((r) => ({ seq: r.seq, event: JSON.parse(r.event) as FeedEvent }));
  }

  lastEventSeq(): number {
    return this.sql.exec<{ seq: number | null }>(`SELECT MAX(seq) AS seq FROM strategy_events`).one().seq ?? this.#sequenceFloor();
  }

  /** AUTOINCREMENT remembers the last seq after the table empties: new rows continue from it. */
  #sequenceFloor(): number {
    return this.sql.exec<{ seq: number | null }>(`SELECT seq FROM sqlite_sequence WHERE name = 'strategy_events'`).toArray()[0]?.seq ?? 0;
  }

  /** Drops the events every running strategy has heard (all of them when none runs). */
  pruneEvents(): void {
    const floor = this.sql.exec<{ heard: number | null }>(`SELECT MIN(heard_seq) AS heard FROM live_strategies WHERE status = 'running'`).one().heard;
    this.sql.exec(`DELETE FROM strategy_events WHERE seq <= ?`, floor ?? Number.MAX_SAFE_INTEGER);
  }

  get(id: string): LiveRow | undefined {
    const row = this.sql.exec<Row>(`SELECT * FROM live_strategies WHERE id = ?`, id).toArray()[0];
    return row && parse(row);
  }

  runningIds(): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM live_strategies WHERE status = 'running' ORDER BY id`)
      .toArray()
      .map((r) => r.id);
  }

  /** Moves a strategy's cursor past an event that changed nothing else for it. */
  saveCursor(id: string, heardSeq: number): void {
    this.sql.exec(`UPDATE live_strategies SET heard_seq = ? WHERE id = ?`, heardSeq, id);
  }

  /** How many of `owner`'s strategies other than `except` are running. */
  runningOf(owner: string, except: string): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM live_strategies WHERE status = 'running' AND json_extract(config, '$.owner') = ? AND id != ?`, owner, except).one().n;
  }

  runningCount(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM live_strategies WHERE status = 'running'`).one().n;
  }

  /** Stores a strategy's row; `checked` is its state's JSON from the last callback's check, if nothing has changed it since. */
  save(row: LiveRow, checked: CheckedState | null = null): void {
    this.sql.exec(
      `UPDATE live_strategies SET status = ?, message = ?, memory = ?, held = ?, update_seq = ?, heard_seq = ?, stats = ? WHERE id = ?`,
      row.status,
      row.message,
      memoryJson(row.memory, checked),
      JSON.stringify(row.held),
      row.updateSeq,
      row.heardSeq,
      JSON.stringify(row.stats),
      row.config.id,
    );
  }

  setStatus(id: string, status: LiveStatusName, message: string | null): void {
    this.sql.exec(`UPDATE live_strategies SET status = ?, message = ? WHERE id = ?`, status, message, id);
  }

  /** Appends log lines; answers their sequence numbers. */
  appendLogs(id: string, lines: LogLine[]): number[] {
    const last = this.sql.exec<{ seq: number | null }>(`SELECT MAX(seq) AS seq FROM live_strategy_logs WHERE id = ?`, id).one().seq ?? 0;
    const seqs = lines.map((line, i) => {
      this.sql.exec(`INSERT INTO live_strategy_logs (id, seq, t, text) VALUES (?, ?, ?, ?)`, id, last + i + 1, line.t, line.text);
      return last + i + 1;
    });
    this.sql.exec(`DELETE FROM live_strategy_logs WHERE id = ? AND seq <= ?`, id, last + lines.length - LOG_KEPT);
    return seqs;
  }

  logs(id: string, afterSeq: number, limit: number): { seq: number; t: number; text: string }[] {
    return this.sql.exec<{ seq: number; t: number; text: string }>(`SELECT seq, t, text FROM live_strategy_logs WHERE id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, afterSeq, limit).toArray();
  }
}

function parse(row: Row): LiveRow {
  return {
    config: JSON.parse(row.config) as LiveStrategyConfig,
    status: row.status as LiveStatusName,
    message: row.message,
    memory: JSON.parse(row.memory) as StrategyMemory,
    held: JSON.parse(row.held) as StrategyCommand[],
    updateSeq: row.update_seq,
    heardSeq: row.heard_seq,
    stats: JSON.parse(row.stats) as LiveCounters,
  };
}
