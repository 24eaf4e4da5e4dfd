import type { Report, VenueOrder, VenueState } from "../../shared/venue/venue";

// The venue's tables in the symbol object's SQLite: its orders (finished ones are kept a
// while so a resent order id is recognised and ignored) and the outbox of reports not yet
// acknowledged by their accounts.
const FINISHED_RETENTION_MS = 7 * 24 * 3_600_000;

export class VenueStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: DurableObjectStorage["kv"],
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS venue_orders (id TEXT PRIMARY KEY, account TEXT NOT NULL, live INTEGER NOT NULL, updated INTEGER NOT NULL, data TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS venue_orders_live ON venue_orders (live, updated)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS venue_outbox (seq INTEGER PRIMARY KEY, account TEXT NOT NULL, due INTEGER NOT NULL, report TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS venue_outbox_account ON venue_outbox (account, seq)`);
    // The venue's own record of every fill it made, kept after the outbox is acknowledged:
    // the other side an account's fills are reconciled against.
    sql.exec(`CREATE TABLE IF NOT EXISTS venue_fills (seq INTEGER PRIMARY KEY, account TEXT NOT NULL, t INTEGER NOT NULL, report TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS venue_fills_account ON venue_fills (account, seq)`);
  }

  state(): VenueState | undefined {
    return this.kv.get<VenueState>("venue");
  }

  saveState(state: VenueState): void {
    this.kv.put("venue", state);
  }

  liveOrders(): VenueOrder[] {
    return this.sql
      .exec<{ data: string }>(`SELECT data FROM venue_orders WHERE live = 1`)
      .toArray()
      .map((r) => JSON.parse(r.data) as VenueOrder);
  }

  seen(id: string): boolean {
    return this.sql.exec(`SELECT 1 FROM venue_orders WHERE id = ?`, id).toArray().length > 0;
  }

  putOrder(order: VenueOrder, live: boolean, now: number): void {
    this.sql.exec(
      `INSERT INTO venue_orders (id, account, live, updated, data) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET live = excluded.live, updated = excluded.updated, data = excluded.data`,
      order.id,
      order.account,
      live ? 1 : 0,
      now,
      JSON.stringify(order),
    );
  }

  finish(id: string, now: number): void {
    this.sql.exec(`INSERT INTO venue_orders (id, account, live, updated, data) VALUES (?, '', 0, ?, '{}') ON CONFLICT (id) DO UPDATE SET live = 0, updated = excluded.updated`, id, now);
  }

  /** An order declined because the price it was checked against had moved: remembered, so a resend of its id is declined again and never fills. */
  decline(id: string, account: string, now: number): void {
    this.sql.exec(`INSERT OR IGNORE INTO venue_orders (id, account, live, updated, data) VALUES (?, ?, 0, ?, '{"declined":true}')`, id, account, now);
  }

  /** Whether `id` is an order the venue declined (decline()). */
  declined(id: string): boolean {
    return this.sql.exec(`SELECT 1 FROM venue_orders WHERE id = ? AND data = '{"declined":true}'`, id).toArray().length > 0;
  }

  /** A cancel for an order the venue never received: remembered, so the order is refused if it arrives later. */
  tombstone(id: string, account: string, now: number): void {
    this.sql.exec(`INSERT OR IGNORE INTO venue_orders (id, account, live, updated, data) VALUES (?, ?, 0, ?, '{}')`, id, account, now);
  }

  /** Queues reports for their accounts and records the fills among them; call inside the venue's transaction. */
  enqueue(reports: readonly Report[], due: number): void {
    for (const r of reports) {
      const text = JSON.stringify(r);
      this.sql.exec(`INSERT OR IGNORE INTO venue_outbox (seq, account, due, report) VALUES (?, ?, ?, ?)`, r.seq, r.account, due, text);
      if (r.kind === "fill") this.sql.exec(`INSERT OR IGNORE INTO venue_fills (seq, account, t, report) VALUES (?, ?, ?, ?)`, r.seq, r.account, r.t, text);
    }
  }

  /** The fills the venue made for an account, in sequence order, after `afterSeq`. */
  fills(account: string, afterSeq: number, limit: number): Extract<Report, { kind: "fill" }>[] {
    return this.sql
      .exec<{ report: string }>(`SELECT report FROM venue_fills WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?`, account, afterSeq, limit)
      .toArray()
      .map((r) => JSON.parse(r.report) as Extract<Report, { kind: "fill" }>);
  }

  pending(account: string): Report[] {
    return this.sql
      .exec<{ report: string }>(`SELECT report FROM venue_outbox WHERE account = ? ORDER BY seq LIMIT 1000`, account)
      .toArray()
      .map((r) => JSON.parse(r.report) as Report);
  }

  /** Accounts with reports due for delivery. */
  dueAccounts(now: number): string[] {
    return this.sql
      .exec<{ account: string }>(`SELECT DISTINCT account FROM venue_outbox WHERE due <= ?`, now)
      .toArray()
      .map((r) => r.account);
  }

  /** When the first report in the outbox comes due; null when it is empty. */
  earliestDue(): number | null {
    const due = this.sql.exec<{ due: number | null }>(`SELECT MIN(due) AS due FROM venue_outbox`).one().due;
    return due === null ? null : Number(due);
  }

  /** Whether any report waits (one row looked at, where counting reads them all). */
  outboxEmpty(): boolean {
    return this.sql.exec(`SELECT 1 FROM venue_outbox LIMIT 1`).toArray().length === 0;
  }

  outboxSize(): number {
    return Number(this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM venue_outbox`).one().n);
  }

  acknowledge(account: string, upTo: number): void {
    this.sql.exec(`DELETE FROM venue_outbox WHERE account = ? AND seq <= ?`, account, upTo);
  }

  prune(now: number): void {
    this.sql.exec(`DELETE FROM venue_orders WHERE live = 0 AND updated < ?`, now - FINISHED_RETENTION_MS);
    this.sql.exec(`DELETE FROM venue_fills WHERE t < ?`, now - FINISHED_RETENTION_MS);
  }
}
