import type { AccountRunner } from "../trading/account-runner";
import type { AssetInfo } from "../trading/asset";
import { isOpen } from "../trading/orders";
import type { Rule } from "../trading/outcome";
import type { AccountBook } from "../trading/ports";
import type { StrategyCommand } from "./invoke";
import { after, type MaybePromise } from "../maybe";

/**
 * One strategy command through an account's runner, with the risk checks of an API order:
 * the one rule for a backtest's in-process port and for the account object's side of a
 * live strategy. A strategy acts only on its own orders — those whose client order id
 * starts with `prefix` — on its own symbol; a refused order answers why.
 */
export function sendStrategyCommand(runner: AccountRunner, book: AccountBook, asset: AssetInfo, prefix: string, command: StrategyCommand, traceparent: string | null = null): MaybePromise<Refused | null> {
  // An order answers at once when its venue does (a backtest's); the rest is rare and async.
  if (command.kind !== "place") return sendOther(runner, book, asset, prefix, command, traceparent);
  // The id the order is placed under, not only the command's: sandboxed code can rewrite its fields.
  if (!command.id.startsWith(prefix) || command.fields.client_order_id !== command.id) return { rule: "invalid_order", message: "a strategy's order ids carry its prefix" };
  return after(runner.submit(command.fields, asset, traceparent), (outcome) => (outcome.ok ? null : { rule: outcome.refusal.rule, message: inStrategyWords(outcome.refusal.message) }));
}

type Refused = { rule: Rule; message: string };

/** The API's field names and what ctx.buy/ctx.sell call them. */
const FIELD_NAMES: Record<string, string> = { limit_price: "limit", stop_price: "stop", trail_price: "trailPrice", trail_percent: "trailPercent", time_in_force: "tif" };
const API_FIELD = /\b(limit_price|stop_price|trail_price|trail_percent|time_in_force)\b/g;

/** A refusal as the strategy's author reads it: the account's checks name the API's fields, the code wrote ctx's (found in QA). */
export const inStrategyWords = (message: string): string => message.replace(API_FIELD, (name) => FIELD_NAMES[name] ?? name);

async function sendOther(runner: AccountRunner, book: AccountBook, asset: AssetInfo, prefix: string, command: Exclude<StrategyCommand, { kind: "place" }>, traceparent: string | null): Promise<Refused | null> {
  switch (command.kind) {
    case "cancel": {
      const order = command.id.startsWith(prefix) ? book.orderByClientId(command.id) : undefined;
      if (order && isOpen(order.status)) await runner.cancel(order.id, traceparent);
      return null;
    }
    case "cancelAll": {
      for (const order of book.openOrders()) {
        if (order.spec.symbol === asset.spec.symbol && order.clientOrderId.startsWith(prefix)) await runner.cancel(order.id, traceparent);
      }
      return null;
    }
    case "refuse":
      return null;
    default: {
      const never: never = command;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}
