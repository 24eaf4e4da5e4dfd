import type { z } from "@hono/zod-openapi";
import { eq, or } from "drizzle-orm";
import type { InstrumentSpec } from "../../shared/market/instrument";
import { FeedConfig, Session, type AdminAsset, type Asset } from "../../shared/schemas/assets";
import { database, schema } from "../../platform/db";

export type AssetRow = typeof schema.assets.$inferSelect;

export function assetView(row: AssetRow): z.infer<typeof Asset> {
  return {
    id: row.id,
    class: row.assetClass,
    exchange: row.exchange,
    symbol: row.symbol,
    name: row.name,
    status: row.status,
    tradable: row.tradable,
    // A cash account: no margin, no shorting (yet).
    marginable: false,
    shortable: false,
    easy_to_borrow: false,
    fractionable: !/^[1-9]\d*$/.test(row.lotSize),
    min_order_size: row.minOrderSize,
    min_trade_increment: row.lotSize,
    price_increment: row.tickSize,
    maintenance_margin_requirement: 100,
    attributes: [],
  };
}

export function adminAssetView(row: AssetRow): z.infer<typeof AdminAsset> {
  return {
    ...assetView(row),
    session: row.session === null ? null : Session.parse(JSON.parse(row.session)),
    feed: FeedConfig.parse(JSON.parse(row.feed)),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An asset by symbol (case-insensitive) or by id. */
export async function findAsset(env: Env, symbolOrId: string): Promise<AssetRow | undefined> {
  const db = database(env);
  const bySymbol = eq(schema.assets.symbol, symbolOrId.toUpperCase());
  return db
    .select()
    .from(schema.assets)
    .where(UUID.test(symbolOrId) ? or(bySymbol, eq(schema.assets.id, symbolOrId.toLowerCase())) : bySymbol)
    .get();
}

export function instrumentSpecOf(row: AssetRow): InstrumentSpec {
  const crypto = row.assetClass === "crypto";
  return { symbol: row.symbol, assetClass: row.assetClass, tickSize: row.tickSize, lotSize: row.lotSize, timeZone: crypto ? "UTC" : "America/New_York" };
}
