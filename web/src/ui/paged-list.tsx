import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { queryText, type ListQuery } from "../list-query";

/**
 * A list the API answers a page at a time (`?limit=&page_token=` → `{[key]: T[],
 * next_page_token}`), newest or first page loaded on mount, each further page added below
 * by `more()`; a row already listed (it moved between pages while they were read) is not
 * listed twice. `query` is sent with every page (a further page continues the same search);
 * when it changes the first page is read again, and an answer for an earlier query is
 * dropped. `items` is null until the first page answers; `hasMore` says whether a page is
 * left. A failed read goes to `report`; `clear` is called before each further page and
 * before a changed query's first page.
 */
export function usePagedList<T>(options: { path: string; key: string; pageSize: number; query?: ListQuery; idOf(item: T): string; report(e: unknown): void; clear(): void }) {
  const { path, key, pageSize, idOf, report, clear } = options;
  const search = queryText(options.query);
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  // Which query's pages are listed: an answer that comes back after the query changed is not.
  const reads = useRef(0);
  const page = (token: string | null) =>
    api<Record<string, unknown> & { next_page_token: string | null }>("GET", `${path}?limit=${pageSize}${search}${token ? `&page_token=${encodeURIComponent(token)}` : ""}`).then((r) => ({
      rows: r[key] as T[],
      next: r.next_page_token,
    }));
  useEffect(() => {
    if (reads.current > 0) clear();
    const read = ++reads.current;
    setNext(null);
    void page(null).then(
      ({ rows, next: after }) => {
        if (read !== reads.current) return;
        setItems(rows);
        setNext(after);
      },
      (e: unknown) => read === reads.current && report(e),
    );
  }, [search]);
  const more = () => {
    if (next === null) return;
    const read = reads.current;
    clear();
    void page(next).then(
      ({ rows, next: after }) => {
        if (read !== reads.current) return;
        setItems((listed) => {
          const known = new Set((listed ?? []).map(idOf));
          return [...(listed ?? []), ...rows.filter((row) => !known.has(idOf(row)))];
        });
        setNext(after);
      },
      (e: unknown) => read === reads.current && report(e),
    );
  };
  return { items, setItems, hasMore: next !== null, more };
}

/** The button that reads a paged list's next page, shown while one is left. */
export function MoreButton(props: { list: { hasMore: boolean; more(): void }; label: string; testid?: string }) {
  if (!props.list.hasMore) return null;
  return (
    <div class="actions">
      <button data-testid={props.testid} onClick={props.list.more}>
        {props.label}
      </button>
    </div>
  );
}
