import { createApp } from "./app";
import { consumeEvents } from "./queue";

export { RateLimiter } from "../durable-objects/rate-limiter";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: consumeEvents,
} satisfies ExportedHandler<Env, unknown>;
