// Refusals in the API's words wherever a schema set none (shared/zod-messages.ts).
import "../shared/zod-messages";
import { createApp } from "./app";
import { failUnstartedBacktests } from "./lib/backtests";
import { startFeeds } from "./lib/feeds";
import { consumeQueue } from "./queue";

export { Account } from "../durable-objects/account/account";
export { BacktestJob } from "../durable-objects/backtest/backtest-job";
export { ConfigStore } from "../durable-objects/config/config-store";
export { MarketSymbol } from "../durable-objects/market-symbol/market-symbol";
export { MetricsStore } from "../durable-objects/metrics/metrics-store";
export { RateLimiter } from "../durable-objects/rate-limiter/rate-limiter";
export { StreamHub } from "../durable-objects/stream-hub/stream-hub";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: consumeQueue,
  // Every minute: make sure every active symbol's feed is running, and fail the backtests
  // whose job never started.
  scheduled: async (controller, env) => {
    await Promise.all([startFeeds(env), failUnstartedBacktests(env, controller.scheduledTime)]);
  },
} satisfies ExportedHandler<Env, unknown>;
