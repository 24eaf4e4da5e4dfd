import { z } from "@hono/zod-openapi";
import { SHOWN_TEXT_MESSAGE, shownTextProblem, wholeParam } from "../schemas/common";
import { NOTIFICATION_KINDS, WEBHOOK_EVENT_TYPES } from "./notifications";

// The notifications API and the `notifications` frames of the user's socket (one shape).

export const Notification = z
  .object({
    id: z.number().int().openapi({ example: 42 }),
    kind: z.enum(NOTIFICATION_KINDS),
    title: z.string().openapi({ example: "Filled: buy AAPL" }),
    body: z.string().openapi({ example: "10 AAPL at 187.25 (order 3f1c…)" }),
    data: z.record(z.string(), z.unknown()).openapi({ description: "the kind's own fields (docs/notifications.md); an admin.message's is empty: recipients are not told which admin sent it" }),
    created_at: z.string().openapi({ example: "2026-12-02T10:00:00.000Z" }),
    read_at: z.string().nullable(),
  })
  .openapi("Notification");
export type NotificationView = z.infer<typeof Notification>;

export const NotificationList = z
  .object({
    notifications: z.array(Notification),
    next_page_token: z.string().nullable().openapi({ description: "pass as page_token for the next (older) page; null on the last one" }),
  })
  .openapi("NotificationList");

export const ListNotificationsQuery = z.object({
  limit: wholeParam("limit", 1, 100).default(50),
  page_token: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, { error: "must be a next_page_token from an earlier page" })
    .optional()
    .openapi({ description: "the next_page_token of the previous page" }),
  unread: z.enum(["true", "false"]).optional().openapi({ description: "true: only the unread ones" }),
});

export const NotificationIdParam = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, { error: "must be a notification id" })
    .openapi({ param: { name: "id", in: "path" }, example: "42" }),
});

export const UnreadCount = z.object({ unread: z.number().int() }).openapi("UnreadNotifications");
export const MarkedRead = z.object({ marked: z.number().int().openapi({ description: "how many were unread and are now read" }) }).openapi("MarkedNotificationsRead");

export const AdminMessageRequest = z
  .object({
    user_id: z.uuid({ error: "must be a user id (UUID)" }).optional().openapi({ description: "the user to tell; leave out to tell every active user. A disabled user is told nothing. Recipients are not told which admin sent it (the audit log keeps it)" }),
    // Shown in the app, the bell and every recipient's webhooks (QA: a NUL, an escape sequence and a lone zero-width space were sent).
    title: z.string().trim().min(1).max(120).refine((t) => !shownTextProblem(t), SHOWN_TEXT_MESSAGE),
    // A Windows or old Mac line break is a line break: stored as "\n" (found in QA: "\r\n" was refused as a control character).
    body: z
      .string()
      .trim()
      .transform((t) => t.replace(/\r\n?/g, "\n"))
      .pipe(z.string().min(1).max(2000).refine((t) => !shownTextProblem(t, true), `${SHOWN_TEXT_MESSAGE} (line breaks and tabs are kept)`)),
  })
  .strict()
  .openapi("AdminMessageRequest");

export const AdminMessageAccepted = z
  .object({ event_id: z.uuid().openapi({ description: "the admin.message event; the notifications follow within a second or so" }) })
  .openapi("AdminMessageAccepted");

// ---- webhooks -------------------------------------------------------------------------

export const CreateWebhookRequest = z
  .object({
    url: z.string().openapi({ example: "https://example.com/hooks/redfire", maxLength: 2048, description: "https only outside development; no private, loopback or link-local hosts; stored as parsed (the address deliveries go to)" }),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length)
      .refine((events) => new Set(events).size === events.length, { message: "must not repeat an event type" }),
    description: z.string().trim().max(200).refine((t) => !shownTextProblem(t), SHOWN_TEXT_MESSAGE).optional(),
  })
  .strict()
  .openapi("CreateWebhookRequest");

export const Webhook = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Webhook");
export type WebhookView = z.infer<typeof Webhook>;

export const CreatedWebhook = Webhook.extend({
  secret: z.string().openapi({ description: "the signing secret: shown in this response only" }),
}).openapi("CreatedWebhook");

export const WebhookDelivery = z
  .object({
    id: z.number().int(),
    event_id: z.string().openapi({ description: "the payload's id: the same on every retry and redelivery" }),
    event_type: z.enum(WEBHOOK_EVENT_TYPES),
    redelivery: z.number().int().openapi({ description: "0 for the first delivery, n for the nth manual redelivery" }),
    status: z.enum(["pending", "delivered", "failing", "dead"]).openapi({ description: "failing: tried and due again; dead: out of attempts" }),
    attempts: z.number().int(),
    response_status: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    error: z.string().nullable(),
    created_at: z.string(),
    last_attempt_at: z.string().nullable(),
  })
  .openapi("WebhookDelivery");

export const WebhookDeliveryList = z
  .object({ deliveries: z.array(WebhookDelivery), next_page_token: z.string().nullable() })
  .openapi("WebhookDeliveryList");

export const ListDeliveriesQuery = ListNotificationsQuery.pick({ limit: true, page_token: true });

export const WebhookIdParam = z.object({
  webhook_id: z.uuid({ error: "must be a webhook id (UUID)" }).openapi({ param: { name: "webhook_id", in: "path" } }),
});

export const DeliveryIdParam = WebhookIdParam.extend({
  delivery_id: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, { error: "must be a delivery id" })
    .openapi({ param: { name: "delivery_id", in: "path" }, example: "7" }),
});
