import { useEffect, useRef, useState } from "preact/hooks";
import { time } from "../format";
import { loadOlderNotifications, markAllRead, markRead, notifications } from "../notifications";
import { useStore } from "../store";
import { usePanelProblem } from "./panel-problem";

// The bell in the header: the unread count, and the latest notifications under it.
export function Bell() {
  const { unread, items, older } = useStore(notifications);
  const [open, setOpen] = useState(false);
  const [loading, setLoading] = useState(false);
  const { report, clear, shown } = usePanelProblem("Could not load older notifications.");
  const loadOlder = async () => {
    setLoading(true);
    clear();
    try {
      await loadOlderNotifications();
    } catch (e) {
      report(e);
    } finally {
      setLoading(false);
    }
  };
  const button = useRef<HTMLButtonElement>(null);
  // Escape closes the list wherever the focus is, and the focus goes back to the bell.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
  return (
    <div class="bell">
      <button ref={button} class="ghost" aria-expanded={open} aria-label={`Notifications, ${unread} unread`} data-testid="bell" onClick={() => setOpen(!open)}>
        <svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
          <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z" />
        </svg>
        {unread > 0 && (
          <span class="count" data-testid="unread">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && (
        <div class="panel bell-list" role="dialog" aria-label="Notifications" data-testid="notifications">
          <div class="actions">
            <button disabled={unread === 0} onClick={() => void markAllRead()}>
              Mark all read
            </button>
          </div>
          {items === null ? (
            <p class="empty">Loading…</p>
          ) : items.length === 0 ? (
            <p class="empty">Nothing yet.</p>
          ) : (
            <ul>
              {items.map((n) => (
                <li key={n.id} class={n.read_at ? "read" : "unread"} data-kind={n.kind}>
                  <button class="ghost" title={n.read_at ? "Read" : "Mark read"} onClick={() => n.read_at === null && void markRead(n.id)}>
                    <strong>{n.title}</strong>
                    <span>{n.body}</span>
                    <small class="muted">{time(n.created_at)}</small>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {items !== null && older !== null && (
            <div class="actions">
              <button disabled={loading} data-testid="older-notifications" onClick={() => void loadOlder()}>
                {loading ? "Loading…" : "Load older"}
              </button>
            </div>
          )}
          {shown}
        </div>
      )}
    </div>
  );
}
