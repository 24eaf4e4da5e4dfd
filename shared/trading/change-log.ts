import type { DomainEvent } from "../events";
import type { AccountOrder } from "./orders";
import { commandOrderId, type AccountChanges, type AccountState, type ActivityRow, type Anomaly, type VenueCommand } from "./ports";
import type { TradeUpdate } from "./stream";

/**
 * What the account engine changed since it was last drained: the orders it touched (which
 * its reads see before the book's), the records it added and the calls it owes. The engine
 * records; drain() hands it all to the shell to commit in one transaction.
 */
export class ChangeLog {
  readonly #orders = new Map<string, AccountOrder>();
  #activities: ActivityRow[] = [];
  #events: DomainEvent[] = [];
  #tradeUpdates: TradeUpdate[] = [];
  #venue: VenueCommand[] = [];
  #anomalies: Anomaly[] = [];
  #withdrawn: string[] = [];
  #stateChanged = false;

  order(id: string): AccountOrder | undefined {
    return this.#orders.get(id);
  }

  orders(): IterableIterator<AccountOrder> {
    return this.#orders.values();
  }

  /** An order created or changed; re-putting keeps its first position, with the latest object. */
  put(order: AccountOrder): void {
    this.#orders.set(order.id, order);
  }

  stateChanged(): void {
    this.#stateChanged = true;
  }

  activity(row: ActivityRow): void {
    this.#activities.push(row);
  }

  event(event: DomainEvent): void {
    this.#events.push(event);
  }

  tradeUpdate(update: TradeUpdate): void {
    this.#tradeUpdates.push(update);
  }

  venue(command: VenueCommand): void {
    this.#venue.push(command);
  }

  /** The calls owed so far, taken out of the log; the rest of what it holds stays for the next drain. */
  takeVenue(): VenueCommand[] {
    if (this.#venue.length === 0) return none();
    const venue = this.#venue;
    this.#venue = [];
    return venue;
  }

  /** An order withdrawn (its venue declined it): it is deleted, with what this log still held of it. */
  withdraw(id: string): void {
    this.#orders.delete(id);
    this.#events = this.#events.filter((e) => (e.data.order as { id?: string } | undefined)?.id !== id);
    this.#tradeUpdates = this.#tradeUpdates.filter((u) => u.data.order.id !== id);
    this.#venue = this.#venue.filter((c) => commandOrderId(c) !== id);
    this.#withdrawn.push(id);
  }

  anomaly(anomaly: Anomaly): void {
    this.#anomalies.push(anomaly);
  }

  drain(state: AccountState): AccountChanges {
    // A list nothing was added to is handed out as the one frozen empty list and kept: most
    // drains add to two or three of the seven (an order's commits run several a backtest bar).
    const out: AccountChanges = {
      state: this.#stateChanged ? state : null,
      orders: this.#orders.size === 0 ? none() : [...this.#orders.values()],
      activities: this.#activities.length === 0 ? none() : this.#activities,
      events: this.#events.length === 0 ? none() : this.#events,
      tradeUpdates: this.#tradeUpdates.length === 0 ? none() : this.#tradeUpdates,
      venue: this.#venue.length === 0 ? none() : this.#venue,
      anomalies: this.#anomalies.length === 0 ? none() : this.#anomalies,
      withdrawn: this.#withdrawn.length === 0 ? none() : this.#withdrawn,
    };
    this.#orders.clear();
    if (this.#activities.length > 0) this.#activities = [];
    if (this.#events.length > 0) this.#events = [];
    if (this.#tradeUpdates.length > 0) this.#tradeUpdates = [];
    if (this.#venue.length > 0) this.#venue = [];
    if (this.#anomalies.length > 0) this.#anomalies = [];
    if (this.#withdrawn.length > 0) this.#withdrawn = [];
    this.#stateChanged = false;
    return out;
  }
}

const NONE: readonly never[] = Object.freeze([]);
/** The frozen empty list, as any list type: a shell that pushed to a drained list would throw rather than write into the log. */
const none = <T>(): T[] => NONE as unknown as T[];
