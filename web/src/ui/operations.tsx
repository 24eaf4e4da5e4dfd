import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type UserJson } from "../api";
import { MoreButton, usePagedList } from "./paged-list";
import { FieldProblem, usePanelProblem } from "./panel-problem";

// The operator's panels of the Admin page that the API had and the app did not (found in
// QA): a message to one user or every active user (`POST /api/admin/notifications`), and the
// events the queue consumer gave up on, with their replay (`/api/admin/dead-events`).

/** A message to the user picked in the users' table, or to every active user. */
export function MessagePanel(props: { to: UserJson | null; onEveryone(): void }) {
  const { to } = props;
  const { report, clear, shown } = usePanelProblem();
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const title = useRef<HTMLInputElement>(null);
  // Picking a user in the table brings the form into view, ready to write.
  useEffect(() => {
    if (!to) return;
    title.current?.scrollIntoView({ block: "center" });
    title.current?.focus();
  }, [to]);

  async function send(event: Event) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const recipient = to ? to.username : "every active user";
    if (!to && !confirm("Send this message to every active user?")) return;
    clear();
    setProblems({});
    setSent(null);
    setBusy(true);
    try {
      await api("POST", "/api/admin/notifications", { ...(to && { user_id: to.id }), title: String(data.get("title") ?? ""), body: String(data.get("body") ?? "") });
      form.reset();
      setSent(`Sent to ${recipient}.`);
    } catch (e) {
      report(e);
      if (e instanceof ApiError) setProblems(Object.fromEntries(e.details.map((d) => [d.path, d.message])));
    } finally {
      setBusy(false);
    }
  }

  const problem = (field: string) => <FieldProblem field={field} message={problems[field]} />;
  return (
    <section class="panel" data-testid="message">
      <h2>Message</h2>
      <p class="muted">
        To {to ? <strong data-testid="message-to">{to.username}</strong> : <strong data-testid="message-to">every active user</strong>}
        {to && (
          <>
            {" · "}
            <button type="button" class="link-button" onClick={props.onEveryone}>
              every active user instead
            </button>
          </>
        )}
        {!to && " (or pick a user's Message button above)"}
      </p>
      <form class="message-form" onSubmit={(e) => void send(e)} onInput={() => setSent(null)}>
        <label>
          Title
          <input ref={title} name="title" required maxLength={120} />
          {problem("title")}
        </label>
        <label>
          Message
          <textarea name="body" required maxLength={2000} rows={3} />
          {problem("body")}
        </label>
        {problem("user_id")}
        <div class="actions">
          <button class="primary" type="submit" disabled={busy}>
            Send
          </button>
        </div>
      </form>
      {sent && (
        <p class="muted" role="status" data-testid="message-sent">
          {sent}
        </p>
      )}
      {shown}
    </section>
  );
}

interface DeadEvent {
  message_id: string;
  queue: string;
  event_type: string | null;
  event_id: string | null;
  events: number;
  attempts: number;
  dead_at: string;
  replayed_at: string | null;
  body: unknown;
}

const DEAD_PAGE = 50;
const stamp = (iso: string | null) => (iso ? new Date(iso).toLocaleString([], { hour12: false }) : "—");

/** What the events consumer gave up on, newest first, each with its body and a replay. */
export function DeadEventsPanel() {
  const { report, clear, shown } = usePanelProblem();
  const list = usePagedList<DeadEvent>({ path: "/api/admin/dead-events", key: "events", pageSize: DEAD_PAGE, idOf: (e) => e.message_id, report, clear });
  const events = list.items;
  async function replay(dead: DeadEvent) {
    const again = dead.replayed_at ? ` It was replayed already, at ${stamp(dead.replayed_at)}; consumers are idempotent, so what landed lands once.` : "";
    if (!confirm(`Send ${dead.event_type ?? "this message"} back to the events queue?${again}`)) return;
    clear();
    try {
      const replayed = await api<DeadEvent>("POST", `/api/admin/dead-events/${encodeURIComponent(dead.message_id)}/replay`);
      list.setItems((listed) => listed?.map((e) => (e.message_id === replayed.message_id ? replayed : e)) ?? null);
    } catch (e) {
      report(e);
    }
  }

  return (
    <section class="panel" data-testid="dead-events">
      <h2>Dead events</h2>
      <p class="muted">Events the events queue's consumer gave up on after its retries, kept as they came through the dead-letter queue. Replay sends one back to the events queue; do it once whatever made it fail is mended.</p>
      {shown}
      {events === null ? (
        <p class="muted">Loading…</p>
      ) : events.length === 0 ? (
        <p class="muted" data-testid="no-dead-events">
          None: every event was handled.
        </p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Dead at</th>
                <th>Event</th>
                <th class="r" title="Events in the message">Events</th>
                <th>Replayed</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.message_id} data-message={e.message_id}>
                  <td>{stamp(e.dead_at)}</td>
                  <td class="dead-event" title={`through ${e.queue}`}>
                    <details>
                      <summary>
                        {e.event_type ?? "(not an event)"} <span class="muted mono">{(e.event_id ?? e.message_id).slice(0, 8)}…</span>
                      </summary>
                      <pre class="mono">{JSON.stringify(e.body, null, 2)}</pre>
                    </details>
                  </td>
                  <td class="r num">{e.events}</td>
                  <td>{stamp(e.replayed_at)}</td>
                  <td class="actions">
                    <button onClick={() => void replay(e)}>Replay</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <MoreButton list={list} label="Load older" />
    </section>
  );
}
