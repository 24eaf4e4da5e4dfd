import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { activeSymbols, allAssets, assetBySymbol, assetInfo, findAsset, forgetAssets, insertAsset, instrumentSpecOf, updateAsset, type AssetRow } from "../../platform/assets";

let counter = 0;
const newAsset = (overrides: Partial<AssetRow> = {}): AssetRow => {
  const symbol = `REG${Date.now().toString(36).toUpperCase().slice(-5)}${counter++}`;
  return {
    id: crypto.randomUUID(),
    symbol,
    name: `Registry ${symbol}`,
    assetClass: "us_equity",
    exchange: "NASDAQ",
    tickSize: "0.01",
    lotSize: "1",
    minOrderSize: "1",
    tradable: true,
    status: "active",
    session: null,
    feed: '{"kind":"none"}',
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
};
// Behind the registry's back, as another isolate's write would be.
const renameDirectly = (id: string, name: string) => env.DB.prepare("UPDATE assets SET name = ? WHERE id = ?").bind(name, id).run();

async function insertDirectly(row: AssetRow): Promise<void> {
  await env.DB.prepare(
    "INSERT INTO assets (id, symbol, name, class, exchange, tick_size, lot_size, min_order_size, tradable, status, session, feed, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(row.id, row.symbol, row.name, row.assetClass, row.exchange, row.tickSize, row.lotSize, row.minOrderSize, 1, row.status, row.session, row.feed, 0, 0)
    .run();
}

describe("the asset registry", () => {
  it("finds an asset by symbol in any case or by id", async () => {
    const row = newAsset();
    await insertAsset(env, row);
    expect((await findAsset(env, row.symbol.toLowerCase()))?.id).toBe(row.id);
    expect((await findAsset(env, row.id.toUpperCase()))?.symbol).toBe(row.symbol);
    expect(await findAsset(env, "NOSUCHSYMBOL")).toBeUndefined();
  });

  it("serves a snapshot until a write through it; a fresh read sees other writers at once", async () => {
    const row = newAsset();
    await insertAsset(env, row);
    expect((await assetBySymbol(env, row.symbol))?.name).toBe(row.name);
    await renameDirectly(row.id, "renamed elsewhere");
    expect((await assetBySymbol(env, row.symbol))?.name).toBe(row.name);
    expect((await assetBySymbol(env, row.symbol, { fresh: true }))?.name).toBe("renamed elsewhere");
    forgetAssets();
    expect((await assetBySymbol(env, row.symbol))?.name).toBe("renamed elsewhere");
    const updated = await updateAsset(env, row.id, { name: "renamed here" });
    expect(updated?.name).toBe("renamed here");
    expect((await findAsset(env, row.id))?.name).toBe("renamed here");
    expect(await updateAsset(env, crypto.randomUUID(), { name: "nobody" })).toBeUndefined();
  });

  it("sees an asset another isolate created without waiting for the snapshot to expire", async () => {
    await allAssets(env);
    const row = newAsset();
    await insertDirectly(row);
    expect((await findAsset(env, row.symbol))?.id).toBe(row.id);
  });

  it("lists active symbols only, and everything in symbol order", async () => {
    const [active, inactive] = [newAsset(), newAsset({ status: "inactive" })];
    await insertAsset(env, active);
    await insertAsset(env, inactive);
    const symbols = await activeSymbols(env);
    expect(symbols.has(active.symbol)).toBe(true);
    expect(symbols.has(inactive.symbol)).toBe(false);
    const all = (await allAssets(env)).map((r) => r.symbol);
    expect(all).toContain(inactive.symbol);
    expect(all).toEqual([...all].sort());
  });

  it("describes an instrument with the one time-zone rule and its session", () => {
    const pair = newAsset({ symbol: "ETH/USD", assetClass: "crypto", lotSize: "0.0001" });
    expect(instrumentSpecOf(pair)).toEqual({ symbol: "ETH/USD", assetClass: "crypto", tickSize: "0.01", lotSize: "0.0001", timeZone: "UTC" });
    const session = { timeZone: "America/New_York", open: "09:30", close: "16:00", days: [1, 2, 3, 4, 5] };
    const stock = newAsset({ tradable: false, status: "inactive", session: JSON.stringify(session) });
    expect(assetInfo(stock)).toEqual({ id: stock.id, spec: instrumentSpecOf(stock), tradable: false, active: false, session });
    expect(instrumentSpecOf(stock).timeZone).toBe("America/New_York");
  });
});
