import { z } from "@hono/zod-openapi";
import { wholeParam } from "./common";

// The venue's own record of what it executed, for admins and the crash test to reconcile
// accounts against: the other side of every FILL activity an account shows.

export const VenueSymbolParam = z.object({
  symbol: z
    .string()
    .min(1, { error: "symbol is required" })
    .max(64, { error: "symbol must be at most 64 characters" })
    .regex(/^[A-Za-z0-9./:-]+$/, { error: "must be a symbol (crypto pairs with the slash encoded, BTC%2FUSD) or an asset id" })
    .openapi({ param: { name: "symbol", in: "path" }, example: "AAPL" }),
});

export const VenueFillsQuery = z.object({
  account: z
    .uuid({ error: (issue) => (issue.input === undefined ? "account is required: the account's user id (UUID)" : "account must be a user id (UUID)") })
    .openapi({ description: "the account's user id" }),
  // A whole number, said so: z.coerce read "" as 0 and "1e3" as 1000, and answered "must be a number" for -1 and 1.5.
  after: wholeParam("after", 0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .openapi({ description: "cursor: the last seq of the previous page (exclusive)" }),
});

export const VenueFill = z
  .object({
    seq: z.number().int().openapi({ description: "the venue's report sequence number" }),
    execution_id: z.string().openapi({ example: "4f1c2a9e-0b3d-8a71-9c2e-00000000002a" }),
    order_id: z.string(),
    account: z.string(),
    price: z.string().openapi({ example: "187.25" }),
    qty: z.string().openapi({ example: "1" }),
    fee: z.string().openapi({ example: "0.01", description: "USD charged for this execution" }),
    liquidity: z.enum(["maker", "taker"]),
    cum_qty: z.string(),
    leaves_qty: z.string(),
    transaction_time: z.string(),
  })
  .openapi("VenueFill");

export const VenueFillPage = z
  .object({
    symbol: z.string(),
    account: z.string(),
    fills: z.array(VenueFill),
    next_after: z.number().int().nullable().openapi({ description: "pass as `after` for the next page; null on the last page" }),
  })
  .openapi("VenueFillPage");
