import { z } from "@hono/zod-openapi";
import { wholeParam } from "./common";

// Live strategies on the wire: start, stop, status with statistics, and the log tail
// (also pushed on the user's socket as the strategy_updates stream).

export const LiveStats = z
  .object({
    callbacks: z.number().int().openapi({ description: "Callbacks run since the start" }),
    failures: z.number().int().openapi({ description: "Callbacks that threw or hit a limit" }),
    success_rate: z.number().nullable().openapi({ description: "Share of callbacks that succeeded (null before the first)" }),
    orders: z.number().int().openapi({ description: "Orders the account took since the start" }),
    refused: z.number().int().openapi({ description: "Orders refused since the start, by the strategy runtime's checks or the account's (each is also a line of the log)" }),
    fills: z.number().int(),
    pnl: z.string().nullable().openapi({ description: "The strategy's own P&L since the start, USD: the cash its fills moved (fees included) plus what they left at the last price; null while it holds a quantity and has seen no price", example: "12.50" }),
    started_at: z.string(),
  })
  .openapi("LiveStrategyStats");

export const LiveStrategyStatus = z
  .object({
    id: z.string(),
    run: z.number().int().openapi({ description: "This start's number: its orders' client ids carry it" }),
    version: z.number().int().openapi({ description: "The strategy version this run executes" }),
    symbol: z.string(),
    status: z.enum(["running", "stopped", "errored"]),
    message: z.string().nullable().openapi({ description: "Why it errored (with the line, for code)" }),
    stats: LiveStats,
  })
  .openapi("LiveStrategyStatus");

export const StrategyLogLine = z.object({ seq: z.number().int(), t: z.string(), text: z.string() }).openapi("StrategyLogLine");

export const StrategyLogs = z.object({ lines: z.array(StrategyLogLine), next_after: z.number().int() }).openapi("StrategyLogs");

export const StrategyLogsQuery = z.object({
  after: wholeParam("after", 0, Number.MAX_SAFE_INTEGER).default(0).openapi({ description: "Lines after this sequence number" }),
  limit: wholeParam("limit", 1, 500).default(100),
});
