// Many rows into SQLite (D1, or a Durable Object's) as one statement each chunk: the rows
// as a JSON parameter that the statement reads with json_each.

/**
 * The most JSON one statement's parameter carries: D1 and a Durable Object's SQLite take a
 * string of up to 2,000,000 bytes; a queue batch of 100 messages of up to 96 KB each
 * (shared/events.ts) is about ten of these.
 */
export const JSON_PARAMETER_MAX_BYTES = 1_000_000;

/**
 * Rows (each an array of its columns' values) as JSON arrays of rows, in order, each at
 * most `maxBytes` of UTF-8 (a row larger than that alone goes in a chunk of its own): each
 * is one statement's one parameter, read with json_each. A batch's rows of a table are
 * then one statement, instead of one per 10 to 16 rows when each value was a parameter
 * (D1 binds at most 100 a statement), or one per row.
 */
export function inJsonChunks(rows: readonly (readonly unknown[])[], maxBytes = JSON_PARAMETER_MAX_BYTES): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  // "[" and "]", and a comma before each row but the first: 1 + (size + 1) a row.
  let bytes = 1;
  for (const row of rows) {
    const text = JSON.stringify(row);
    const size = utf8Length(text) + 1;
    if (parts.length > 0 && bytes + size > maxBytes) {
      chunks.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 1;
    }
    parts.push(text);
    bytes += size;
  }
  if (parts.length > 0) chunks.push(`[${parts.join(",")}]`);
  return chunks;
}

const encoder = new TextEncoder();
/** UTF-8 bytes of `text`; its length when it is ASCII (JSON.stringify leaves no control character unescaped), as a projection's rows nearly always are. */
const utf8Length = (text: string): number => (/^[ -~]*$/.test(text) ? text.length : encoder.encode(text).length);
