import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type { CreatedWebhook, Webhook, WebhookDelivery } from "../../../shared/notifications/schemas";
import { WEBHOOK_EVENT_TYPES } from "../../../shared/notifications/notifications";
import { api, messageOf } from "../api";
import { time } from "../format";

// Webhooks: URLs that receive the user's notifications, signed (docs/notifications.md). The
// signing secret is shown once, right after creation; each webhook has a delivery log, a
// redelivery button per delivery and a "send test event" button.
type Hook = z.infer<typeof Webhook>;
type Created = z.infer<typeof CreatedWebhook>;
type Delivery = z.infer<typeof WebhookDelivery>;


export function WebhooksPage() {
  const [hooks, setHooks] = useState<Hook[] | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const load = () => api<Hook[]>("GET", "/api/webhooks").then(setHooks, (e: unknown) => setProblem(messageOf(e, "Could not load webhooks.")));
  useEffect(() => void load(), []);

  async function create(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setProblem(null);
    try {
      const hook = await api<Created>("POST", "/api/webhooks", { url: String(form.get("url") ?? ""), events: form.getAll("events").map(String) });
      setCreated(hook);
      (event.target as HTMLFormElement).reset();
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The webhook could not be created."));
    }
  }

  async function remove(id: string, url: string) {
    // Not undone: its secret and its delivery log go with it (found in QA: one click, no question).
    if (!confirm(`Delete the webhook to ${url}? Its secret and its delivery log go with it.`)) return;
    setProblem(null);
    try {
      await api("DELETE", `/api/webhooks/${id}`);
      if (created?.id === id) setCreated(null);
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The webhook could not be deleted."));
    }
  }

  return (
    <main class="page">
      <h1>Webhooks</h1>
      <p class="muted">
        RedFire POSTs the notifications you choose to your URL, signed in the RedFire-Signature header (HMAC-SHA256 of the timestamp and the body with the webhook's secret).
      </p>
      <form class="panel inline-form" onSubmit={(e) => void create(e)}>
        <label>
          URL
          <input name="url" type="url" required maxLength={2048} placeholder="https://example.com/hooks/redfire" size={40} />
        </label>
        <fieldset class="event-types">
          <legend>Events</legend>
          {WEBHOOK_EVENT_TYPES.map((type) => (
            <label class="check" key={type}>
              <input type="checkbox" name="events" value={type} defaultChecked={type === "order.filled"} /> {type}
            </label>
          ))}
        </fieldset>
        <button class="primary" type="submit">
          Add webhook
        </button>
      </form>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {created && (
        <div class="panel secret" role="status" data-testid="new-webhook">
          <strong>Copy the signing secret now: it is not shown again.</strong>
          <dl>
            <dt>URL</dt>
            <dd class="mono">{created.url}</dd>
            <dt>Secret</dt>
            <dd class="mono" data-testid="webhook-secret">
              {created.secret}
            </dd>
          </dl>
          <button onClick={() => void navigator.clipboard?.writeText(created.secret)}>Copy secret</button>
        </div>
      )}
      <section class="panel">
        {hooks === null ? (
          <p class="empty">Loading…</p>
        ) : hooks.length === 0 ? (
          <p class="empty">No webhooks yet.</p>
        ) : (
          <div class="table-scroll">
          <table data-testid="webhooks">
            <thead>
              <tr>
                <th>URL</th>
                <th>Events</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {hooks.map((h) => (
                <Fragment key={h.id}>
                  <tr data-webhook={h.id}>
                    <td class="mono">{h.url}</td>
                    <td>{h.events.join(", ")}</td>
                    <td>{new Date(h.created_at).toLocaleDateString()}</td>
                    <td class="actions">
                      <button onClick={() => setShown(shown === h.id ? null : h.id)}>{shown === h.id ? "Hide deliveries" : "Deliveries"}</button>
                      <button onClick={() => void remove(h.id, h.url)}>Delete</button>
                    </td>
                  </tr>
                  {shown === h.id && (
                    <tr>
                      <td colSpan={4}>
                        <Deliveries webhookId={h.id} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </section>
    </main>
  );
}

/** A webhook's delivery log, with "send test event" and a redelivery per delivery. */
function Deliveries({ webhookId }: { webhookId: string }) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () => api<{ deliveries: Delivery[] }>("GET", `/api/webhooks/${webhookId}/deliveries?limit=20`).then((r) => setDeliveries(r.deliveries), (e: unknown) => setProblem(messageOf(e, "Could not load deliveries.")));
  useEffect(() => void load(), [webhookId]);

  async function post(path: string, fallback: string) {
    setProblem(null);
    try {
      await api("POST", path);
      await load();
    } catch (e) {
      setProblem(messageOf(e, fallback));
    }
  }

  return (
    <div data-testid="deliveries">
      <div class="actions">
        <button class="primary" onClick={() => void post(`/api/webhooks/${webhookId}/test`, "The test event could not be sent.")}>
          Send test event
        </button>
        <button onClick={() => void load()}>Refresh</button>
      </div>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {deliveries === null ? (
        <p class="empty">Loading…</p>
      ) : deliveries.length === 0 ? (
        <p class="empty">Nothing delivered yet.</p>
      ) : (
        <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Response</th>
              <th>Latency</th>
              <th>Last attempt</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {deliveries.map((d) => (
              <tr key={d.id} data-delivery={d.id}>
                <td>
                  {d.event_type}
                  {d.redelivery > 0 && <span class="muted"> (redelivery {d.redelivery})</span>}
                </td>
                <td>
                  <span class={`badge ${d.status === "delivered" ? "done" : d.status === "dead" ? "failed" : ""}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td class="delivery-response">
                  {/* The reason in the cell, not only in a title (found in QA: touch and keyboard users never saw it). */}
                  {d.response_status ?? (d.error ? "" : "—")}
                  {d.error && <div class="muted small">{d.error}</div>}
                </td>
                <td>{d.latency_ms === null ? "—" : `${d.latency_ms} ms`}</td>
                <td>{time(d.last_attempt_at)}</td>
                <td class="actions">
                  <button onClick={() => void post(`/api/webhooks/${webhookId}/deliveries/${d.id}/redeliver`, "The delivery could not be sent again.")}>Redeliver</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </div>
  );
}
