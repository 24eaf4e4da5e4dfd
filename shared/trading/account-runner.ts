import { orderView, type OrderRequestFields, type OrderView, type ReplaceFields } from "./orders";
import type { AccountEngine } from "./account-engine";
import type { AssetInfo } from "./asset";
import type { Money } from "./money";
import { accepted, type Outcome } from "./outcome";
import { commandOrderId, type AccountBook, type AccountChanges, type VenueAnswer, type VenueClient, type VenueCommand } from "./ports";
import type { RiskLimits } from "./risk";
import type { ConfigurationView } from "./configuration";
import { stillFresh, type MarketPrice } from "./views";
import type { Report } from "../venue/venue";
import { after, isPending, type MaybePromise } from "../maybe";

// The account's command loop, the same in the Durable Object and in memory: await what a
// command needs (prices), run it on the engine, commit what it changed in one transaction,
// then send its venue commands and apply their answers the same way, until nothing is owed.
// If a commit fails the engine is rebuilt from the book, so memory never holds what storage
// does not (a refused write cannot leave a phantom reservation behind).
//
// Every venue answer carries the symbol's price, which the runner holds (in memory: it is a
// cache) and checks the next order against while it cannot have gone stale; the submit
// carries the window of prices over which those checks agree (price-window.ts). The venue
// declines the order if its price has left the window, and the order is withdrawn and
// placed again against the price the decline answered. One call to the symbol per order
// while its price stays inside (docs/order-path.md, "Calls").

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

export interface RunnerOptions {
  /**
   * Wall time, to judge whether a held price is still fresh. Without it every order asks
   * its symbol for the price first (backtests, whose venues are in the same process).
   */
  now?: () => number;
  /**
   * For a book in memory that no crash can lose (a backtest's): what a command changes
   * before its venue calls is committed together with what their answers change, in one
   * commit rather than one before the calls and one after (two an order). A book in
   * storage must not: an order is stored before it is sent.
   */
  commitAfterCalls?: boolean;
}

const isEmpty = (c: AccountChanges) =>
  c.state === null && c.orders.length === 0 && c.activities.length === 0 && c.events.length === 0 && c.anomalies.length === 0 && c.venue.length === 0 && c.withdrawn.length === 0;

/** A declined call: the symbol's price when it declined. */
interface Declined {
  price: MarketPrice | null;
}

/**
 * Refusals every check before the first that reads the price can give, so the same under
 * any price: one of these under a held price stands; any other is checked again against
 * the price asked for, so a refusal is never due to a price the symbol no longer has.
 */
const PRICE_FREE = new Set(["client_order_id", "invalid_order", "trading_blocked", "tradable", "session", "order_rate", "not_found", "replace_pending", "not_open", "unchanged", "position"]);

export class AccountRunner {
  #engine: AccountEngine;
  /** Per symbol, the price its venue last answered. */
  readonly #held = new Map<string, MarketPrice>();
  /** Orders whose conditional call is in flight: their command decides what a decline means, so the retry alarm leaves them alone. */
  readonly #inFlight = new Set<string>();

  constructor(
    private readonly book: AccountBook,
    private readonly venues: VenueClient,
    private readonly newEngine: () => AccountEngine,
    private readonly hooks: RunnerHooks = {},
    private readonly options: RunnerOptions = {},
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
    const outcome = await this.submit(fields, asset, traceparent);
    if (!outcome.ok) return outcome;
    // An order withdrawn and placed again answers under its new id, so the id accepted is
    // always of an order the account has.
    const view = this.#view(outcome.value.id);
    if (!view) throw new Error(`order ${outcome.value.id} was placed but the account does not have it`);
    return accepted(view);
  }

  /**
   * `place` without the order's view (a strategy's order reads none): answers its id, at
   * once when the venue answers at once (a backtest's), a throw as a rejected promise.
   */
  submit(fields: OrderRequestFields, asset: AssetInfo, traceparent: string | null): MaybePromise<Outcome<{ id: string }>> {
    try {
      return this.#placing(asset.spec.symbol, traceparent, (market, held) => this.#engine.submit(fields, asset, market, traceparent, held));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async replace(id: string, fields: ReplaceFields, asset: AssetInfo, traceparent: string | null): Promise<Outcome<OrderView>> {
    const symbol = asset.spec.symbol;
    const request = (market: MarketPrice | null, held = false) => this.#engine.requestReplace(id, fields, asset, market, traceparent, held);
    const held = this.#fresh(symbol);
    let first = held ? request(held, true) : null;
    // The cancel that starts the replace carries the held price's window; a refusal a price decided is asked again.
    const conditional = first?.ok === true;
    if (!first || (!first.ok && !PRICE_FREE.has(first.refusal.rule))) first = request(await this.#price(symbol, traceparent));
    if (conditional) this.#inFlight.add(id);
    let declined: Declined | null;
    try {
      declined = await this.#settle(traceparent);
      if (declined) {
        // Nothing was canceled: the replace is undone and asked again against the venue's price.
        this.#engine.withdrawReplace(id);
        await this.#settle(traceparent);
      }
    } finally {
      this.#inFlight.delete(id);
    }
    if (declined) {
      first = request(declined.price);
      await this.#settle(traceparent);
    }
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
    // An order withdrawn meanwhile (its venue declined it) is gone, not canceled.
    return ids.map((id) => this.#view(id)).filter((v) => v !== undefined);
  }

  async closePosition(symbol: string, asset: AssetInfo, qty: string | null, percentage: string | null, traceparent: string | null): Promise<Outcome<OrderView>> {
    const outcome = await this.#placing(symbol, traceparent, (market, held) => this.#engine.closePosition(symbol, asset, qty, percentage, market, traceparent, held));
    return outcome.ok ? accepted(this.#view(outcome.value.id) ?? outcome.value) : outcome;
  }

  /** Reports pushed by a venue, with its price now; answers the last sequence applied, which acknowledges them. */
  async venueReports(symbol: string, reports: Report[], traceparent: string | null = null, price?: MarketPrice | null): Promise<number> {
    if (price !== undefined) this.#hold(symbol, price);
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

  /** Sets the account's configuration (`suspend_trade`). */
  async configure(body: Partial<ConfigurationView>, traceparent: string | null = null): Promise<Outcome<ConfigurationView>> {
    const outcome = this.#engine.configure(body, traceparent);
    await this.#settle(traceparent);
    return outcome;
  }

  async setLimits(limits: Partial<RiskLimits>): Promise<RiskLimits> {
    const merged = this.#engine.setLimits(limits);
    await this.#settle();
    return merged;
  }

  /** Resends what is owed to the venues (the retry alarm); true while something is still owed. */
  async resend(): Promise<boolean> {
    await this.#dispatch(this.#engine.owedVenueCommands().filter((c) => !this.#inFlight.has(commandOrderId(c))));
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

  // The loop answers without a promise while its venues do (in-process venues answer at
  // once; shared/maybe.ts), and otherwise exactly as an async chain would. Every public
  // command is async or turns a throw into a rejected promise, so a throw anywhere below
  // still reaches its caller as a rejection.

  /**
   * Commits what the engine changed, then sends its venue commands, until none are left.
   * Answers the decline of a call that carried a window (the command that made it decides what it means), if any.
   */
  #settle(traceparent: string | null = null): MaybePromise<Declined | null> {
    if (this.options.commitAfterCalls) {
      const calls = this.#engine.takeVenueCommands();
      if (calls.length === 0) {
        this.#commit();
        return null;
      }
      this.hooks.beforeVenueCalls?.();
      // Each answer's settle commits what it changed; a call that failed leaves it to this one.
      return after(this.#dispatch(calls, traceparent), (declined) => {
        this.#commit();
        return declined;
      });
    }
    const changes = this.#commit();
    return changes ? this.#dispatch(changes.venue, traceparent) : null;
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

  #dispatch(commands: VenueCommand[], traceparent: string | null = null): MaybePromise<Declined | null> {
    if (commands.length === 0) return null;
    if (commands.length === 1) return this.#call(commands[0]!, traceparent);
    return this.#dispatchAll(commands, traceparent);
  }

  /** Several calls at once: each is sent before any answer is applied. */
  async #dispatchAll(commands: VenueCommand[], traceparent: string | null): Promise<Declined | null> {
    let declined: Declined | null = null;
    await Promise.all(
      commands.map(async (command) => {
        let answer: VenueAnswer;
        try {
          answer = await this.#ask(command, traceparent);
        } catch (error) {
          await this.#failed(command, error);
          return;
        }
        const own = await this.#answered(command, answer, traceparent);
        if (own) declined = own;
      }),
    );
    return declined;
  }

  /** One call, and its answer applied. */
  #call(command: VenueCommand, traceparent: string | null): MaybePromise<Declined | null> {
    let answer: MaybePromise<VenueAnswer>;
    try {
      answer = this.#ask(command, traceparent);
    } catch (error) {
      return this.#failed(command, error);
    }
    return isPending(answer) ? Promise.resolve(answer).then((a) => this.#answered(command, a, traceparent), (error: unknown) => this.#failed(command, error)) : this.#answered(command, answer, traceparent);
  }

  #ask(command: VenueCommand, traceparent: string | null): MaybePromise<VenueAnswer> {
    const cursor = this.#engine.cursor(command.symbol);
    const window = command.window ?? null;
    return command.kind === "submit"
      ? this.venues.submit(command.symbol, command.request, cursor, traceparent, window)
      : this.venues.cancel(command.symbol, this.#engine.state.owner, command.orderId, cursor, traceparent, window);
  }

  /** A call failed (unreachable, or its answer was lost): the shell is told, and the call is owed. */
  #failed(command: VenueCommand, error: unknown): MaybePromise<null> {
    return after(this.hooks.venueFailed?.(command, error), () => null);
  }

  /** Applies a call's answer and settles what it changed; answers the call's own decline when it carried a window. */
  #answered(command: VenueCommand, answer: VenueAnswer, traceparent: string | null): MaybePromise<Declined | null> {
    const id = commandOrderId(command);
    this.#hold(command.symbol, answer.price);
    // A declined call the command made itself is its to handle: it runs again as if it
    // had asked for the price first, an answer that brings no reports. So the reports
    // this one carries are left for the next call's answer (the venue keeps them until
    // a cursor acknowledges them): applied now, the command would be checked against
    // fills the two-call path would not yet know of, and could be accepted where that
    // path refuses it.
    if (answer.declined && command.window) return { price: answer.price };
    // A resend answered as declined is an order whose placing died with its process: it ends rejected.
    if (answer.declined && command.kind === "submit") this.#engine.declined(id, traceparent);
    else if (command.kind === "submit") this.#engine.acknowledged(id, traceparent, answer.reports.find((r) => r.orderId === id)?.t);
    this.#engine.applyReports(command.symbol, answer.reports, traceparent);
    // What settling declines is its own commands' to handle, not this call's.
    return after(this.#settle(traceparent), () => null);
  }

  /**
   * Runs a command that places one order against its symbol's price, and settles it. With
   * a fresh held price it asks for none, and the submit carries the window of prices the
   * checks agree over; if the venue declines it (its price is outside), the order is
   * withdrawn and the command runs again against the price the
   * venue answered, its submit unconditional: what the command would have done had it
   * asked for the price first. A refusal a price could have decided is asked again too.
   */
  #placing<T extends { id: string }>(symbol: string, traceparent: string | null, command: (market: MarketPrice | null, held: boolean) => Outcome<T>): MaybePromise<Outcome<T>> {
    const held = this.#fresh(symbol);
    const first = held ? command(held, true) : null;
    if (!held || !first || (!first.ok && !PRICE_FREE.has(first.refusal.rule))) {
      return after(this.#price(symbol, traceparent), (price) => {
        const outcome = command(price, false);
        return after(this.#settle(traceparent), () => outcome);
      });
    }
    if (!first.ok) return after(this.#settle(traceparent), () => first);
    return this.#placingHeld(first.value.id, first, traceparent, command);
  }

  /** `#placing` of an order checked against a held price (a shell's: a backtest holds none). */
  async #placingHeld<T extends { id: string }>(id: string, first: Outcome<T>, traceparent: string | null, command: (market: MarketPrice | null, held: boolean) => Outcome<T>): Promise<Outcome<T>> {
    this.#inFlight.add(id);
    try {
      const declined = await this.#settle(traceparent);
      if (!declined) return first;
      // The venue has a tombstone for the id, so the order goes, and is placed again under a new one.
      if (!this.#engine.withdraw(id)) return first;
      await this.#settle(traceparent);
      const again = command(declined.price, false);
      await this.#settle(traceparent);
      return again;
    } finally {
      this.#inFlight.delete(id);
    }
  }

  /** The price held for `symbol` if it cannot have gone stale yet. */
  #fresh(symbol: string): MarketPrice | undefined {
    const now = this.options.now;
    if (!now) return undefined;
    const held = this.#held.get(symbol);
    return stillFresh(held, now()) ? held : undefined;
  }

  #hold(symbol: string, price: MarketPrice | null): void {
    if (price) this.#held.set(symbol, price);
    else this.#held.delete(symbol);
  }

  #view(id: string): OrderView | undefined {
    const order = this.#engine.order(id);
    return order ? orderView(order) : undefined;
  }

  #price(symbol: string, traceparent: string | null): MaybePromise<MarketPrice | null> {
    let asked: MaybePromise<MarketPrice | null>;
    try {
      asked = this.venues.marketPrice(symbol, traceparent);
    } catch {
      return null;
    }
    const held = (price: MarketPrice | null) => {
      this.#hold(symbol, price);
      return price;
    };
    return isPending(asked) ? Promise.resolve(asked).then(held, () => null) : held(asked);
  }

  async #prices(symbols: string[], traceparent: string | null): Promise<Record<string, MarketPrice | undefined>> {
    const entries = await Promise.all(symbols.map(async (s) => [s, (await this.#price(s, traceparent)) ?? undefined] as const));
    return Object.fromEntries(entries);
  }
}
