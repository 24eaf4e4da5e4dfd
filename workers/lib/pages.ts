/**
 * Keyset pagination: a route reads `limit + 1` rows past the cursor; the extra row only
 * says whether there is a next page, whose cursor is the last row shown.
 */
export function keysetPage<T, C>(rows: T[], limit: number, cursorOf: (row: T) => C): { page: T[]; next: C | null } {
  const page = rows.slice(0, limit);
  return { page, next: rows.length > limit ? cursorOf(page[page.length - 1]!) : null };
}
