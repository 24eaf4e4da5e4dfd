import { drizzle } from "drizzle-orm/d1";
import * as schema from "../d1/schema";

export const database = (env: Env) => drizzle(env.DB, { schema });
export type Database = ReturnType<typeof database>;
export { schema };
