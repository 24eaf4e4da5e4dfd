import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { notFound } from "../../shared/errors";
import { booleanParam, errorResponses, jsonBody, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { Order, OrderQueryParams, OrderRequest, ReplaceRequest } from "../../shared/schemas/trading";
import type { AppEnv } from "../context";
import { accountOf, timeRange, tradableAsset, unwrap } from "../lib/accounts";
import { registrySymbols } from "../../platform/assets";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { gateOf, oneHop, passed } from "../middleware/admission";
import type { Gated } from "../../shared/identity/gate";
import type { OrderView } from "../../shared/trading/orders";
import type { Outcome } from "../../shared/trading/outcome";

// Alpaca's orders API (docs/alpaca-compat.md §3). Every call goes to the caller's own account
// object; an order id from someone else's account is simply not found there.
export const orders = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;
const read = requirePermission("trading:read");
const write = requirePermission("trading:write");
const OrderId = z.object({ order_id: z.uuid({ error: "order_id must be a UUID" }) });
const notFoundOrder = () => notFound("order is not found.");

orders.openapi(
  createRoute({
    method: "post",
    path: "/v2/orders",
    tags: ["orders"],
    summary: "Place an order",
    description:
      "market, limit, stop or stop_limit; day, gtc, ioc or fok; qty or notional (market only). A repeated client_order_id returns the original order. Pre-trade checks: buying power (403, \"insufficient balance for …\"), order rate (429), price band, quantity, notional, position, daily loss, tradable and in session, tick and lot grid (422).",
    security,
    middleware: [write] as const,
    request: { body: jsonBody(OrderRequest) },
    responses: { 200: jsonContent(Order, "The order as accepted (it may already be filled)"), ...errorResponses(400, 401, 403, 413, 415, 422, 429) },
  }),
  async (c) => {
    // One call into the caller's object: the gate (credential, rate limit, permission) and the order.
    const gate = gateOf(c);
    const body = c.req.valid("json");
    const asset = await tradableAsset(c.env, body.symbol, c.executionCtx);
    const { symbol, extended_hours, order_class, ...fields } = body;
    const answer = await accountOf(c.env, gate.userId).placeOrderAs(gate.request, fields, asset, c.get("traceparent"));
    return c.json(unwrap(passed(c, answer as Gated<Outcome<OrderView>>)), 200);
  },
);

orders.openapi(
  createRoute({
    method: "get",
    path: "/v2/orders",
    tags: ["orders"],
    summary: "List orders",
    security,
    middleware: [read] as const,
    request: { query: OrderQueryParams },
    responses: { 200: jsonContent(z.array(Order), "Orders, newest first unless direction=asc"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const named = q.symbols ? [...new Set(q.symbols.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean))] : null;
    // Each as the registry spells it ("BTCUSD" is BTC/USD), from the isolate's snapshot (a
    // list of a thousand names costs no D1 read); one it does not know matches nothing.
    const symbols = named && (await registrySymbols(c.env, named));
    const query = {
      open: q.status === "all" ? null : q.status === "open",
      ...timeRange(q.after, q.until),
      direction: q.direction,
      limit: q.limit,
      symbols: symbols && symbols.length > 0 ? symbols : null,
      side: q.side ?? null,
    };
    return c.json(await oneHop<OrderView[]>(c, (account, gate) => account.gated(gate, "orders", query)), 200);
  },
);

// Alpaca's path has a colon inside the segment; registered before /v2/orders/{order_id}.
orders.openapi(
  createRoute({
    method: "get",
    path: "/v2/orders:by_client_order_id",
    tags: ["orders"],
    summary: "An order by its client_order_id",
    security,
    middleware: [read] as const,
    request: { query: z.object({ client_order_id: z.string().min(1).max(128) }) },
    responses: { 200: jsonContent(Order, "The order"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const clientOrderId = c.req.valid("query").client_order_id;
    const order = await oneHop<OrderView | null>(c, (account, gate) => account.gated(gate, "orderByClientId", clientOrderId));
    if (!order) throw notFoundOrder();
    return c.json(order, 200);
  },
);

orders.openapi(
  createRoute({
    method: "get",
    path: "/v2/orders/{order_id}",
    tags: ["orders"],
    summary: "An order by id",
    security,
    middleware: [read] as const,
    request: { params: OrderId, query: z.object({ nested: booleanParam("nested").optional() }) },
    responses: { 200: jsonContent(Order, "The order"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const id = c.req.valid("param").order_id.toLowerCase(); // UUIDs are stored in lower case; clients may send either
    const order = await oneHop<OrderView | null>(c, (account, gate) => account.gated(gate, "order", id));
    if (!order) throw notFoundOrder();
    return c.json(order, 200);
  },
);

orders.openapi(
  createRoute({
    method: "patch",
    path: "/v2/orders/{order_id}",
    tags: ["orders"],
    summary: "Replace an open order",
    description: "Cancels the order at the venue and places a new one linked by replaces / replaced_by. qty defaults to the unfilled quantity.",
    security,
    middleware: [write] as const,
    request: { params: OrderId, body: jsonBody(ReplaceRequest) },
    responses: { 200: jsonContent(Order, "The new order"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
  }),
  async (c) => {
    const { userId } = principalOf(c);
    const account = accountOf(c.env, userId);
    const id = c.req.valid("param").order_id.toLowerCase(); // UUIDs are stored in lower case; clients may send either
    const existing = await account.order(id);
    if (!existing) throw notFoundOrder();
    const asset = await tradableAsset(c.env, existing.symbol);
    // A null field leaves the order's as it is (the engine's givenReplaceFields).
    return c.json(unwrap(await account.replaceOrder(id, c.req.valid("json"), asset, c.get("traceparent"))), 200);
  },
);

orders.openapi(
  createRoute({
    method: "delete",
    path: "/v2/orders/{order_id}",
    tags: ["orders"],
    summary: "Cancel an order",
    security,
    middleware: [write] as const,
    request: { params: OrderId },
    responses: { 204: { description: "Cancel accepted" }, ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const id = c.req.valid("param").order_id.toLowerCase(); // UUIDs are stored in lower case; clients may send either
    unwrap(await oneHop<Outcome<null>>(c, (account, gate) => account.gated(gate, "cancelOrder", id)));
    return c.body(null, 204);
  },
);

orders.openapi(
  createRoute({
    method: "delete",
    path: "/v2/orders",
    tags: ["orders"],
    summary: "Cancel every open order",
    security,
    middleware: [write] as const,
    responses: {
      207: jsonContent(z.array(z.object({ id: z.string(), status: z.number().int(), body: z.unknown() })), "One entry per order"),
      ...errorResponses(401, 403, 429),
    },
  }),
  async (c) => {
    return c.json(await oneHop<{ id: string; status: number; body: OrderView }[]>(c, (account, gate) => account.gated(gate, "cancelAll")), 207);
  },
);
