import { z } from "@hono/zod-openapi";

// Response shapes of the market-data REST routes (docs/alpaca-compat.md §5), as this server
// answers them: Alpaca's one-letter records, built in shared/market/format.ts, and the
// wrappers the routes in workers/routes/market-data.ts put them in. Where RedFire differs
// from Alpaca the shape here is RedFire's (a snapshot's missing record is null, not left
// out; a multi-symbol page lists a symbol it read with no rows as an empty list; a stock
// record's conditions are always an empty list). test/market-data.test.ts checks real
// answers against the OpenAPI document built from these.

const Time = z.string().openapi({ format: "date-time", description: "RFC-3339 UTC with milliseconds", example: "2024-01-02T15:04:05.123Z" });
const Price = z.number().openapi({ example: 187.42 });
const Size = z.number().openapi({ description: "In shares (stocks) or units of the base currency (crypto)", example: 100 });
const Whole = z.number().int();
const Exchange = z.string().openapi({ description: "Exchange code: V, the simulated venue", example: "V" });
const Tape = z.string().openapi({ description: "Tape: C", example: "C" });
const Conditions = z.array(z.string()).openapi({ description: "Condition codes: always an empty list here", example: [] });
const NextPageToken = z.string().nullable().openapi({ description: "Pass as page_token for the next page; null on the last page" });
const SymbolName = z.string().openapi({ example: "AAPL" });

export const MarketBar = z
  .object({
    t: Time.openapi({ description: "Start of the bar's interval" }),
    o: Price,
    h: Price,
    l: Price,
    c: Price,
    v: Size,
    n: Whole.openapi({ description: "Number of trades" }),
    vw: z.number().openapi({ description: "Volume-weighted average price (the close when the volume is 0)" }),
  })
  .openapi("MarketBar");

export const StockTrade = z.object({ t: Time, x: Exchange, p: Price, s: Size, c: Conditions, i: Whole.openapi({ description: "Trade id" }), z: Tape }).openapi("StockTrade");

export const CryptoTrade = z
  .object({
    t: Time,
    p: Price,
    s: Size,
    tks: z.enum(["B", "S"]).openapi({ description: "Taker side: B buy, S sell" }),
    i: Whole.openapi({ description: "Trade id" }),
  })
  .openapi("CryptoTrade");

export const StockQuote = z
  .object({ t: Time, ax: Exchange, ap: Price, as: Size, bx: Exchange, bp: Price, bs: Size, c: Conditions, z: Tape })
  .openapi("StockQuote");

export const CryptoQuote = z.object({ t: Time, bp: Price, bs: Size, ap: Price, as: Size }).openapi("CryptoQuote");

const BookLevel = z.object({ p: Price, s: Size }).openapi("CryptoOrderbookLevel");
export const CryptoOrderbook = z
  .object({
    t: Time,
    b: z.array(BookLevel).openapi({ description: "Bids: one level, the current quote's" }),
    a: z.array(BookLevel).openapi({ description: "Asks: one level, the current quote's" }),
  })
  .openapi("CryptoOrderbook");

/**
 * A record or null, as `anyOf: [$ref, {type: null}]`: `.nullable()` on a named schema is
 * written `allOf: [$ref, {type: [object, null]}]`, which null cannot satisfy.
 */
const orNull = <T extends z.ZodType>(record: T) => z.union([record, z.null()]);

/** A snapshot's records: each null while the symbol has none (Alpaca leaves it out). */
const snapshotShape = <T extends z.ZodType, Q extends z.ZodType>(trade: T, quote: Q) => ({
  latestTrade: orNull(trade),
  latestQuote: orNull(quote),
  minuteBar: orNull(MarketBar),
  dailyBar: orNull(MarketBar),
  prevDailyBar: orNull(MarketBar),
});

export const StockSnapshot = z.object(snapshotShape(StockTrade, StockQuote)).openapi("StockSnapshot");
export const CryptoSnapshot = z.object(snapshotShape(CryptoTrade, CryptoQuote)).openapi("CryptoSnapshot");

const bySymbol = <T extends z.ZodType>(item: T) => z.record(z.string(), item);

// ---- route answers -----------------------------------------------------------------------

/** `/v2/stocks/{symbol}/snapshot`. */
export const StockSymbolSnapshot = z.object({ symbol: SymbolName, ...snapshotShape(StockTrade, StockQuote) }).openapi("StockSymbolSnapshot");
/** `/v2/stocks/snapshots`: the map itself, with no wrapper key. */
export const StockSnapshots = bySymbol(StockSnapshot).openapi("StockSnapshots");
export const CryptoSnapshots = z.object({ snapshots: bySymbol(CryptoSnapshot) }).openapi("CryptoSnapshots");

const Items = { bars: MarketBar, trades: StockTrade, quotes: StockQuote } as const;
const CryptoItems = { bars: MarketBar, trades: CryptoTrade, quotes: CryptoQuote } as const;
const Singular = { bars: "bar", trades: "trade", quotes: "quote" } as const;
const Title = { bars: "Bars", trades: "Trades", quotes: "Quotes" } as const;
type Dataset = keyof typeof Items;

const oneSymbolPage = (dataset: Dataset) =>
  z.object({ [dataset]: z.array(Items[dataset]), symbol: SymbolName, next_page_token: NextPageToken }).openapi(`StockSymbol${Title[dataset]}`);
const manySymbolsPage = (dataset: Dataset, crypto: boolean) =>
  z
    .object({
      [dataset]: bySymbol(z.array((crypto ? CryptoItems : Items)[dataset])).openapi({ description: "By symbol, in symbol order; a symbol read with no rows has an empty list, symbols after the page's end are absent" }),
      next_page_token: NextPageToken,
    })
    .openapi(`${crypto ? "Crypto" : "Stock"}${Title[dataset]}`);
const latestOne = (dataset: Dataset) =>
  z.object({ symbol: SymbolName, [Singular[dataset]]: Items[dataset] }).openapi(`StockSymbolLatest${Title[dataset].slice(0, -1)}`);
const latestMany = (dataset: Dataset, crypto: boolean) =>
  z
    .object({ [dataset]: bySymbol((crypto ? CryptoItems : Items)[dataset]).openapi({ description: "By symbol; a symbol with nothing printed yet is absent" }) })
    .openapi(`${crypto ? "Crypto" : "Stock"}Latest${Title[dataset]}`);

const perDataset = <T>(make: (dataset: Dataset) => T) => ({ bars: make("bars"), trades: make("trades"), quotes: make("quotes") });

/** History: `/v2/stocks/{symbol}/{dataset}`, `/v2/stocks/{dataset}`, `/v1beta3/crypto/us/{dataset}`. */
export const HistoryAnswers = {
  stock: perDataset(oneSymbolPage),
  stocks: perDataset((d) => manySymbolsPage(d, false)),
  crypto: perDataset((d) => manySymbolsPage(d, true)),
};

/** Latest values: `/v2/stocks/{symbol}/{dataset}/latest`, `/v2/stocks/{dataset}/latest`, `/v1beta3/crypto/us/latest/{dataset}`. */
export const LatestAnswers = {
  stock: perDataset(latestOne),
  stocks: perDataset((d) => latestMany(d, false)),
  crypto: perDataset((d) => latestMany(d, true)),
};

export const CryptoLatestOrderbooks = z
  .object({ orderbooks: bySymbol(CryptoOrderbook).openapi({ description: "By symbol; a pair with no quote yet is absent" }) })
  .openapi("CryptoLatestOrderbooks");
