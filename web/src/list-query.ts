// A paged list's own query parameters (the admin's user search, web/src/ui/paged-list.tsx),
// sent after `limit` with every page it reads, so "Load more" continues the same search.

/** A list's own query parameters (a search, a filter); one left out or empty is not sent. */
export type ListQuery = Record<string, string | undefined>;

/** The query parameters as they follow `limit`: `&name=value` each, encoded, in the order given. */
export function queryText(query: ListQuery = {}): string {
  return Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
    .map(([name, value]) => `&${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join("");
}
