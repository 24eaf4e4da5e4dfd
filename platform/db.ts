import { sql, type SQLWrapper } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../d1/schema";

export const database = (env: Env) => drizzle(env.DB, { schema });

/** `column IN (values)` with the values as one JSON parameter: D1 binds at most 100 parameters to a statement, whatever the list's length. */
export const inJsonList = (column: SQLWrapper, values: readonly string[]) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
export type Database = ReturnType<typeof database>;
export { schema };

/** True when `error` (or what it wraps: drizzle wraps D1's errors) broke a UNIQUE constraint of `table`. */
export function isUniqueViolation(error: unknown, table: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes(`UNIQUE constraint failed: ${table}.`)) return true;
  }
  return false;
}
