import { orderView, type OrderRequestFields, type OrderView } from "./orders";
import type { AccountEngine } from "./account-engine";
import type { AssetInfo } from "./asset";
import type { Money } from "./money";
import { accepted, type Outcome } from "./outcome";
import type { AccountBook, AccountChanges, VenueClient, VenueCommand } from "./ports";
import type { RiskLimits } from "./risk";
import type { MarketPrice } from "./views";
import type { Report } from "../venue/venue";

// The account's command loop, the same in the Durable Object and in memory: await what a
// command needs (prices), run it on the engine, commit what it changed in one transaction,
// then send its venue commands and apply their answers the same way, until nothing is owed.
// If a commit fails the engine is rebuilt from the book, so memory never holds what storage
// does not (a refused write cannot leave a phantom reservation behind).

export interface RunnerHooks {
  /**
   * Right after a commit that owes venue calls, in the same synchronous run: the shell arms
   * its retry alarm, so a call lost in a crash is resent, and the alarm's write joins the
   * commit's transaction (writes with no await between them are committed together).
   */
  beforeVenueCalls?(): void;
  /** After each commit, also in its synchronous run: the shell broadcasts trade updates and logs anomalies. */
  committed?(changes: AccountChanges): void;
  /** A venue call failed (unreachable, or its answer was lost); the owed call is resent later. */
  venueFailed?(command: VenueCommand, error: unknown): Promise<void> | void;
}

const isEmpty = (c: AccountChanges) => c.state === null && c.orders.length === 0 && c.activities.length === 0 && c.events.length === 0 && c.anomalies.length === 0 && c.venue.length === 0;

export class AccountRunner {
  #engine: AccountEngine;

  constructor(
    private readonly book: AccountBook,
    private readonly venues: VenueClient,
    private readonly newEngine: () => AccountEngine,
    private readonly hooks: RunnerHooks = {},
  ) {
    this.#engine = newEngine();
    // A new account's opening deposit.
    const opening = this.#engine.drain();
    if (!isEmpty(opening)) book.commit(opening);
  }

  get engine(): AccountEngine {
    return this.#engine;
  }

  // ---- commands -------------------------------------------------------------------------

  // A command's `traceparent` goes into its events and on to the venue calls it makes, so
  // the symbol objects' spans are children of the caller's (docs/tracing.md).

  async place(fields: OrderRequestFields, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    const market = await this.#price(asset.spec.symbol, traceparent);
    const outcome = this.#engine.place(fields, asset, market, traceparent);
    await this.#settle(traceparent);
    return outcome.ok ? accepted(this.#view(outcome.value.id) ?? outcome.value) : outcome;
  }

  async replace(id: string, fields: Partial<OrderRequestFields>, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    const market = await this.#price(asset.spec.symbol, traceparent);
    const first = this.#engine.requestReplace(id, fields, asset, market, traceparent);
    await this.#settle(traceparent);
    if (!first.ok) return first;
    const outcome = this.#engine.replaceOutcome(id, first.value.replacementId);
    await this.#settle(traceparent);
    return outcome.ok ? accepted(this.#view(outcome.value.id) ?? outcome.value) : outcome;
  }

  async cancel(id: string, traceparent: string | null = null): Promise<Outcome<null>> {
    const outcome = this.#engine.requestCancel(id);
    await this.#settle(traceparent);
    return outcome;
  }

  async cancelAll(traceparent: string | null = null): Promise<OrderView[]> {
    const ids = this.#engine.cancelAll();
    await this.#settle(traceparent);
    return ids.map((id) => this.#view(id)!);
  }

  async closePosition(symbol: string, asset: AssetInfo, qty: string | null, percentage: string | null, traceparent: string | null): Promise<Outcome<OrderView>> {
    const market = await this.#price(symbol, traceparent);
    const outcome = this.#engine.closePosition(symbol, asset, qty, percentage, market, traceparent);
    await this.#settle(traceparent);
    return outcome.ok ? accepted(this.#view(outcome.value.id) ?? outcome.value) : outcome;
  }

  /** Reports pushed by a venue; answers the last sequence applied, which acknowledges them. */
  async venueReports(symbol: string, reports: Report[], traceparent: string | null = null): Promise<number> {
    this.#engine.applyReports(symbol, reports, traceparent);
    await this.#settle(traceparent);
    return this.#engine.cursor(symbol);
  }

  async deposit(amount: Money, traceparent: string | null): Promise<{ cash: string }> {
    const result = this.#engine.deposit(amount, traceparent);
    await this.#settle();
    return result;
  }

  /** Cancels every open order, then starts the account over with `cash`. */
  async reset(cash: Money, traceparent: string | null): Promise<Outcome<{ cash: string }>> {
    const bound = this.#engine.checkReset(cash);
    if (!bound.ok) return bound;
    this.#engine.cancelAll();
    await this.#settle(traceparent);
    const outcome = this.#engine.reset(cash, traceparent);
    await this.#settle();
    return outcome;
  }

  /** Blocks trading (canceling every open order) or lifts the block. */
  async setTradingBlocked(blocked: boolean, reason: string, traceparent: string | null): Promise<void> {
    this.#engine.setTradingBlocked(blocked, reason, traceparent);
    await this.#settle(traceparent);
  }

  async setLimits(limits: Partial<RiskLimits>): Promise<RiskLimits> {
    const merged = this.#engine.setLimits(limits);
    await this.#settle();
    return merged;
  }

  /** Resends what is owed to the venues (the retry alarm); true while something is still owed. */
  async resend(): Promise<boolean> {
    await this.#dispatch(this.#engine.owedVenueCommands());
    return this.#engine.owedVenueCommands().length > 0;
  }

  // ---- views ----------------------------------------------------------------------------

  async account(traceparent: string | null = null) {
    const prices = await this.#prices(this.#engine.pricedSymbols(), traceparent);
    // Reading the account may start a new trading day; that is stored like any change.
    this.#engine.rollDay();
    await this.#settle(traceparent);
    return this.#engine.accountView(prices);
  }

  async positions(traceparent: string | null = null) {
    const prices = await this.#prices(this.#engine.pricedSymbols(), traceparent);
    return this.#engine.positions(prices);
  }

  // ---- the loop -------------------------------------------------------------------------

  /** Commits what the engine changed, then sends its venue commands, until none are left. */
  async #settle(traceparent: string | null = null): Promise<void> {
    const changes = this.#commit();
    if (changes) await this.#dispatch(changes.venue, traceparent);
  }

  #commit(): AccountChanges | null {
    const changes = this.#engine.drain();
    if (isEmpty(changes)) return null;
    try {
      this.book.commit(changes);
    } catch (error) {
      this.#engine = this.newEngine();
      throw error;
    }
    // The retry alarm is armed before anything awaits (the venue call itself): if the
    // process dies after the commit, the stored order is still sent.
    if (changes.venue.length > 0) this.hooks.beforeVenueCalls?.();
    this.hooks.committed?.(changes);
    return changes;
  }

  async #dispatch(commands: VenueCommand[], traceparent: string | null = null): Promise<void> {
    if (commands.length === 0) return;
    await Promise.all(
      commands.map(async (command) => {
        const owner = this.#engine.state.owner;
        let reports: Report[];
        try {
          const cursor = this.#engine.cursor(command.symbol);
          reports =
            command.kind === "submit"
              ? (await this.venues.submit(command.symbol, command.request, cursor, traceparent)).reports
              : (await this.venues.cancel(command.symbol, owner, command.orderId, cursor, traceparent)).reports;
        } catch (error) {
          await this.hooks.venueFailed?.(command, error);
          return;
        }
        if (command.kind === "submit") this.#engine.acknowledged(command.request.id, traceparent);
        this.#engine.applyReports(command.symbol, reports, traceparent);
        await this.#settle(traceparent);
      }),
    );
  }

  #view(id: string): OrderView | undefined {
    const order = this.#engine.order(id);
    return order ? orderView(order) : undefined;
  }

  async #price(symbol: string, traceparent: string | null): Promise<MarketPrice | null> {
    try {
      return await this.venues.marketPrice(symbol, traceparent);
    } catch {
      return null;
    }
  }

  async #prices(symbols: string[], traceparent: string | null): Promise<Record<string, MarketPrice | undefined>> {
    const entries = await Promise.all(symbols.map(async (s) => [s, (await this.#price(s, traceparent)) ?? undefined] as const));
    return Object.fromEntries(entries);
  }
}
