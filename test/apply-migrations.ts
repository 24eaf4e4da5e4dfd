import { applyD1Migrations, env } from "cloudflare:test";
// As the Worker does: refusals in the API's words, also where a test parses with a schema alone.
import "../shared/zod-messages";

// Setup files run before each test file; applying is idempotent.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
