// How the code editor lists a compile error: its line and column in a badge, then the API's
// message. The API writes the location into the message too (for clients without a badge),
// so the list drops that clause rather than say it twice. No JSX here: tests import it.

/** The API's message without the " at line L, column C" its badge already shows ("syntax error: …"). */
export function withoutLocation(e: { message: string; line?: number; column?: number }): string {
  if (e.line === undefined || e.column === undefined) return e.message;
  return e.message.replace(` at line ${e.line}, column ${e.column}:`, ":");
}
