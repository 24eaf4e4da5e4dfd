import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "@hono/zod-openapi";
import { notFound } from "../../shared/errors";
import { lotsToDecimal, ticksToDecimal, type InstrumentSpec } from "../../shared/market/instrument";
import { errorResponses, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { VenueFillPage, VenueFillsQuery, VenueSymbolParam, type VenueFill } from "../../shared/schemas/venue";
import { formatMoney } from "../../shared/trading/money";
import type { Report } from "../../shared/venue/venue";
import { findAsset, instrumentSpecOf } from "../../platform/assets";
import { database, schema } from "../../platform/db";
import { eq } from "drizzle-orm";
import { marketOf } from "../lib/objects";
import type { AppEnv } from "../context";
import { requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// What a symbol's venue executed for an account, read from the venue's own fill log: the
// independent side an account's FILL activities are reconciled against (the crash test
// does so after a SIGKILL). Admins only: it reads any account.
export const venueAdmin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** The most fills the symbol object answers in one call (its venueFills RPC). */
const PAGE = 1000;

function venueFillView(fill: Extract<Report, { kind: "fill" }>, spec: InstrumentSpec): z.infer<typeof VenueFill> {
  return {
    seq: fill.seq,
    execution_id: fill.executionId,
    order_id: fill.orderId,
    account: fill.account,
    price: ticksToDecimal(fill.price, spec),
    qty: lotsToDecimal(fill.qty, spec),
    fee: formatMoney(BigInt(fill.fee)),
    liquidity: fill.liquidity,
    cum_qty: lotsToDecimal(fill.cumQty, spec),
    leaves_qty: lotsToDecimal(fill.leaves, spec),
    transaction_time: new Date(fill.t).toISOString(),
  };
}

venueAdmin.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/venues/{symbol}/fills",
    tags: ["admin"],
    summary: "A venue's fills for one account, in sequence order (admins only)",
    description: "Up to 1,000 fills after `after`; crypto pairs take the slash encoded (BTC%2FUSD) or the asset id.",
    security: SESSION_OR_KEY,
    middleware: [requirePermission("admin:all")] as const,
    request: { params: VenueSymbolParam, query: VenueFillsQuery },
    responses: { 200: jsonContent(VenueFillPage, "A page of the venue's fills"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { symbol } = c.req.valid("param");
    const { account, after } = c.req.valid("query");
    const [row, user] = await Promise.all([
      findAsset(c.env, symbol),
      database(c.env).select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.id, account)).get(),
    ]);
    if (!row) throw notFound(`no instrument ${symbol}`);
    // An account no user has answers 404, as the other admin routes do for an unknown user (an empty page read as "no fills").
    if (!user) throw notFound(`user ${account} not found`);
    const spec = instrumentSpecOf(row);
    const fills = await marketOf(c.env, row.symbol, c.get("traceparent")).venueFills(account, after);
    return c.json(
      {
        symbol: row.symbol,
        account,
        fills: fills.map((f) => venueFillView(f, spec)),
        next_after: fills.length === PAGE ? fills[fills.length - 1]!.seq : null,
      },
      200,
    );
  },
);
