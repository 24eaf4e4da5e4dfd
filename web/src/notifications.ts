import type { NotificationView } from "../../shared/notifications/schemas";
import { api } from "./api";
import { createStore } from "./store";
import { trades } from "./streams";

// The user's notifications in the app: the unread count and the latest page, loaded at
// sign-in and kept current by the socket's `notifications` stream (docs/notifications.md).

interface Notifications {
  unread: number;
  /** The newest first; null until loaded. */
  items: NotificationView[] | null;
  /** The token of the page after the last one loaded, or null when there are no older ones. */
  older: string | null;
}

/** Notifications asked for at a time: the first page, and each "Load older". */
const PAGE = 30;

export const notifications = createStore<Notifications>({ unread: 0, items: null, older: null });

let stopListening: (() => void) | null = null;

/**
 * Loads the count and the first page, and follows the socket; until `stopNotifications`.
 * Loads them again each time the socket (re)starts listening: the server pushes a new
 * notification only while a socket listens, so what came before (or during a reconnect)
 * is read from the list.
 */
export function startNotifications(): void {
  if (stopListening) return;
  const stops = [
    trades.onStream("notifications", (data) => {
      const n = data as NotificationView;
      notifications.update((s) => (s.items?.some((i) => i.id === n.id) ? s : { ...s, unread: s.unread + 1, items: [n, ...(s.items ?? [])] }));
    }),
    trades.onStream("listening", () => void reloadNotifications()),
  ];
  stopListening = () => stops.forEach((stop) => stop());
  void reloadNotifications();
}

export function stopNotifications(): void {
  stopListening?.();
  stopListening = null;
  notifications.set({ unread: 0, items: null, older: null });
}

type Page = { notifications: NotificationView[]; next_page_token: string | null };

export async function reloadNotifications(): Promise<void> {
  const [count, page] = await Promise.all([
    api<{ unread: number }>("GET", "/api/notifications/unread_count"),
    api<Page>("GET", `/api/notifications?limit=${PAGE}`),
  ]);
  notifications.set({ unread: count.unread, items: page.notifications, older: page.next_page_token });
}

/**
 * The page after the last one loaded, added below it (found in QA: the bell listed the
 * latest 30 and no more). Ids are the list's order, so one that is listed already (pushed
 * while the page was asked for) is not listed twice.
 */
export async function loadOlderNotifications(): Promise<void> {
  const token = notifications.get().older;
  if (token === null) return;
  const page = await api<Page>("GET", `/api/notifications?limit=${PAGE}&page_token=${encodeURIComponent(token)}`);
  notifications.update((s) => {
    // A reload meanwhile started the list again: this page belongs to the list it replaced.
    if (s.older !== token) return s;
    const known = new Set((s.items ?? []).map((i) => i.id));
    return { ...s, items: [...(s.items ?? []), ...page.notifications.filter((n) => !known.has(n.id))], older: page.next_page_token };
  });
}

export async function markRead(id: number): Promise<void> {
  const read = await api<NotificationView>("POST", `/api/notifications/${id}/read`);
  notifications.update((s) => {
    const was = s.items?.find((i) => i.id === id);
    return { ...s, unread: was && was.read_at === null ? Math.max(0, s.unread - 1) : s.unread, items: s.items?.map((i) => (i.id === id ? read : i)) ?? null };
  });
}

export async function markAllRead(): Promise<void> {
  await api("POST", "/api/notifications/read_all");
  await reloadNotifications();
}
