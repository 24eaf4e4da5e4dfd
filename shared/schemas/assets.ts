import { z } from "@hono/zod-openapi";
import { shownName } from "./common";
import { decimalToTicks } from "../market/instrument";
import { SimParamsSchema } from "../market/simulator";
import { parseTimeframe } from "../market/timeframe";
import { NYSE_ZONE } from "../trading/session";

// Asset registry: Alpaca's asset shape on the wire (note the key `class`), plus the
// RedFire-specific feed and session configuration for admins.
const Decimal = z.string().regex(/^(0|[1-9]\d{0,11})(\.\d{1,9})?$/, "must be a positive decimal string like \"0.01\"");
const PositiveDecimal = Decimal.refine((s) => Number(s) > 0, "must be greater than zero");

export const Session = z
  .object({
    timeZone: z.string().min(1).refine((tz) => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, "is not a known time zone"),
    open: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM"),
    close: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM"),
    days: z.array(z.number().int().min(0).max(6)).min(1).max(7).openapi({ description: "0 = Sunday … 6 = Saturday" }),
    calendar: z
      .enum(["nyse"])
      .nullable()
      .optional()
      .openapi({ description: '"nyse": closed on the exchange\'s holidays; on its early-close days a close at or before 16:00 moves to 13:00, a later one to 17:00 (as /v2/calendar)' }),
  })
  .refine((s) => !s.calendar || s.timeZone === NYSE_ZONE, { path: ["calendar"], message: `the NYSE calendar is kept in ${NYSE_ZONE} time: set timeZone to ${NYSE_ZONE}` })
  .openapi("TradingSession");

export const FeedConfig = z
  .discriminatedUnion("kind", [
    z.object({
      kind: z.literal("sim"),
      // Checked by the simulator's own schema here, before anything is written: a feed that
      // cannot start would be stored and then fail every read of the symbol.
      params: z
        .record(z.string(), z.unknown())
        .default({})
        .superRefine((params, ctx) => {
          const parsed = SimParamsSchema.safeParse(params);
          if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
        }),
    }),
    z.object({
      kind: z.literal("replay"),
      timeframe: z
        .string()
        .default("1Min")
        .superRefine((text, ctx) => {
          const parsed = parseTimeframe(text);
          if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.message });
        }),
      speed: z.number().positive().max(1_000_000_000).default(60),
      loop: z.boolean().default(true),
    }),
    z.object({
      kind: z.literal("upstream"),
      url: z.url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL" }),
      symbol: z.string().min(1).max(32).optional(),
      key: z.string().max(256).optional(),
      secret: z.string().max(256).optional(),
      staleAfterMs: z.number().int().min(100).max(3_600_000).default(10_000),
    }),
    z.object({ kind: z.literal("none") }),
  ])
  .openapi("FeedConfig");
export type FeedConfig = z.infer<typeof FeedConfig>;

/**
 * Why a simulated feed's start price is not one the instrument can print: off its tick
 * grid (found in QA: 100.0005 on a 0.001 grid was stored, and the feed began elsewhere);
 * null when it is, or when the feed is not simulated or names none.
 */
export function startPriceProblem(feed: FeedConfig | undefined, tickSize: string): string | null {
  if (feed?.kind !== "sim" || typeof feed.params.startPrice !== "string") return null;
  // A tick size that is no grid has its own refusal (the grids' readers throw on one: the e2e found a 500).
  if (!PositiveDecimal.safeParse(tickSize).success) return null;
  return decimalToTicks(feed.params.startPrice, { tickSize }) === undefined ? `must be a positive multiple of the tick size ${tickSize}` : null;
}

export const Asset = z
  .object({
    id: z.uuid(),
    class: z.enum(["us_equity", "crypto"]),
    exchange: z.string(),
    symbol: z.string(),
    name: z.string(),
    status: z.enum(["active", "inactive"]),
    tradable: z.boolean(),
    marginable: z.boolean(),
    shortable: z.boolean(),
    easy_to_borrow: z.boolean(),
    fractionable: z.boolean(),
    min_order_size: z.string(),
    min_trade_increment: z.string(),
    price_increment: z.string(),
    maintenance_margin_requirement: z.number(),
    attributes: z.array(z.string()),
  })
  .openapi("Asset");

export const AdminAsset = Asset.extend({ session: Session.nullable(), feed: FeedConfig }).openapi("AdminAsset");

/** A symbol's spelling: an upper-case ticker (AAPL, BRK.B) or a pair (BTC/USD). */
export const SYMBOL_PATTERN = /^[A-Z][A-Z0-9.]{0,11}(\/[A-Z]{2,6})?$/;

const SymbolName = z.string().regex(SYMBOL_PATTERN, "must be an upper-case ticker like AAPL or a pair like BTC/USD");

export const CreateAssetRequest = z
  .object({
    symbol: SymbolName,
    name: shownName(128),
    class: z.enum(["us_equity", "crypto"]),
    exchange: z.string().trim().min(1).max(16),
    tick_size: PositiveDecimal,
    lot_size: PositiveDecimal,
    min_order_size: PositiveDecimal.optional(),
    tradable: z.boolean().default(true),
    status: z.enum(["active", "inactive"]).default("active"),
    session: Session.nullable().default(null),
    feed: FeedConfig.default({ kind: "sim", params: {} }),
  })
  .strict()
  .refine((a) => (a.class === "crypto") === a.symbol.includes("/"), { message: "crypto symbols are pairs like BTC/USD; equities are plain tickers", path: ["symbol"] })
  .superRefine((a, ctx) => {
    const problem = startPriceProblem(a.feed, a.tick_size);
    if (problem) ctx.addIssue({ code: "custom", path: ["feed", "params", "startPrice"], message: problem });
  })
  .openapi("CreateAssetRequest");

// tick_size and lot_size are fixed at creation: a symbol's stored history is kept in
// whole ticks and lots, so changing the grid would change the meaning of its past.
export const UpdateAssetRequest = z
  .object({
    name: shownName(128).optional(),
    exchange: z.string().trim().min(1).max(16).optional(),
    min_order_size: PositiveDecimal.optional(),
    tradable: z.boolean().optional(),
    status: z.enum(["active", "inactive"]).optional(),
    session: Session.nullable().optional(),
    feed: FeedConfig.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: "nothing to update" })
  .openapi("UpdateAssetRequest");

export const ListAssetsQuery = z.object({
  status: z.enum(["active", "inactive"]).optional(),
  asset_class: z.enum(["us_equity", "crypto", "us_option"]).optional(),
  exchange: z.string().max(16).optional(),
});

export const Clock = z
  .object({ timestamp: z.string(), is_open: z.boolean(), next_open: z.string(), next_close: z.string() })
  .openapi("Clock");

export const CalendarQuery = z.object({
  start: z.iso.date({ error: "must be a date YYYY-MM-DD" }).optional(),
  end: z.iso.date({ error: "must be a date YYYY-MM-DD" }).optional(),
});

export const CalendarDay = z
  .object({ date: z.string(), open: z.string(), close: z.string(), session_open: z.string(), session_close: z.string(), settlement_date: z.string() })
  .openapi("CalendarDay");
