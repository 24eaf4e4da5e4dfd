import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { conflict, notFound } from "../../shared/errors";
import { errorResponses, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { StrategyIdParam } from "../../shared/schemas/strategies";
import { LiveStrategyStatus, StrategyLogs, StrategyLogsQuery } from "../../shared/schemas/strategy-runs";
import type { LiveStrategyConfig } from "../../shared/strategy/live-host";
import { marketOf } from "../lib/objects";
import type { AppEnv } from "../context";
import { assetBySymbol } from "../../platform/assets";
import { publish } from "../lib/events";
import { loadStrategy, ownStrategy } from "../lib/strategies";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// Running saved strategies live, in their symbol's object (durable-objects/market-symbol/
// strategy-host.ts): start, stop, status with statistics, and the log tail.
export const strategyRuns = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;

const start = createRoute({
  method: "post",
  path: "/api/strategies/{id}/start",
  tags: ["strategies"],
  summary: "Run the strategy's current version live on its symbol (a running strategy answers its status)",
  security,
  middleware: [requirePermission("strategy:write")] as const,
  request: { params: StrategyIdParam },
  responses: { 200: jsonContent(LiveStrategyStatus, "The running strategy"), ...errorResponses(401, 403, 404, 409, 429) },
});

strategyRuns.openapi(start, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const loaded = await loadStrategy(c.env, userId, id);
  if (!loaded) throw notFound("strategy not found");
  const { strategy, version } = loaded;
  const market = marketOf(c.env, strategy.symbol, c.get("traceparent"));
  if (strategy.status === "running") {
    const status = await market.strategyStatus(id);
    if (status?.status === "running") return c.json(status, 200);
  }
  if (strategy.kind === "code" && !version.compiled) throw conflict("this version has no compiled code; save the strategy again");
  const asset = await assetBySymbol(c.env, strategy.symbol);
  if (!asset || asset.status !== "active") throw conflict(`${strategy.symbol} is not an active symbol; a strategy runs only beside a live feed`);
  const config: LiveStrategyConfig = {
    id,
    owner: userId,
    // A new run per start, so its order ids never repeat an earlier run's.
    run: Date.now(),
    version: version.version,
    kind: strategy.kind,
    template: version.template,
    code: version.compiled,
    params: JSON.parse(version.params) as Record<string, unknown>,
    timeframe: strategy.timeframe,
  };
  // The symbol's object records the status on the strategy's row itself, in its own order.
  const status = await market.strategyStart(config);
  if (status.status !== "running") throw conflict(`the strategy did not start: ${status.message ?? status.status}`);
  await publish(c.env, "strategy.started", `user:${userId}`, { strategyId: id, version: version.version, symbol: strategy.symbol }, c.get("traceparent"));
  return c.json(status, 200);
});

/** Why a strategy's symbol knows no run of it: it never ran, or it ran on another symbol before it moved. */
const notRunHere = (strategy: { symbol: string; lastRun: number | null }) =>
  strategy.lastRun === null ? "the strategy has never run" : `the strategy has not run on ${strategy.symbol} since it moved there (its earlier runs stay with their symbol)`;

const stop = createRoute({
  method: "post",
  path: "/api/strategies/{id}/stop",
  tags: ["strategies"],
  summary: "Stop a live strategy (onStop runs; orders it left open stay open)",
  security,
  middleware: [requirePermission("strategy:write")] as const,
  request: { params: StrategyIdParam },
  responses: { 200: jsonContent(LiveStrategyStatus, "The stopped strategy"), ...errorResponses(401, 403, 404, 409, 429) },
});

strategyRuns.openapi(stop, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const strategy = await ownStrategy(c.env, userId, id);
  if (!strategy) throw notFound("strategy not found");
  const outcome = await marketOf(c.env, strategy.symbol, c.get("traceparent")).strategyStop(id);
  if (!outcome) throw conflict(notRunHere(strategy));
  // Announced once, by the stop that stopped it: a repeated or concurrent stop answers the same status quietly.
  if (outcome.stopped) await publish(c.env, "strategy.stopped", `user:${userId}`, { strategyId: id, name: strategy.name, symbol: strategy.symbol }, c.get("traceparent"));
  return c.json(outcome.status, 200);
});

const stats = createRoute({
  method: "get",
  path: "/api/strategies/{id}/stats",
  tags: ["strategies"],
  summary: "A live strategy's status and statistics since its last start",
  security,
  middleware: [requirePermission("strategy:read")] as const,
  request: { params: StrategyIdParam },
  responses: { 200: jsonContent(LiveStrategyStatus, "Status and statistics"), ...errorResponses(401, 403, 404, 409, 429) },
});

strategyRuns.openapi(stats, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const strategy = await ownStrategy(c.env, userId, id);
  if (!strategy) throw notFound("strategy not found");
  const status = await marketOf(c.env, strategy.symbol, c.get("traceparent")).strategyStatus(id);
  // 409 as for a stop: the strategy is found, it has no run yet (404 is "not found or not yours").
  if (!status) throw conflict(`${notRunHere(strategy)}: start it first`);
  return c.json(status, 200);
});

const logs = createRoute({
  method: "get",
  path: "/api/strategies/{id}/logs",
  tags: ["strategies"],
  summary: "The tail of a live strategy's log (ctx.log lines and its errors), oldest first",
  security,
  middleware: [requirePermission("strategy:read")] as const,
  request: { params: StrategyIdParam, query: StrategyLogsQuery },
  responses: { 200: jsonContent(StrategyLogs, "Log lines"), ...errorResponses(400, 401, 403, 404, 429) },
});

strategyRuns.openapi(logs, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const { after, limit } = c.req.valid("query");
  const strategy = await ownStrategy(c.env, userId, id);
  if (!strategy) throw notFound("strategy not found");
  const lines = await marketOf(c.env, strategy.symbol, c.get("traceparent")).strategyLogs(id, after, limit);
  return c.json({ lines: lines.map((l) => ({ seq: l.seq, t: new Date(l.t).toISOString(), text: l.text })), next_after: lines.at(-1)?.seq ?? after }, 200);
});
