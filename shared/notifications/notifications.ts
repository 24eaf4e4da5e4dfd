import type { DomainEvent } from "../events";

// What reaches a user as a notification (their socket's `notifications` stream, their list
// in D1, and their webhooks): a few of the domain events, turned into a title and a body.
// One vocabulary: a notification's kind is also the event type a webhook subscribes to.
export const NOTIFICATION_KINDS = [
  "order.filled",
  "order.partially_filled",
  "order.rejected",
  "strategy.stopped",
  "strategy.errored",
  "backtest.completed",
  "account.status_changed",
  "admin.message",
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** A webhook may also ask for the test event its owner sends from the API. */
export const WEBHOOK_EVENT_TYPES = [...NOTIFICATION_KINDS, "webhook.test"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface NotificationDraft {
  /** The one user it is for; null: every active user (an admin's message to all). */
  userId: string | null;
  kind: NotificationKind;
  title: string;
  body: string;
  data: Record<string, unknown>;
}

/** The notification a domain event makes, or null when the event is not one users are told of. */
export function notificationOf(event: DomainEvent): NotificationDraft | null {
  const data = event.data;
  switch (event.type) {
    case "order.filled":
    case "order.partially_filled": {
      const order = orderOf(data);
      const userId = text(data.user_id);
      if (!order || !userId) return null;
      const filled = event.type === "order.filled";
      return {
        userId,
        kind: event.type,
        title: `${filled ? "Filled" : "Partially filled"}: ${order.side} ${order.symbol}`,
        // The execution's quantity and price; an event without them (written before every
        // fill carried them) falls back to the order's filled quantity and average price.
        body: `${text(data.qty) ?? order.filledQty ?? "?"} ${order.symbol} at ${text(data.price) ?? order.filledAvgPrice ?? "?"} (order ${order.id})`,
        data: { order_id: order.id, symbol: order.symbol, side: order.side, status: order.status, execution_id: data.execution_id, price: data.price, qty: data.qty, fee: data.fee },
      };
    }
    case "order.rejected": {
      const order = orderOf(data);
      const userId = text(data.user_id);
      if (!order || !userId) return null;
      const reason = text(data.reason);
      return {
        userId,
        kind: "order.rejected",
        title: `Rejected: ${order.side} ${order.symbol}`,
        body: reason ? `Order ${order.id}: ${reason}` : `Order ${order.id} was rejected`,
        data: { order_id: order.id, symbol: order.symbol, side: order.side, reason: reason ?? null },
      };
    }
    case "strategy.stopped":
    case "strategy.errored": {
      const userId = text(data.user_id) ?? userOfSubject(event.subject);
      const strategyId = text(data.strategyId);
      if (!userId || !strategyId) return null;
      const message = text(data.message);
      const errored = event.type === "strategy.errored";
      // By its name where the event has it (found in QA: "Strategy 52b42a8e-… on BTC/USD").
      const name = text(data.name);
      const which = `${name ? `Strategy "${name}"` : `Strategy ${strategyId}`} on ${text(data.symbol) ?? "?"}`;
      return {
        userId,
        kind: event.type,
        title: errored ? "Strategy stopped on an error" : "Strategy stopped",
        body: errored ? `${which}: ${message ?? "it failed"}` : `${which} was stopped${message ? `: ${message}` : ""}`,
        data: { strategy_id: strategyId, symbol: data.symbol ?? null, ...(errored && { message: message ?? null }) },
      };
    }
    case "backtest.completed": {
      const userId = text(data.user_id);
      const backtestId = text(data.backtestId);
      if (!userId || !backtestId) return null;
      const failed = data.status === "failed";
      const symbol = text(data.symbol) ?? "?";
      // The text gives the ratio as a percentage to the hundredth (it printed every digit of the
      // double); the data keeps the ratio itself.
      const ratio = typeof data.total_return === "number" ? data.total_return : typeof data.total_return === "string" ? Number(data.total_return) : NaN;
      // A return that rounds to nothing reads 0.00%, not -0.00% (found in QA).
      const percent = (ratio * 100).toFixed(2).replace(/^-(0\.00)$/, "$1");
      const totalReturn = Number.isFinite(ratio) ? ` (total return ${percent}%)` : "";
      // What ran, on what (found in QA: "Backtest ea3dc518-… is done"): the saved strategy's
      // name, or the template's, or the user's code.
      const name = text(data.name);
      const template = text(data.template);
      const on = `on ${symbol}${text(data.timeframe) ? ` ${text(data.timeframe)}` : ""}`;
      const which = name ? `Backtest of "${name}" ${on}` : data.template === undefined ? `Backtest ${backtestId}` : `${template ?? "Code"} backtest ${on}`;
      return {
        userId,
        kind: "backtest.completed",
        title: failed ? `Backtest failed: ${symbol}` : `Backtest finished: ${symbol}`,
        body: failed ? `${which}: ${text(data.error) ?? "it failed"}` : `${which} is done${totalReturn}`,
        data: { backtest_id: backtestId, symbol, status: failed ? "failed" : "done", error: data.error ?? null, total_return: data.total_return ?? null },
      };
    }
    case "account.status_changed": {
      const userId = text(data.user_id);
      if (!userId) return null;
      // The trader's own switch (suspend_trade in the account's configuration).
      if (typeof data.trade_suspended_by_user === "boolean") {
        const suspended = data.trade_suspended_by_user;
        return {
          userId,
          kind: "account.status_changed",
          title: suspended ? "Trading suspended" : "Trading resumed",
          body: suspended ? "New orders are refused until suspend_trade is set back to false; open orders stay." : "suspend_trade is off: the account takes new orders again.",
          data: { trade_suspended_by_user: suspended },
        };
      }
      const blocked = data.trading_blocked === true;
      return {
        userId,
        kind: "account.status_changed",
        title: blocked ? "Trading blocked" : "Trading allowed again",
        body: blocked
          ? `Your account cannot trade: ${text(data.reason) ?? "blocked"}. Its open orders were canceled.`
          : data.suspend_trade === true
            ? "Your account is enabled again; new orders stay refused while suspend_trade is on in its configuration."
            : "Your account can trade again.",
        data: { trading_blocked: blocked, reason: data.reason ?? null },
      };
    }
    case "admin.message": {
      const title = text(data.title);
      const body = text(data.body);
      if (!title || body === undefined) return null;
      // The sending admin (data.by) stays in the event and the audit log: recipients do not learn staff user ids.
      return { userId: text(data.user_id) ?? null, kind: "admin.message", title, body, data: {} };
    }
    default:
      return null;
  }
}

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

function orderOf(data: Record<string, unknown>): { id: string; symbol: string; side: string; status: string; filledQty?: string; filledAvgPrice?: string } | null {
  const order = data.order;
  if (typeof order !== "object" || order === null) return null;
  const { id, symbol, side, status, filled_qty, filled_avg_price } = order as Record<string, unknown>;
  if (typeof id !== "string" || typeof symbol !== "string" || typeof side !== "string" || typeof status !== "string") return null;
  return { id, symbol, side, status, filledQty: text(filled_qty), filledAvgPrice: text(filled_avg_price) };
}

/** Gateway events name their user in the subject (`user:<id>`). */
function userOfSubject(subject: string): string | undefined {
  return subject.startsWith("user:") ? subject.slice("user:".length) || undefined : undefined;
}
