import { DurableObject } from "cloudflare:workers";
import { DEAD_LETTERS, MESSAGES_SENT } from "../../shared/observability/catalog";
import { canonicalLabels, mergeHistogram, type CounterSeries, type HistogramSeries, type MetricsDelta } from "../../shared/observability/registry";

/** How long a dead letter's id is remembered, so a redelivered one is not counted twice. */
const DEAD_LETTER_MEMORY_MS = 7 * 24 * 3_600_000;

export interface DeadLetter {
  queue: string;
  messageId: string;
  /** The envelope's type and id, when the body was one. */
  eventType: string | null;
  eventId: string | null;
  attempts: number;
  at: number;
}

export interface MetricsSnapshot {
  totals: MetricsDelta;
  /** Open trade_updates sockets, summed over the accounts that reported some. */
  tradeSockets: number;
}

const labelsOf = (text: string): Record<string, string> => Object.fromEntries(JSON.parse(text) as [string, string][]);
const keyOf = (labels: Record<string, string>) => JSON.stringify(canonicalLabels(labels));

/**
 * The environment's counters across isolates (one object, "metrics"): each gateway isolate
 * hands it what it counted since its last flush (at most once a second, behind a request's
 * answer), the account objects report their trade sockets and frames when their sockets
 * open or close, and the dead-letter consumer records each message it gives up on. GET
 * /metrics reads its totals (docs/observability.md).
 */
export class MetricsStore extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec("CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (name, labels))");
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS histograms (name TEXT NOT NULL, labels TEXT NOT NULL, bounds TEXT NOT NULL,
      counts TEXT NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (name, labels))`);
    // An absolute gauge per account: reported again, it replaces; at zero, the row goes.
    this.#sql.exec("CREATE TABLE IF NOT EXISTS trade_sockets (account TEXT PRIMARY KEY, sockets INTEGER NOT NULL)");
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS dead_letters (queue TEXT NOT NULL, message_id TEXT NOT NULL, event_type TEXT, event_id TEXT,
      attempts INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (queue, message_id))`);
    this.#sql.exec("CREATE INDEX IF NOT EXISTS dead_letters_at ON dead_letters (at)");
  }

  /** Adds an isolate's counts since its last flush: one transaction, one row per series it touched. */
  record(delta: MetricsDelta): void {
    this.ctx.storage.transactionSync(() => {
      for (const c of delta.counters) this.#add(c);
      for (const h of delta.histograms) {
        const labels = keyOf(h.labels);
        const row = this.#sql.exec<{ bounds: string; counts: string; sum: number; count: number }>("SELECT bounds, counts, sum, count FROM histograms WHERE name = ? AND labels = ?", h.name, labels).toArray()[0];
        const merged: HistogramSeries = row ? { name: h.name, labels: h.labels, bounds: JSON.parse(row.bounds) as number[], counts: JSON.parse(row.counts) as number[], sum: row.sum, count: row.count } : { ...h, counts: h.counts.map(() => 0), sum: 0, count: 0 };
        mergeHistogram(merged, h);
        this.#sql.exec(
          "INSERT INTO histograms (name, labels, bounds, counts, sum, count) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET bounds = excluded.bounds, counts = excluded.counts, sum = excluded.sum, count = excluded.count",
          h.name,
          labels,
          JSON.stringify(merged.bounds),
          JSON.stringify(merged.counts),
          merged.sum,
          merged.count,
        );
      }
    });
  }

  /**
   * An account's open trade sockets (absolute: the last report stands) and the frames it
   * sent to them since its previous report.
   */
  reportAccount(account: string, sockets: number, framesSent: number): void {
    this.ctx.storage.transactionSync(() => {
      if (sockets > 0) this.#sql.exec("INSERT INTO trade_sockets (account, sockets) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET sockets = excluded.sockets", account, sockets);
      else this.#sql.exec("DELETE FROM trade_sockets WHERE account = ?", account);
      if (framesSent > 0) this.#add({ name: MESSAGES_SENT.name, labels: { kind: "trade" }, value: framesSent });
    });
  }

  /** Counts messages a queue consumer gave up on, each once per message id however often it is delivered. Answers how many were new. */
  deadLetters(letters: DeadLetter[]): number {
    return this.ctx.storage.transactionSync(() => letters.filter((letter) => this.#deadLetter(letter)).length);
  }

  #deadLetter(letter: DeadLetter): boolean {
    this.#sql.exec("DELETE FROM dead_letters WHERE at < ?", letter.at - DEAD_LETTER_MEMORY_MS);
    if (this.#sql.exec("SELECT 1 FROM dead_letters WHERE queue = ? AND message_id = ?", letter.queue, letter.messageId).toArray().length > 0) return false;
    this.#sql.exec(
      "INSERT INTO dead_letters (queue, message_id, event_type, event_id, attempts, at) VALUES (?, ?, ?, ?, ?, ?)",
      letter.queue,
      letter.messageId,
      letter.eventType,
      letter.eventId,
      letter.attempts,
      letter.at,
    );
    this.#add({ name: DEAD_LETTERS.name, labels: { queue: letter.queue }, value: 1 });
    return true;
  }

  snapshot(): MetricsSnapshot {
    const counters: CounterSeries[] = this.#sql
      .exec<{ name: string; labels: string; value: number }>("SELECT name, labels, value FROM counters ORDER BY name, labels")
      .toArray()
      .map((r) => ({ name: r.name, labels: labelsOf(r.labels), value: r.value }));
    const histograms: HistogramSeries[] = this.#sql
      .exec<{ name: string; labels: string; bounds: string; counts: string; sum: number; count: number }>("SELECT * FROM histograms ORDER BY name, labels")
      .toArray()
      .map((r) => ({ name: r.name, labels: labelsOf(r.labels), bounds: JSON.parse(r.bounds) as number[], counts: JSON.parse(r.counts) as number[], sum: r.sum, count: r.count }));
    const tradeSockets = this.#sql.exec<{ n: number | null }>("SELECT sum(sockets) AS n FROM trade_sockets").one().n ?? 0;
    return { totals: { counters, histograms }, tradeSockets };
  }

  #add(c: CounterSeries): void {
    this.#sql.exec("INSERT INTO counters (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value", c.name, keyOf(c.labels), c.value);
  }
}
