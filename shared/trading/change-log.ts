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
    const out: AccountChanges = {
      state: this.#stateChanged ? state : null,
      orders: [...this.#orders.values()],
      activities: this.#activities,
      events: this.#events,
      tradeUpdates: this.#tradeUpdates,
      venue: this.#venue,
      anomalies: this.#anomalies,
      withdrawn: this.#withdrawn,
    };
    this.#orders.clear();
    this.#activities = [];
    this.#events = [];
    this.#tradeUpdates = [];
    this.#venue = [];
    this.#anomalies = [];
    this.#withdrawn = [];
    this.#stateChanged = false;
    return out;
  }
}
