import type { z } from "@hono/zod-openapi";
import { FeedConfig, Session, type AdminAsset, type Asset } from "../../shared/schemas/assets";
import type { AssetRow } from "../../platform/assets";

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
