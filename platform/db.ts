import { sql, type SQLWrapper } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../d1/schema";

export const database = (env: Env) => drizzle(env.DB, { schema });

/** `column IN (values)` with the values as one JSON parameter: D1 binds at most 100 parameters to a statement, whatever the list's length. */
export const inJsonList = (column: SQLWrapper, values: readonly string[]) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
export type Database = ReturnType<typeof database>;
export { schema };
