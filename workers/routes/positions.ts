import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { notFound, unprocessable } from "../../shared/errors";
import { booleanParam, errorResponses, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { Order, Position } from "../../shared/schemas/trading";
import type { AppEnv } from "../context";
import { accountOf, statusOf, tradableAsset, unwrap } from "../lib/accounts";
import { log } from "../../platform/log";
import { traced } from "../../platform/trace";
import { assetBySymbol, findAsset } from "../../platform/assets";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { oneHop } from "../middleware/admission";
import { validationHook } from "../middleware/errors";

// Positions (docs/alpaca-compat.md §3): long only in a cash account. Closing one places a
// market sell for all of it, a qty, or a percentage.
export const positions = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;
const read = requirePermission("trading:read");
const write = requirePermission("trading:write");
const SymbolParam = z.object({ symbol_or_asset_id: z.string().min(1).max(48) });
const notFoundPosition = () => notFound("position does not exist");

/** Our symbol for a path segment (already URL-decoded by the router): "BTCUSD", "BTC/USD" or an asset id. */
async function symbolOf(env: Env, segment: string): Promise<string | null> {
  return (await findAsset(env, segment))?.symbol ?? null;
}

positions.openapi(
  createRoute({
    method: "get",
    path: "/v2/positions",
    tags: ["positions"],
    summary: "Open positions",
    security,
    middleware: [read] as const,
    responses: { 200: jsonContent(z.array(Position), "Every open position"), ...errorResponses(401, 403, 429) },
  }),
  async (c) => {
    const list = await oneHop<z.infer<typeof Position>[]>(c, (account, gate) => account.gated(gate, "positions"));
    return c.json(await Promise.all(list.map((p) => withExchange(c, p))), 200);
  },
);

/**
 * A position names its asset's exchange, from this isolate's registry snapshot (the account
 * knows its instruments, not where they are listed): alpaca-py's Position takes only the
 * exchanges it knows.
 */
async function withExchange(c: { env: Env; executionCtx: { waitUntil(p: Promise<unknown>): void } }, position: z.infer<typeof Position>): Promise<z.infer<typeof Position>> {
  // A snapshot gone stale is served while it is read again in the background (as the order
  // path's asset is), so a positions read waits on no D1 query.
  const asset = await assetBySymbol(c.env, position.symbol, { background: (work) => c.executionCtx.waitUntil(work) });
  return asset ? { ...position, exchange: asset.exchange } : position;
}

positions.openapi(
  createRoute({
    method: "get",
    path: "/v2/positions/{symbol_or_asset_id}",
    tags: ["positions"],
    summary: "One position",
    security,
    middleware: [read] as const,
    request: { params: SymbolParam },
    responses: { 200: jsonContent(Position, "The position"), ...errorResponses(401, 403, 404, 429) },
  }),
  async (c) => c.json(await readPosition(c, c.req.valid("param").symbol_or_asset_id), 200),
);

type PositionContext = Parameters<Parameters<typeof positions.openapi>[1]>[0];

async function readPosition(c: PositionContext, segment: string): Promise<z.infer<typeof Position>> {
  const symbol = await symbolOf(c.env, segment);
  const position = symbol ? await oneHop<z.infer<typeof Position> | null>(c, (account, gate) => account.gated(gate, "position", symbol)) : null;
  if (!position) throw notFoundPosition();
  return withExchange(c, position);
}

// A pair's slash unencoded in the path (/v2/positions/BTC/USD), as Alpaca's SDKs send it.
const PairParam = z.object({ base: z.string().min(1).max(24), quote: z.string().min(1).max(24) });

positions.openapi(
  createRoute({
    method: "get",
    path: "/v2/positions/{base}/{quote}",
    tags: ["positions"],
    summary: "One position in a pair, its slash unencoded (BTC/USD)",
    security,
    middleware: [read] as const,
    request: { params: PairParam },
    responses: { 200: jsonContent(Position, "The position"), ...errorResponses(401, 403, 404, 429) },
  }),
  async (c) => {
    const { base, quote } = c.req.valid("param");
    return c.json(await readPosition(c, `${base}/${quote}`), 200);
  },
);

const CloseQuery = z.object({
  qty: z.string().max(40).optional(),
  percentage: z.string().max(16).optional(),
});

positions.openapi(
  createRoute({
    method: "delete",
    path: "/v2/positions/{symbol_or_asset_id}",
    tags: ["positions"],
    summary: "Close a position (all of it, a qty, or a percentage) with a market order",
    security,
    middleware: [write] as const,
    request: { params: SymbolParam, query: CloseQuery },
    responses: { 200: jsonContent(Order, "The closing order"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => c.json(await closeOne(c, c.req.valid("param").symbol_or_asset_id, c.req.valid("query")), 200),
);

async function closeOne(c: PositionContext, segment: string, q: z.infer<typeof CloseQuery>) {
  const { userId } = principalOf(c);
  if (q.qty !== undefined && q.percentage !== undefined) throw unprocessable("give qty or percentage, not both", [{ path: "qty", message: "qty and percentage are exclusive" }]);
  const symbol = await symbolOf(c.env, segment);
  if (!symbol) throw notFoundPosition();
  const asset = await tradableAsset(c.env, symbol);
  return unwrap(await accountOf(c.env, userId).closePosition(symbol, asset, q.qty ?? null, q.percentage ?? null, c.get("traceparent")));
}

positions.openapi(
  createRoute({
    method: "delete",
    path: "/v2/positions/{base}/{quote}",
    tags: ["positions"],
    summary: "Close a position in a pair, its slash unencoded (BTC/USD)",
    security,
    middleware: [write] as const,
    request: { params: PairParam, query: CloseQuery },
    responses: { 200: jsonContent(Order, "The closing order"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { base, quote } = c.req.valid("param");
    return c.json(await closeOne(c, `${base}/${quote}`, c.req.valid("query")), 200);
  },
);

positions.openapi(
  createRoute({
    method: "delete",
    path: "/v2/positions",
    tags: ["positions"],
    summary: "Close every position",
    security,
    middleware: [write] as const,
    request: { query: z.object({ cancel_orders: booleanParam("cancel_orders").optional() }) },
    responses: { 207: jsonContent(z.array(z.object({ symbol: z.string(), status: z.number().int(), body: z.unknown() })), "One entry per position"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const { userId } = principalOf(c);
    const account = accountOf(c.env, userId);
    const traceparent = c.get("traceparent");
    // Client-side spans: these commands take the traceparent for their venue calls but log no span of their own.
    if (c.req.valid("query").cancel_orders === true) await traced(log, "call.account.cancelAll", traceparent, (span) => account.cancelAll(span.traceparent), () => ({ account: userId, client: true }));
    const held = await traced(log, "call.account.positions", traceparent, (span) => account.positions(span.traceparent), () => ({ account: userId, client: true }));
    const results = await Promise.all(
      held.map(async (p) => {
        const outcome = await account.closePosition(p.symbol, await tradableAsset(c.env, p.symbol), null, null, c.get("traceparent"));
        return outcome.ok
          ? { symbol: p.symbol, status: 200, body: outcome.value }
          : { symbol: p.symbol, status: statusOf(outcome.refusal), body: { code: statusOf(outcome.refusal) * 100000 + 10000, message: outcome.refusal.message } };
      }),
    );
    return c.json(results, 207);
  },
);
