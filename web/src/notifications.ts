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
  showRead(read);
  otherTabs?.postMessage({ read });
}

export async function markAllRead(): Promise<void> {
  await api("POST", "/api/notifications/read_all");
  const at = new Date().toISOString();
  showAllRead(at);
  otherTabs?.postMessage({ allReadAt: at });
}

/** One notification marked read, here or in another tab. */
function showRead(read: NotificationView): void {
  notifications.update((s) => {
    const was = s.items?.find((i) => i.id === read.id);
    return { ...s, unread: was && was.read_at === null ? Math.max(0, s.unread - 1) : s.unread, items: s.items?.map((i) => (i.id === read.id ? read : i)) ?? null };
  });
}

/**
 * Every notification read, the pages loaded kept (found in QA: marking all read reloaded
 * the list and dropped the older pages the user had loaded).
 */
function showAllRead(at: string, createdUpTo?: string): void {
  const marked = (i: NotificationView) => i.read_at === null && (createdUpTo === undefined || i.created_at <= createdUpTo);
  notifications.update((s) => ({ ...s, unread: 0, items: s.items?.map((i) => (marked(i) ? { ...i, read_at: at } : i)) ?? null }));
}

/**
 * The user's other tabs of this app: what one marks read, the others show read (found in
 * QA: a second tab kept its unread count until reloaded). Tabs of another user, signed in
 * in another browser profile, share nothing: BroadcastChannel is per origin and profile,
 * and a message for an id this tab does not list changes nothing.
 */
const otherTabs = typeof BroadcastChannel === "function" ? new BroadcastChannel("redfire.notifications") : null;
if (otherTabs)
  otherTabs.onmessage = (event: MessageEvent<{ read?: NotificationView; allReadAt?: string }>) => {
    if (!stopListening) return;
    if (event.data.read) showRead(event.data.read);
    else if (event.data.allReadAt) {
      // What this tab listed by then; the count below settles what came since.
      showAllRead(event.data.allReadAt, event.data.allReadAt);
      // One may have come since: the count is the server's.
      void api<{ unread: number }>("GET", "/api/notifications/unread_count").then(
        (count) => notifications.update((s) => ({ ...s, unread: count.unread })),
        () => undefined,
      );
    }
  };
