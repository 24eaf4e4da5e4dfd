import { assetBySymbol, assetInfo } from "../../platform/assets";
import type { StrategySendReply, StrategyViewReply, StrategyViewRequest } from "../../shared/strategy/live";
import { strategyPrefixOf } from "../../shared/strategy/live";
import type { StrategyCommand } from "../../shared/strategy/invoke";
import { sendStrategyCommand } from "../../shared/strategy/send";
import { accountSummary, maxBuyQty, maxSellQty, openBuyLots, openOrdersView, positionView } from "../../shared/strategy/views";
import type { AccountRunner } from "../../shared/trading/account-runner";
import type { TradeUpdate } from "../../shared/trading/stream";
import type { VenueConfig } from "../../shared/venue/venue";
import type { AccountStore } from "./store";

/** Updates kept for strategies that have not collected them, at most. */
const MAX_KEPT = 10_000;

/**
 * The account's side of live strategies (shared/strategy/live.ts): what a strategy may see
 * of the account, its orders sent through the same runner (and risk checks) as API orders,
 * and the trade updates of its orders kept in SQLite until it collects them.
 */
export class StrategyLink {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: AccountStore,
    private readonly runner: AccountRunner,
    private readonly env: Env,
    private readonly venue: VenueConfig,
    /** Why the owner may not trade now, or null (their role and status as the gate reads them). */
    private readonly mayTrade: () => Promise<string | null>,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS strategy_updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, prefix TEXT NOT NULL, body TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS strategy_updates_prefix ON strategy_updates (prefix, seq)`);
  }

  /** Keeps the updates of strategies' orders (called right after each commit). */
  keep(updates: readonly TradeUpdate[]): void {
    let kept = false;
    for (const u of updates) {
      const prefix = strategyPrefixOf(u.data.order.client_order_id);
      if (prefix === null) continue;
      this.sql.exec(`INSERT INTO strategy_updates (prefix, body) VALUES (?, ?)`, prefix, JSON.stringify(u));
      kept = true;
    }
    if (kept) this.sql.exec(`DELETE FROM strategy_updates WHERE seq <= (SELECT MAX(seq) FROM strategy_updates) - ?`, MAX_KEPT);
  }

  view(request: StrategyViewRequest): StrategyViewReply {
    const { spec, lastTicks, prefix, afterSeq } = request;
    this.sql.exec(`DELETE FROM strategy_updates WHERE prefix = ? AND seq <= ?`, prefix, afterSeq);
    const rows = this.sql.exec<{ seq: number; body: string }>(`SELECT seq, body FROM strategy_updates WHERE prefix = ? AND seq > ? ORDER BY seq`, prefix, afterSeq).toArray();
    const engine = this.runner.engine;
    const ledger = engine.ledger;
    const open = this.store.openOrders();
    return {
      view: {
        position: positionView(ledger, spec, lastTicks),
        account: accountSummary(ledger, spec, lastTicks),
        openOrders: openOrdersView(open, spec, (id) => (id.startsWith(prefix) ? null : undefined)),
        maxBuyQty: maxBuyQty(ledger, spec, lastTicks, engine.limits(), this.venue, openBuyLots(open, spec.symbol)),
        maxSellQty: maxSellQty(ledger, spec),
      },
      updates: rows.map((r) => JSON.parse(r.body) as TradeUpdate),
      seq: rows.at(-1)?.seq ?? afterSeq,
    };
  }

  /** `traceparent`: the account's span of the call, carried into the order's venue calls and events. */
  async send(symbol: string, prefix: string, command: StrategyCommand, traceparent: string | null = null): Promise<StrategySendReply> {
    const row = await assetBySymbol(this.env, symbol);
    if (!row) return { refusal: { rule: "invalid_order", message: `${symbol} is not a listed symbol; stop the strategy` } };
    // A strategy trades as its owner may now, not as when it started: after a demotion or a
    // disable its orders are refused (its cancels still go: they only take risk off).
    // Checked after the asset's read, the last await before the runner, so a demotion that
    // lands meanwhile is seen.
    if (command.kind === "place") {
      const refusal = await this.mayTrade();
      if (refusal) return { refusal: { rule: "trading_blocked", message: `${refusal}: the strategy's orders are refused` } };
    }
    return { refusal: await sendStrategyCommand(this.runner, this.store, assetInfo(row), prefix, command, traceparent) };
  }
}
