import { z } from "@hono/zod-openapi";
import { WATCHLIST_LIMITS } from "../trading/watchlists";
import { Asset } from "./assets";
import { shownName } from "./common";

// Alpaca's watchlists (`/v2/watchlists`): a name of up to 64 characters, unique in the
// account, and an ordered list of assets, each given by symbol ("AAPL", "BTC/USD" or
// "BTCUSD") or asset id.

const SymbolText = z.string().trim().min(1).max(48);
const Symbols = z
  .array(SymbolText)
  .max(WATCHLIST_LIMITS.assets, `at most ${WATCHLIST_LIMITS.assets} symbols`)
  .nullish()
  .openapi({ example: ["AAPL", "BTC/USD"] });

export const CreateWatchlistRequest = z
  .object({ name: shownName(64).openapi({ example: "Tech" }), symbols: Symbols })
  .strict()
  .openapi("CreateWatchlistRequest");

export const UpdateWatchlistRequest = z
  .object({ name: shownName(64).optional().openapi({ example: "Tech and crypto" }), symbols: Symbols })
  .strict()
  .refine((b) => b.name !== undefined || (b.symbols !== undefined && b.symbols !== null), { message: "give a new name, new symbols, or both", path: ["name"] })
  .openapi("UpdateWatchlistRequest");

export const AddWatchlistAssetRequest = z.object({ symbol: SymbolText.openapi({ example: "MSFT" }) }).strict().openapi("AddWatchlistAssetRequest");

export const WatchlistWithoutAssets = z
  .object({
    id: z.uuid(),
    account_id: z.string(),
    name: z.string(),
    created_at: z.string().openapi({ example: "2026-12-06T12:00:00.000Z" }),
    updated_at: z.string().openapi({ example: "2026-12-06T12:00:00.000Z" }),
  })
  .openapi("WatchlistWithoutAssets");

export const Watchlist = WatchlistWithoutAssets.extend({ assets: z.array(Asset) }).openapi("Watchlist");

export const WatchlistIdParam = z.object({ watchlist_id: z.string().min(1).max(64) });
// Composed as names are stored (shownName), so a name typed either way finds its list.
export const WatchlistNameQuery = z.object({ name: z.string().trim().normalize("NFC").min(1).max(256) });
