import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { calendar, CALENDAR_FIRST, clock } from "../../shared/calendar";
import { csvRejection, parseOhlcvCsv } from "../../shared/market/csv";
import { STREAM_TIMEFRAMES } from "../../shared/market/timeframe";
import { conflict, notFound, unprocessable } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { AdminAsset, Asset, CalendarDay, CalendarQuery, Clock, CreateAssetRequest, ListAssetsQuery, startPriceProblem, UpdateAssetRequest } from "../../shared/schemas/assets";
import { marketOf } from "../lib/objects";
import type { AppEnv } from "../context";
import { adminAssetView, assetView } from "../lib/assets";
import { allAssets, findAsset, insertAsset, instrumentSpecOf, updateAsset } from "../../platform/assets";
import { publish } from "../lib/events";
import { assetsChanged } from "../lib/stream-hubs";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { invalidBody, validationHook } from "../middleware/errors";

export const assets = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const readMarket = requirePermission("trading:read");

assets.openapi(
  createRoute({
    method: "get",
    path: "/v2/assets",
    tags: ["assets"],
    summary: "Instruments (Alpaca's asset shape)",
    security: SESSION_OR_KEY,
    middleware: [readMarket] as const,
    request: { query: ListAssetsQuery },
    responses: { 200: jsonContent(z.array(Asset), "Assets ordered by symbol"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const { status, asset_class, exchange } = c.req.valid("query");
    if (asset_class === "us_option") return c.json([], 200);
    const rows = (await allAssets(c.env)).filter(
      (r) => (!status || r.status === status) && (!asset_class || r.assetClass === asset_class) && (!exchange || r.exchange === exchange.toUpperCase()),
    );
    return c.json(rows.map(assetView), 200);
  },
);

const getAsset = async (env: Env, symbolOrId: string) => {
  const row = await findAsset(env, symbolOrId);
  if (!row) throw notFound(`asset not found for ${symbolOrId}`);
  return assetView(row);
};

assets.openapi(
  createRoute({
    method: "get",
    path: "/v2/assets/{symbol_or_asset_id}",
    tags: ["assets"],
    summary: "One instrument by symbol or id",
    security: SESSION_OR_KEY,
    middleware: [readMarket] as const,
    request: { params: z.object({ symbol_or_asset_id: z.string().min(1).max(64) }) },
    responses: { 200: jsonContent(Asset, "The asset"), ...errorResponses(401, 403, 404, 429) },
  }),
  async (c) => c.json(await getAsset(c.env, c.req.valid("param").symbol_or_asset_id), 200),
);

// Crypto pairs contain a slash: /v2/assets/BTC/USD answers like /v2/assets/BTC%2FUSD.
assets.openapi(
  createRoute({
    method: "get",
    path: "/v2/assets/{base}/{quote}",
    tags: ["assets"],
    summary: "One crypto pair by its symbol with the slash",
    security: SESSION_OR_KEY,
    middleware: [readMarket] as const,
    request: { params: z.object({ base: z.string().min(1).max(12), quote: z.string().min(1).max(12) }) },
    responses: { 200: jsonContent(Asset, "The asset"), ...errorResponses(401, 403, 404, 429) },
  }),
  async (c) => {
    const { base, quote } = c.req.valid("param");
    return c.json(await getAsset(c.env, `${base}/${quote}`), 200);
  },
);

assets.openapi(
  createRoute({
    method: "get",
    path: "/v2/clock",
    tags: ["assets"],
    summary: "The US equity market clock (New York time with offset)",
    security: SESSION_OR_KEY,
    middleware: [readMarket] as const,
    responses: { 200: jsonContent(Clock, "Clock"), ...errorResponses(401, 403, 429) },
  }),
  (c) => c.json(clock(Date.now()), 200),
);

assets.openapi(
  createRoute({
    method: "get",
    path: "/v2/calendar",
    tags: ["assets"],
    summary: "US equity trading days between start and end (by default from 1970 to three years ahead; dates are kept within 1970–2099)",
    security: SESSION_OR_KEY,
    middleware: [readMarket] as const,
    request: { query: CalendarQuery },
    responses: { 200: jsonContent(z.array(CalendarDay), "Trading days"), ...errorResponses(401, 403, 422, 429) },
  }),
  (c) => {
    // As Alpaca's: without dates, the whole calendar (from 1970 to three years ahead);
    // a start alone runs to that end, an end alone from 1970.
    const query = c.req.valid("query");
    const start = query.start ?? CALENDAR_FIRST;
    const horizon = `${new Date().getUTCFullYear() + 3}-12-31`;
    const end = query.end ?? (start > horizon ? start : horizon);
    if (end < start) throw unprocessable("end must not be before start", [{ path: "end", message: "is before start" }]);
    return c.json(calendar(start, end), 200);
  },
);

// ---- administration ------------------------------------------------------------------
const adminOnly = requirePermission("admin:all");

assets.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/assets",
    tags: ["admin"],
    summary: "Every instrument with its feed and session configuration",
    security: SESSION_OR_KEY,
    middleware: [adminOnly] as const,
    responses: { 200: jsonContent(z.array(AdminAsset), "Assets"), ...errorResponses(401, 403, 429) },
  }),
  async (c) => c.json((await allAssets(c.env)).map(adminAssetView), 200),
);

assets.openapi(
  createRoute({
    method: "post",
    path: "/api/admin/assets",
    tags: ["admin"],
    summary: "Add an instrument; its feed starts at once",
    security: SESSION_OR_KEY,
    middleware: [adminOnly] as const,
    request: { body: jsonBody(CreateAssetRequest) },
    responses: { 201: jsonContent(AdminAsset, "The new asset"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const now = Date.now();
    const row = {
      id: crypto.randomUUID(),
      symbol: body.symbol,
      name: body.name,
      assetClass: body.class,
      exchange: body.exchange.toUpperCase(),
      tickSize: body.tick_size,
      lotSize: body.lot_size,
      minOrderSize: body.min_order_size ?? body.lot_size,
      tradable: body.tradable,
      status: body.status,
      session: body.session === null ? null : JSON.stringify(body.session),
      feed: JSON.stringify(body.feed),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await insertAsset(c.env, row);
    } catch (error) {
      if (/UNIQUE constraint failed/i.test(`${String(error)} ${String((error as Error).cause ?? "")}`))
        throw conflict(`asset ${body.symbol} already exists`, [{ path: "symbol", message: "already exists" }]);
      throw error;
    }
    await marketOf(c.env, row.symbol, c.get("traceparent")).reload();
    if (row.status === "active") await assetsChanged(c.env);
    await publish(c.env, "config.asset_created", `asset:${row.symbol}`, { symbol: row.symbol, by: principalOf(c).userId }, c.get("traceparent"));
    return c.json(adminAssetView(row), 201);
  },
);

assets.openapi(
  createRoute({
    method: "patch",
    path: "/api/admin/assets/{asset_id}",
    tags: ["admin"],
    summary: "Edit an instrument; its symbol object picks the change up at once",
    security: SESSION_OR_KEY,
    middleware: [adminOnly] as const,
    request: { params: z.object({ asset_id: z.uuid({ error: "must be an asset id (UUID)" }) }), body: jsonBody(UpdateAssetRequest) },
    responses: { 200: jsonContent(AdminAsset, "The updated asset"), ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429) },
  }),
  async (c) => {
    const { asset_id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (body.feed) {
      // A new simulated feed's start price is checked against the grid the instrument keeps.
      const tickSize = (await findAsset(c.env, asset_id))?.tickSize;
      const problem = tickSize === undefined ? null : startPriceProblem(body.feed, tickSize);
      if (problem) throw invalidBody([{ path: "feed.params.startPrice", message: problem }]);
    }
    const changes = {
      ...(body.name !== undefined && { name: body.name }),
      ...(body.exchange !== undefined && { exchange: body.exchange.toUpperCase() }),
      ...(body.min_order_size !== undefined && { minOrderSize: body.min_order_size }),
      ...(body.tradable !== undefined && { tradable: body.tradable }),
      ...(body.status !== undefined && { status: body.status }),
      ...(body.session !== undefined && { session: body.session === null ? null : JSON.stringify(body.session) }),
      ...(body.feed !== undefined && { feed: JSON.stringify(body.feed) }),
      updatedAt: Date.now(),
    };
    const row = await updateAsset(c.env, asset_id, changes);
    if (!row) throw notFound("asset not found");
    await marketOf(c.env, row.symbol, c.get("traceparent")).reload();
    if (body.status !== undefined) await assetsChanged(c.env);
    await publish(c.env, "config.asset_updated", `asset:${row.symbol}`, { symbol: row.symbol, changes: Object.keys(body), by: principalOf(c).userId }, c.get("traceparent"));
    return c.json(adminAssetView(row), 200);
  },
);

export const IMPORT_PATH = /^\/api\/admin\/assets\/[^/]+\/history$/;

assets.openapi(
  createRoute({
    method: "post",
    path: "/api/admin/assets/{asset_id}/history",
    tags: ["admin"],
    summary: "Import OHLCV history from CSV (all rows or none)",
    description:
      "Header `timestamp,open,high,low,close,volume` (optional `trade_count`, `vwap`); timestamps RFC-3339 or epoch seconds/ms aligned to the timeframe; prices on the tick grid, volumes on the lot grid; no bar may start after the time of the import. Any bad row rejects the whole file: `details` lists each problem at its line (`line N`, the header being line 1; up to 100, and one line may have several), and the message counts the problems and the lines they are on. Replaces stored bars over the imported range and rebuilds the coarser timeframes.",
    security: SESSION_OR_KEY,
    middleware: [adminOnly] as const,
    request: {
      params: z.object({ asset_id: z.uuid({ error: "must be an asset id (UUID)" }) }),
      query: z.object({ timeframe: z.enum(["1Min", "5Min", "15Min", "1Hour", "1Day"]).default("1Min") }),
      body: { required: true, content: { "text/csv": { schema: z.string().openapi({ example: "timestamp,open,high,low,close,volume\n2024-01-02T14:30:00Z,187.15,188.44,186.90,187.92,1200\n" }) } } },
    },
    responses: {
      200: jsonContent(z.object({ symbol: z.string(), timeframe: z.string(), imported: z.number(), rebuilt: z.array(z.string()) }), "Imported"),
      ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429),
    },
  }),
  async (c) => {
    const { asset_id } = c.req.valid("param");
    const { timeframe } = c.req.valid("query");
    const row = await findAsset(c.env, asset_id);
    if (!row) throw notFound("asset not found");
    const text = await c.req.text();
    const spec = instrumentSpecOf(row);
    const parsed = parseOhlcvCsv(text, spec, { timeframe: STREAM_TIMEFRAMES.find((t) => t.label === timeframe)!, now: Date.now() });
    if (!parsed.ok) {
      throw unprocessable(
        csvRejection(parsed.errors, "nothing was imported"),
        parsed.errors.map((e) => ({ path: `line ${e.line}`, message: e.message })),
      );
    }
    const result = await marketOf(c.env, row.symbol, c.get("traceparent")).importBars(timeframe, parsed.bars);
    await publish(c.env, "market.history_imported", `asset:${row.symbol}`, { symbol: row.symbol, timeframe, bars: result.imported, by: principalOf(c).userId }, c.get("traceparent"));
    return c.json({ symbol: row.symbol, timeframe, ...result }, 200);
  },
);
