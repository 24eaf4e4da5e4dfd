// Proves that real Alpaca clients trade against RedFire: Alpaca's official JS SDK
// (@alpacahq/alpaca-trade-api 4.x, the OpenAPI-generated rewrite) and ccxt's `alpaca`
// class, unmodified, pointed at a local `wrangler dev`. Every check asserts what the
// client itself needs (the field it parses, the error class it maps to), so a check
// fails until the platform answers the way the client expects.
//
//   npm run test:clients      (prints "plan N", "ok …" / "FAIL …" per check, then "N passed, M failed")
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotFoundError, OrdersApi, PermissionError, marketData, streaming, trading } from "@alpacahq/alpaca-trade-api";
import ccxt from "ccxt";
import { planFromSource } from "../../bench/lib/plan.mjs";
import { api, expectStatus, freePort, sleep, startWranglerDev, stopWranglerDev, waitHealthy } from "../../bench/lib/platform.mjs";

const CHECK_TIMEOUT_MS = 30_000;
const PASSWORD = "clients-password-0042";
const STOCK = "AAPL";
const CRYPTO = "BTC/USD";
const CRYPTO_QTY = 0.001;
// Order statuses an accepted order may come back with (docs/alpaca-compat.md §3, §4).
const OPEN_STATUSES = ["accepted", "pending_new", "new", "partially_filled"];
// A resting buy "far below the market", as grid and dip-buying bots place them; Alpaca
// accepts such passive orders (its crypto price band cancels only orders about to execute
// outside the band). The lifecycle checks (fetch, list, replace, cancel) use prices a few
// percent below the market, so they test the lifecycle even where that is refused.
const FAR_BELOW = 0.5;
const RESTING_BELOW = 0.94;
const REPLACED_BELOW = 0.93;

// ---- checks ------------------------------------------------------------------------------

const tally = { passed: 0, failed: 0 };

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  const status = error.status !== undefined ? ` [HTTP ${error.status}${error.code !== undefined ? `, code ${error.code}` : ""}]` : "";
  return `${error.constructor.name}: ${error.message}${status}`.replace(/\s+/g, " ").slice(0, 600);
}

/** Runs one check; returns its value, or undefined when it failed (later checks test for that). */
async function check(name, fn) {
  try {
    const value = await withTimeout(Promise.resolve().then(fn), CHECK_TIMEOUT_MS, name);
    tally.passed++;
    console.log(`ok ${name}`);
    return value ?? true;
  } catch (error) {
    tally.failed++;
    console.log(`FAIL ${name}: ${describeError(error)}`);
    return undefined;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function needs(value, what) {
  if (value === undefined) throw new Error(`needs ${what}, which failed`);
  return value;
}

const show = (value) => JSON.stringify(value, (_, v) => (v instanceof Date ? v.toISOString() : v))?.slice(0, 300);
const isDecimalString = (value) => typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value);
const isValidDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());

/** Polls until `read()` returns something `done` accepts; returns the last value either way. */
async function poll(read, done, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(300);
    value = await read();
  }
  return value;
}

/** Waits for `predicate` to see one of the collected items, or rejects after `timeoutMs`. */
function waitFor(items, predicate, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const look = () => {
      const found = items.find(predicate);
      if (found) return resolve(found);
      if (Date.now() > deadline) return reject(new Error(`${what}; received: ${show(items.map((u) => `${u.event}:${u.order?.id}`))}`));
      setTimeout(look, 100);
    };
    look();
  });
}

/** Rounds down to the tick, keeping the tick's decimals (prices far below the market). */
function roundDownToTick(price, tick) {
  const decimals = Math.max(0, -Math.floor(Math.log10(tick) + 1e-9));
  return Number((Math.floor(price / tick) * tick).toFixed(decimals));
}

// ---- setup -------------------------------------------------------------------------------

/** A new trader with a trade-scoped API key, as a programmatic client would get one. */
async function signUp(origin) {
  const tag = randomBytes(4).toString("hex");
  const registered = await expectStatus(api(origin, "POST", "/api/auth/register", { email: `clients-${tag}@example.com`, username: `clients_${tag}`, password: PASSWORD }), 201, "register");
  assert(typeof registered.access_token === "string", `register answered no access_token: ${show(registered)}`);
  const bearer = { authorization: `Bearer ${registered.access_token}` };
  const key = await expectStatus(api(origin, "POST", "/api/keys", { name: "clients", scopes: ["trade"] }, bearer), 201, "create API key");
  assert(typeof key.key_id === "string" && typeof key.secret === "string", `POST /api/keys answered no key_id/secret: ${show(key)}`);
  return { ...key, bearer };
}

/** The simulators print their first trades a few seconds after startup; orders need a price. */
async function waitForFirstPrices(origin, key, timeoutMs = 45_000) {
  const headers = { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret };
  const paths = [`/v2/stocks/${STOCK}/trades/latest`, `/v1beta3/crypto/us/latest/trades?symbols=${encodeURIComponent(CRYPTO)}`];
  const deadline = Date.now() + timeoutMs;
  for (const path of paths) {
    for (;;) {
      const response = await api(origin, "GET", path, undefined, headers);
      const trade = response.json?.trade ?? response.json?.trades?.[CRYPTO];
      if (response.status === 200 && trade?.p > 0) break;
      if (Date.now() > deadline) throw new Error(`no first price from ${path} within ${timeoutMs / 1000} s: ${response.status} ${response.text.slice(0, 300)}`);
      await sleep(500);
    }
  }
}

// ---- Alpaca's JS SDK ---------------------------------------------------------------------

// The v4 facade (`new Alpaca(...)`) derives its hosts from `paper`/`sandbox` only; the
// documented override is an explicit `basePath` on the generated Configuration, which
// "always wins" (src/core/runtime.ts BaseConfiguration.basePath). Paths carry /v2, so the
// base path is the bare origin. `OrdersApi` is the facade's subclass of the generated one,
// adding the `.market()` / `.limit()` builders.
async function sdkChecks(origin, key) {
  const credentials = { keyId: key.key_id, secret: key.secret };
  const config = new trading.Configuration({ basePath: origin, ...credentials, timeoutMs: 15_000 });
  const dataConfig = new marketData.Configuration({ basePath: origin, ...credentials, timeoutMs: 15_000 });
  const accounts = new trading.AccountsApi(config);
  const clock = new trading.ClockApi(config);
  const assets = new trading.AssetsApi(config);
  const orders = new OrdersApi(config);
  const positions = new trading.PositionsApi(config);
  const activities = new trading.AccountActivitiesApi(config);
  const stocks = new marketData.StockApi(dataConfig);
  const testStart = new Date(Date.now() - 60_000);

  await check("sdk account: getAccount (GET /v2/account)", async () => {
    const account = await accounts.getAccount();
    assert(typeof account.id === "string" && account.id.length > 0, `no account id: ${show(account)}`);
    assert(account.status === "ACTIVE", `status ${show(account.status)}, want "ACTIVE"`);
    assert(account.currency === "USD", `currency ${show(account.currency)}, want "USD"`);
    for (const field of ["cash", "buyingPower", "equity", "portfolioValue"]) assert(isDecimalString(account[field]), `${field} is ${show(account[field])}, want a decimal string`);
    assert(Number(account.cash) > 0, `cash ${account.cash}, want > 0`);
  });

  await check("sdk clock: legacyClock (GET /v2/clock)", async () => {
    const c = await clock.legacyClock();
    assert(isValidDate(c.timestamp) && Math.abs(c.timestamp.getTime() - Date.now()) < 60_000, `timestamp ${show(c.timestamp)} is not now`);
    assert(typeof c.isOpen === "boolean", `is_open ${show(c.isOpen)}, want a boolean`);
    assert(isValidDate(c.nextOpen) && isValidDate(c.nextClose), `next_open/next_close ${show([c.nextOpen, c.nextClose])} are not dates`);
  });

  await check(`sdk assets: getV2Assets lists ${STOCK}, getV2AssetsSymbolOrAssetId(${STOCK})`, async () => {
    const list = await assets.getV2Assets({ status: "active" });
    const listed = list.find((a) => a.symbol === STOCK);
    assert(listed, `${STOCK} missing from ${list.length} assets: ${show(list.map((a) => a.symbol))}`);
    assert(listed._class === "us_equity" && listed.tradable === true, `${STOCK} is ${show({ class: listed._class, tradable: listed.tradable })}`);
    const one = await assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: STOCK });
    assert(one.id === listed.id && one.symbol === STOCK, `by symbol: ${show(one)}`);
  });

  await check("sdk account configurations: getAccountConfig, patchAccountConfig (suspendTrade on, sent back whole, then off)", async () => {
    const configurations = new trading.AccountConfigurationsApi(config);
    const read = await configurations.getAccountConfig();
    assert(read.suspendTrade === false && read.noShorting === true && read.maxMarginMultiplier === "1", `read ${show(read)}`);
    // The SDK sends the whole object back, fixed fields included.
    const suspended = await configurations.patchAccountConfig({ accountConfigurations: { ...read, suspendTrade: true } });
    assert(suspended.suspendTrade === true, `after suspending: ${show(suspended)}`);
    const account = await accounts.getAccount();
    assert(account.tradeSuspendedByUser === true, `account.trade_suspended_by_user is ${show(account.tradeSuspendedByUser)}`);
    const resumed = await configurations.patchAccountConfig({ accountConfigurations: { suspendTrade: false } });
    assert(resumed.suspendTrade === false, `after resuming: ${show(resumed)}`);
  });

  await check("sdk watchlists: postWatchlist, addAssetToWatchlist, getWatchlistByName, updateWatchlistById, removeAssetFromWatchlist, deleteWatchlistById", async () => {
    const watchlists = new trading.WatchlistsApi(config);
    const name = `clients ${Date.now()}`;
    const created = await watchlists.postWatchlist({ createWatchlistRequest: { name, symbols: [STOCK] } });
    assert(typeof created.id === "string" && created.name === name && isValidDate(created.createdAt), `created ${show(created)}`);
    const added = await watchlists.addAssetToWatchlist({ watchlistId: created.id, addAssetToWatchlistRequest: { symbol: CRYPTO } });
    assert(show(added.assets.map((a) => a.symbol)) === show([STOCK, CRYPTO]), `after the add: ${show(added.assets?.map((a) => a.symbol))}`);
    const byName = await watchlists.getWatchlistByName({ name });
    assert(byName.id === created.id && byName.assets.length === 2, `by name: ${show(byName)}`);
    const listed = await watchlists.getWatchlists();
    assert(listed.some((w) => w.id === created.id && w.name === name), `getWatchlists: ${show(listed)}`);
    const renamed = await watchlists.updateWatchlistById({ watchlistId: created.id, updateWatchlistRequest: { name: `${name} renamed` } });
    assert(renamed.name === `${name} renamed`, `renamed: ${show(renamed.name)}`);
    const removed = await watchlists.removeAssetFromWatchlist({ watchlistId: created.id, symbol: CRYPTO });
    assert(show(removed.assets.map((a) => a.symbol)) === show([STOCK]), `after the removal: ${show(removed.assets?.map((a) => a.symbol))}`);
    await watchlists.deleteWatchlistById({ watchlistId: created.id });
    const after = await watchlists.getWatchlists();
    assert(!after.some((w) => w.id === created.id), `still listed after the delete: ${show(after)}`);
  });

  const lastPrice = await check(`sdk market data: stockLatestTradeSingle(${STOCK})`, async () => {
    const latest = await stocks.stockLatestTradeSingle({ symbol: STOCK });
    assert(latest.symbol === STOCK, `symbol ${show(latest.symbol)}`);
    assert(typeof latest.trade?.p === "number" && latest.trade.p > 0 && isValidDate(latest.trade.t), `trade ${show(latest.trade)}`);
    return latest.trade.p;
  });

  await check(`sdk bars: stockBars(${STOCK}, 1Min)`, async () => {
    const response = await stocks.stockBars({ symbols: STOCK, timeframe: "1Min", start: new Date(Date.now() - 3_600_000), limit: 100 });
    const bars = response.bars?.[STOCK];
    assert(Array.isArray(bars) && bars.length > 0, `no ${STOCK} bars: ${show(response)}`);
    for (const bar of bars) {
      for (const field of ["o", "h", "l", "c", "v"]) assert(typeof bar[field] === "number", `bar.${field} is ${show(bar[field])}: ${show(bar)}`);
      assert(bar.l <= Math.min(bar.o, bar.c) && bar.h >= Math.max(bar.o, bar.c), `inconsistent bar ${show(bar)}`);
      // Bars arrive as raw JSON (StockBarsResp keeps `bars` untyped): `t` is an RFC-3339 string.
      assert(!Number.isNaN(Date.parse(bar.t)), `bar.t ${show(bar.t)}`);
    }
  });

  // The trading stream is opened before the market order so that its fill is seen live.
  const updates = [];
  const stream = new streaming.TradingStream({ url: `${origin.replace(/^http/, "ws")}/stream`, credentials, reconnect: false });
  const listening = new Promise((resolve) => stream.on(streaming.EVENT.SUBSCRIPTION, resolve));
  const streamErrors = [];
  stream.onError((e) => streamErrors.push(e));
  stream.onTradeUpdate((u) => updates.push(u));
  const streamReady = await check("sdk TradingStream: authenticate and listen to trade_updates (/stream)", async () => {
    stream.subscribeTradeUpdates();
    stream.connect();
    const auth = await stream.waitForAuthenticationResult(10_000);
    assert(auth.authenticated, `authentication: ${show(auth)}; errors ${show(streamErrors)}`);
    const streams = await withTimeout(listening, 10_000, "listening reply");
    assert(Array.isArray(streams) && streams.includes("trade_updates"), `listening reply streams ${show(streams)}`);
  });

  try {
    const market = await check(`sdk market buy: orders.market(${STOCK}, qty 1)`, async () => {
      const order = await orders.market({ symbol: STOCK, qty: 1, side: "buy", clientOrderId: `sdk-${randomUUID()}` });
      assert(typeof order.id === "string" && order.symbol === STOCK && order.side === "buy" && order.type === "market", `order ${show(order)}`);
      assert([...OPEN_STATUSES, "filled"].includes(order.status), `status ${show(order.status)}`);
      assert(order.qty === "1", `qty ${show(order.qty)}, want "1"`);
      return order;
    });

    await check("sdk TradingStream: fill event for the market order", async () => {
      needs(streamReady, "the trading stream");
      const { id } = needs(market, "the market order");
      const fill = await waitFor(updates, (u) => u.event === "fill" && u.order?.id === id, 20_000, `no fill event for ${id}`);
      assert(fill.order.status === "filled" && fill.order.symbol === STOCK, `order in the fill ${show(fill.order)}`);
      assert(isDecimalString(fill.price) && isDecimalString(fill.qty) && isDecimalString(fill.positionQty), `price/qty/position_qty ${show([fill.price, fill.qty, fill.positionQty])}, want decimal strings`);
      assert(Number(fill.qty) === 1, `fill qty ${fill.qty}`);
      assert(isValidDate(fill.timestamp), `timestamp ${show(fill.timestamp)}`);
    });

    const filled = await check("sdk getOrderByOrderID: the market order is filled", async () => {
      const { id } = needs(market, "the market order");
      const order = await poll(() => orders.getOrderByOrderID({ orderId: id }), (o) => o.status === "filled");
      assert(order.status === "filled", `status ${show(order.status)} after 15 s`);
      assert(order.filledQty === "1" && isDecimalString(order.filledAvgPrice) && isValidDate(order.filledAt), `fill fields ${show({ filledQty: order.filledQty, filledAvgPrice: order.filledAvgPrice, filledAt: order.filledAt })}`);
      return order;
    });

    await check("sdk portfolio history: getAccountPortfolioHistory (1Min continuous, then 1D): its last equity is the account's", async () => {
      needs(filled, "the filled market order");
      const history = new trading.PortfolioHistoryApi(config);
      const minutes = await history.getAccountPortfolioHistory({ period: "1D", timeframe: "1Min", intradayReporting: "continuous" });
      const n = minutes.timestamp.length;
      assert(minutes.timeframe === "1Min" && n > 0, `timeframe ${show(minutes.timeframe)}, ${n} points`);
      assert([minutes.equity, minutes.profitLoss, minutes.profitLossPct].every((column) => column.length === n && column.every(Number.isFinite)), `columns ${show(minutes)}`);
      assert(minutes.timestamp.every((t) => Number.isInteger(t) && t % 60 === 0), `timestamps ${show(minutes.timestamp)}, want whole minutes in seconds`);
      assert(typeof minutes.baseValue === "number" && minutes.baseValue > 0, `base_value ${show(minutes.baseValue)}`);
      // The demo feed moves the price between the two reads: the same within a cent per share held, and then some.
      const equity = Number((await accounts.getAccount()).equity);
      assert(Math.abs(minutes.equity.at(-1) - equity) < equity * 0.01, `last equity ${minutes.equity.at(-1)}, the account's ${equity}`);
      const days = await history.getAccountPortfolioHistory({ period: "1W", timeframe: "1D", intradayReporting: "continuous" });
      assert(days.timeframe === "1D" && days.timestamp.length >= 1 && Math.abs(days.equity.at(-1) - equity) < equity * 0.01, `1D: ${show(days)}`);
    });

    await check(`sdk trailing stop: orders.trailingStop(${STOCK}, sell 1, trailPercent 5) shows its mark and stop, then is canceled`, async () => {
      needs(filled, "the filled market order (the share it sells)");
      const order = await orders.trailingStop({ symbol: STOCK, qty: 1, side: "sell", trailPercent: 5, timeInForce: "gtc" });
      await orders.deleteOrderByOrderID({ orderId: order.id });
      assert(order.type === "trailing_stop" && OPEN_STATUSES.includes(order.status), `order ${show({ type: order.type, status: order.status })}`);
      assert(order.trailPercent === "5" && order.trailPrice === undefined, `trail ${show({ trailPercent: order.trailPercent, trailPrice: order.trailPrice })}`);
      // Its stop trails the mark by 5 %, rounded down to the cent.
      const [hwmCents, stopCents] = [Math.round(Number(order.hwm) * 100), Math.round(Number(order.stopPrice) * 100)];
      assert(isDecimalString(order.hwm) && hwmCents > 0 && stopCents === Math.floor((hwmCents * 95) / 100), `hwm ${show(order.hwm)}, stop_price ${show(order.stopPrice)}`);
    });

    const reference = lastPrice ?? (filled ? Number(filled.filledAvgPrice) : undefined);
    await check(`sdk limit buy far below the market (50 %): orders.limit(${STOCK}, gtc) rests`, async () => {
      const price = roundDownToTick(needs(reference, "a market price") * FAR_BELOW, 0.01);
      const order = await orders.limit({ symbol: STOCK, qty: 1, side: "buy", limitPrice: price, timeInForce: "gtc" });
      await orders.deleteOrderByOrderID({ orderId: order.id });
      assert(OPEN_STATUSES.includes(order.status) && Number(order.limitPrice) === price, `order ${show({ status: order.status, limitPrice: order.limitPrice })}`);
    });

    const restingPrice = reference === undefined ? undefined : roundDownToTick(reference * RESTING_BELOW, 0.01);
    const limit = await check(`sdk limit buy below the market: orders.limit(${STOCK}, gtc)`, async () => {
      const price = needs(restingPrice, "a market price");
      const order = await orders.limit({ symbol: STOCK, qty: 1, side: "buy", limitPrice: price, timeInForce: "gtc" });
      assert(OPEN_STATUSES.includes(order.status), `status ${show(order.status)}, want a resting order`);
      assert(order.type === "limit" && Number(order.limitPrice) === price && order.timeInForce === "gtc", `order ${show(order)}`);
      return order;
    });

    await check("sdk getOrderByOrderID: the resting limit order", async () => {
      const { id } = needs(limit, "the limit order");
      const order = await orders.getOrderByOrderID({ orderId: id });
      assert(order.id === id && order.type === "limit" && order.side === "buy" && order.symbol === STOCK, `order ${show(order)}`);
      assert(OPEN_STATUSES.includes(order.status) && Number(order.limitPrice) === restingPrice, `status/limit ${show([order.status, order.limitPrice])}`);
    });

    await check("sdk getAllOrders(status open) lists the limit order", async () => {
      const { id } = needs(limit, "the limit order");
      const open = await orders.getAllOrders({ status: "open", symbols: [STOCK] });
      assert(open.some((o) => o.id === id), `open orders ${show(open.map((o) => o.id))} lack ${id}`);
      assert(open.every((o) => OPEN_STATUSES.includes(o.status)), `statuses ${show(open.map((o) => o.status))}`);
    });

    const replaced = await check("sdk patchOrderByOrderId: replace the limit order (new price, qty 2)", async () => {
      const old = needs(limit, "the limit order");
      const newPrice = roundDownToTick(reference * REPLACED_BELOW, 0.01);
      const order = await orders.patchOrderByOrderId({ orderId: old.id, patchOrderRequest: { qty: "2", limitPrice: String(newPrice) } });
      assert(order.id !== old.id && order.replaces === old.id, `replacement ${show({ id: order.id, replaces: order.replaces })}, want a new id that replaces ${old.id}`);
      assert(Number(order.limitPrice) === newPrice && order.qty === "2", `replacement limit/qty ${show([order.limitPrice, order.qty])}`);
      const before = await poll(() => orders.getOrderByOrderID({ orderId: old.id }), (o) => o.status === "replaced");
      assert(before.status === "replaced" && before.replacedBy === order.id, `old order ${show({ status: before.status, replacedBy: before.replacedBy })}`);
      return order;
    });

    await check("sdk deleteOrderByOrderID: cancel the replacement", async () => {
      const { id } = needs(replaced, "the replaced order");
      await orders.deleteOrderByOrderID({ orderId: id });
      const order = await poll(() => orders.getOrderByOrderID({ orderId: id }), (o) => o.status === "canceled");
      assert(order.status === "canceled" && isValidDate(order.canceledAt), `after cancel ${show({ status: order.status, canceledAt: order.canceledAt })}`);
    });

    await check("sdk deleteAllOrders: cancels every open order", async () => {
      const price = needs(restingPrice, "a market price");
      const placed = [];
      for (let i = 0; i < 2; i++) placed.push(await orders.limit({ symbol: STOCK, qty: 1, side: "buy", limitPrice: price, timeInForce: "gtc" }));
      const canceled = await orders.deleteAllOrders();
      assert(Array.isArray(canceled), `answer ${show(canceled)}`);
      for (const order of placed) {
        const entry = canceled.find((c) => c.id === order.id);
        assert(entry && entry.status === 200, `entry for ${order.id}: ${show(entry)} in ${show(canceled)}`);
      }
      const open = await poll(() => orders.getAllOrders({ status: "open" }), (list) => list.length === 0);
      assert(open.length === 0, `still open: ${show(open.map((o) => [o.id, o.status]))}`);
    });

    await check(`sdk positions: getAllOpenPositions / getOpenPosition(${STOCK})`, async () => {
      needs(filled, "the filled market order");
      const all = await positions.getAllOpenPositions();
      const listed = all.find((p) => p.symbol === STOCK);
      assert(listed, `no ${STOCK} position in ${show(all)}`);
      const one = await positions.getOpenPosition({ symbolOrAssetId: STOCK });
      assert(Number(one.qty) >= 1 && one.side === "long" && one.assetClass === "us_equity", `position ${show(one)}`);
      for (const field of ["avgEntryPrice", "marketValue", "costBasis", "currentPrice", "unrealizedPl"]) assert(isDecimalString(one[field]), `${field} is ${show(one[field])}, want a decimal string`);
    });

    await check("sdk activities: getAccountActivities(activityTypes FILL) has the market fill", async () => {
      const { id } = needs(filled, "the filled market order");
      const list = await activities.getAccountActivities({ activityTypes: ["FILL"], after: testStart });
      const fill = list.find((a) => a.orderId === id);
      assert(fill, `no activity for order ${id} in ${show(list)}`);
      assert(fill.activityType === "FILL" && fill.side === "buy" && fill.symbol === STOCK && isDecimalString(fill.price) && fill.qty === "1", `activity ${show(fill)}`);
      assert(isValidDate(fill.transactionTime), `transaction_time ${show(fill.transactionTime)}`);
    });

    await check("sdk activities: getAccountActivitiesByActivityType(FILL)", async () => {
      needs(filled, "the filled market order");
      // The SDK parses this route as a NonTradeActivity (instanceOfNonTradeActivities is
      // always true), keeping only id, activity_type, symbol, qty, …: assert those.
      const list = await activities.getAccountActivitiesByActivityType({ activityType: "FILL", after: testStart });
      const fill = list.find((a) => a.symbol === STOCK && a.qty === "1");
      assert(fill && fill.activityType === "FILL" && typeof fill.id === "string", `no FILL ${STOCK} qty 1 in ${show(list)}`);
    });

    await check("sdk error: getOrderByOrderID(unknown id) throws NotFoundError 40410000", async () => {
      const error = await orders.getOrderByOrderID({ orderId: randomUUID() }).then(() => undefined, (e) => e);
      assert(error instanceof NotFoundError && error.status === 404 && Number(error.code) === 40410000, `got ${describeError(error)}`);
    });

    await check("sdk error: a buy beyond buying power throws PermissionError 40310000", async () => {
      const price = needs(reference, "a market price");
      const qty = Math.ceil(300_000 / price); // three times the starting cash, under the notional limit
      const error = await orders.market({ symbol: STOCK, qty, side: "buy" }).then((o) => new Error(`accepted: ${show(o)}`), (e) => e);
      assert(error instanceof PermissionError && error.status === 403 && Number(error.code) === 40310000, `got ${describeError(error)}`);
    });
  } finally {
    stream.disconnect();
  }
}

// ---- ccxt --------------------------------------------------------------------------------

// ccxt deep-merges `urls` from the constructor; setSandboxMode(true) (a paper account)
// swaps urls.api for urls.test, so both point at the origin.
async function ccxtChecks(origin, key) {
  const urls = { trader: origin, market: origin };
  const exchange = new ccxt.alpaca({ apiKey: key.key_id, secret: key.secret, urls: { api: urls, test: urls }, timeout: 15_000 });
  exchange.setSandboxMode(true);
  const testStart = Date.now() - 60_000;

  await check("ccxt fetchTime (GET /v2/clock)", async () => {
    const time = await exchange.fetchTime();
    assert(Number.isFinite(time) && Math.abs(time - Date.now()) < 60_000, `fetchTime ${time} (${Number.isFinite(time) ? new Date(time).toISOString() : "NaN"}) is not now (${new Date().toISOString()})`);
  });

  const markets = await check("ccxt fetchMarkets (GET /v2/assets?asset_class=crypto)", async () => {
    const list = await exchange.fetchMarkets();
    const symbols = list.map((m) => m.symbol);
    assert(symbols.includes("BTC/USD") && symbols.includes("ETH/USD"), `markets ${show(symbols)}`);
    assert(list.every((m) => m.info.class === "crypto"), `non-crypto markets: ${show(list.filter((m) => m.info.class !== "crypto").map((m) => m.symbol))}`);
    const btc = list.find((m) => m.symbol === CRYPTO);
    assert(btc.spot && btc.active && btc.base === "BTC" && btc.quote === "USD", `BTC/USD market ${show(btc)}`);
    assert(btc.precision.amount > 0 && btc.precision.price > 0, `precision ${show(btc.precision)} (min_trade_increment / price_increment)`);
    assert(btc.limits.amount.min > 0, `limits.amount.min ${show(btc.limits.amount)} (min_order_size)`);
    await exchange.loadMarkets();
    return btc;
  });

  await check("ccxt fetchBalance: USD cash", async () => {
    const balance = await exchange.fetchBalance();
    assert(balance.USD?.free > 0 && balance.USD?.total > 0, `USD balance ${show(balance.USD)}`);
  });

  const ticker = await check(`ccxt fetchTicker(${CRYPTO})`, async () => {
    const t = await exchange.fetchTicker(CRYPTO);
    assert(t && t.symbol === CRYPTO, `ticker ${show(t)}`);
    assert(t.bid > 0 && t.ask > 0 && t.bid < t.ask, `bid/ask ${show([t.bid, t.ask])}`);
    assert(t.last > 0 && Number.isFinite(t.timestamp), `last/timestamp ${show([t.last, t.timestamp])}`);
    return t;
  });

  await check(`ccxt fetchOrderBook(${CRYPTO})`, async () => {
    const book = await exchange.fetchOrderBook(CRYPTO);
    assert(book.bids.length > 0 && book.asks.length > 0, `book ${show(book)}`);
    assert(book.bids[0][0] < book.asks[0][0] && book.bids[0][1] > 0 && book.asks[0][1] > 0, `top of book ${show([book.bids[0], book.asks[0]])}`);
    assert(Number.isFinite(book.timestamp), `timestamp ${show(book.timestamp)}`);
  });

  // ccxt pro replaces its book on a message with r:true and merges any other level by level,
  // so a stream that sent increments without removals would cross its book within seconds.
  await check(`ccxt pro watchOrderBook(${CRYPTO}): never crossed, ends as REST's latest book`, async () => {
    const ws = { crypto: `${origin.replace(/^http/, "ws")}/v1beta3/crypto/us`, trading: `${origin.replace(/^http/, "ws")}/stream` };
    const pro = new ccxt.pro.alpaca({ apiKey: key.key_id, secret: key.secret, urls: { api: { ...urls, ws }, test: { ...urls, ws } } });
    // ccxt refuses plain ws:// until its proxy agent is loaded.
    await pro.loadHttpProxyAgent();
    try {
      let book;
      for (let update = 0; update < 6; update++) {
        book = await pro.watchOrderBook(CRYPTO);
        assert(book.bids.length === 1 && book.asks.length === 1 && book.bids[0][0] < book.asks[0][0], `update ${update}: book ${show({ bids: book.bids, asks: book.asks })}`);
        assert(Number.isFinite(book.timestamp), `update ${update}: datetime ${show(book.datetime)} is not RFC-3339`);
      }
      for (let tries = 0; ; tries++) {
        const rest = (await api(origin, "GET", `/v1beta3/crypto/us/latest/orderbooks?symbols=${encodeURIComponent(CRYPTO)}`)).json.orderbooks[CRYPTO];
        const seen = { t: book.datetime, b: book.bids.map(([p, s]) => ({ p, s })), a: book.asks.map(([p, s]) => ({ p, s })) };
        if (JSON.stringify(seen) === JSON.stringify(rest)) break;
        assert(tries < 3 && book.datetime <= rest.t, `stream book ${show(seen)} is not REST's ${show(rest)}`);
        book = await pro.watchOrderBook(CRYPTO);
      }
    } finally {
      await pro.close();
    }
  });

  await check(`ccxt fetchOHLCV(${CRYPTO}, 1m)`, async () => {
    const candles = await exchange.fetchOHLCV(CRYPTO, "1m", Date.now() - 3_600_000, 100);
    assert(candles.length > 0, "no candles");
    for (const [t, o, h, l, c, v] of candles) {
      assert([t, o, h, l, c, v].every(Number.isFinite), `candle ${show([t, o, h, l, c, v])}`);
      assert(t % 60_000 === 0 && l <= Math.min(o, c) && h >= Math.max(o, c), `candle ${show([t, o, h, l, c, v])}`);
    }
  });

  await check(`ccxt fetchTrades(${CRYPTO})`, async () => {
    const trades = await exchange.fetchTrades(CRYPTO, Date.now() - 600_000, 50);
    assert(trades.length > 0, "no trades");
    assert(trades.every((t) => t.price > 0 && t.amount > 0 && ["buy", "sell"].includes(t.side) && Number.isFinite(t.timestamp)), `trades ${show(trades.slice(0, 3))}`);
  });

  const market = await check(`ccxt createOrder: market buy ${CRYPTO_QTY} ${CRYPTO}`, async () => {
    const order = await exchange.createOrder(CRYPTO, "market", "buy", CRYPTO_QTY);
    assert(typeof order.id === "string" && order.clientOrderId?.startsWith("ccxt_"), `order ${show(order)}`);
    assert(order.symbol === CRYPTO && order.side === "buy" && order.type === "market" && order.amount === CRYPTO_QTY, `order ${show({ symbol: order.symbol, side: order.side, type: order.type, amount: order.amount })}`);
    assert(["open", "closed"].includes(order.status), `status ${show(order.status)}`);
    return order;
  });

  const filled = await check("ccxt fetchOrder: the market order is closed (filled)", async () => {
    const { id } = needs(market, "the market order");
    const order = await poll(() => exchange.fetchOrder(id), (o) => o.status === "closed");
    assert(order.status === "closed" && order.filled === CRYPTO_QTY && order.average > 0, `order ${show({ status: order.status, filled: order.filled, average: order.average })}`);
    return order;
  });

  const tick = markets?.precision.price ?? 0.01;
  // The market order's fill price stands in when the ticker failed, so the order checks
  // below still test orders.
  const reference = ticker?.bid ?? filled?.average;
  await check(`ccxt createOrder: limit buy far below the market (50 %) ${CRYPTO} rests`, async () => {
    const price = roundDownToTick(needs(reference, "a market price") * FAR_BELOW, tick);
    const order = await exchange.createOrder(CRYPTO, "limit", "buy", CRYPTO_QTY, price);
    await exchange.cancelOrder(order.id, CRYPTO);
    assert(order.status === "open" && order.price === price, `order ${show({ status: order.status, price: order.price })}`);
  });

  const restingPrice = reference === undefined ? undefined : roundDownToTick(reference * RESTING_BELOW, tick);
  const limit = await check(`ccxt createOrder: limit buy below the market ${CRYPTO}`, async () => {
    const price = needs(restingPrice, "a market price");
    const order = await exchange.createOrder(CRYPTO, "limit", "buy", CRYPTO_QTY, price);
    assert(order.status === "open" && order.type === "limit" && order.price === price && order.amount === CRYPTO_QTY, `order ${show({ status: order.status, type: order.type, price: order.price, amount: order.amount })}`);
    return order;
  });

  await check("ccxt fetchOrder: the resting limit order", async () => {
    const { id } = needs(limit, "the limit order");
    const order = await exchange.fetchOrder(id);
    assert(order.id === id && order.status === "open" && order.type === "limit" && order.side === "buy", `order ${show({ id: order.id, status: order.status, type: order.type, side: order.side })}`);
    assert(order.price === restingPrice && order.amount === CRYPTO_QTY && order.filled === 0 && order.timeInForce === "GTC", `order ${show({ price: order.price, amount: order.amount, filled: order.filled, timeInForce: order.timeInForce })}`);
  });

  await check(`ccxt fetchOpenOrders(${CRYPTO}) lists the limit order`, async () => {
    const { id } = needs(limit, "the limit order");
    const open = await exchange.fetchOpenOrders(CRYPTO);
    assert(open.some((o) => o.id === id), `open ${show(open.map((o) => o.id))} lack ${id}`);
    assert(open.every((o) => o.status === "open"), `statuses ${show(open.map((o) => o.status))}`);
  });

  await check("ccxt fetchOrders(since): both orders, oldest first", async () => {
    const m = needs(market, "the market order");
    const l = needs(limit, "the limit order");
    const list = await exchange.fetchOrders(CRYPTO, testStart);
    const ids = list.map((o) => o.id);
    assert(ids.includes(m.id) && ids.includes(l.id), `orders ${show(ids)} lack ${m.id} or ${l.id}`);
    assert(ids.indexOf(m.id) < ids.indexOf(l.id), `order of ${show(ids)}: the market order came first`);
  });

  const edited = await check("ccxt editOrder: the limit order (new price, amount 0.002)", async () => {
    const old = needs(limit, "the limit order");
    const newPrice = roundDownToTick(reference * REPLACED_BELOW, tick);
    const order = await exchange.editOrder(old.id, CRYPTO, "limit", "buy", 2 * CRYPTO_QTY, newPrice);
    assert(typeof order.id === "string" && order.id !== old.id, `edited order id ${show(order.id)}`);
    assert(order.status === "open" && order.price === newPrice && order.amount === 2 * CRYPTO_QTY, `edited ${show({ status: order.status, price: order.price, amount: order.amount })}`);
    const before = await poll(() => exchange.fetchOrder(old.id), (o) => o.status === "canceled");
    assert(before.status === "canceled" && before.info.status === "replaced", `old order ${show({ status: before.status, venue: before.info.status })}`);
    return order;
  });

  await check("ccxt cancelOrder: the edited order", async () => {
    const { id } = needs(edited, "the edited order");
    await exchange.cancelOrder(id, CRYPTO);
    const order = await poll(() => exchange.fetchOrder(id), (o) => o.status === "canceled");
    assert(order.status === "canceled", `status ${show(order.status)}`);
  });

  await check("ccxt cancelAllOrders", async () => {
    const price = needs(restingPrice, "a market price");
    const order = await exchange.createOrder(CRYPTO, "limit", "buy", CRYPTO_QTY, price);
    const canceled = await exchange.cancelAllOrders();
    assert(canceled.some((o) => o.id === order.id), `canceled ${show(canceled.map((o) => o.id))} lack ${order.id}`);
    const open = await poll(() => exchange.fetchOpenOrders(), (list) => list.length === 0);
    assert(open.length === 0, `still open: ${show(open.map((o) => [o.id, o.status]))}`);
  });

  await check("ccxt fetchBalance: the BTC position (GET /v2/positions)", async () => {
    needs(filled, "the filled market order");
    const balance = await exchange.fetchBalance();
    assert(balance.BTC?.total >= CRYPTO_QTY && balance.BTC?.free >= CRYPTO_QTY, `BTC balance ${show(balance.BTC)}; positions ${show(balance.info.positions)}`);
  });

  await check(`ccxt fetchMyTrades(${CRYPTO}) has the market fills`, async () => {
    const { id } = needs(filled, "the filled market order");
    const all = await exchange.fetchMyTrades(CRYPTO, testStart);
    // A market order takes as many quote levels as it needs: one trade per execution.
    const trades = all.filter((t) => t.order === id);
    assert(trades.length > 0, `no trade for order ${id} in ${show(all.map((t) => ({ order: t.order, symbol: t.symbol })))}`);
    for (const trade of trades)
      assert(trade.symbol === CRYPTO && trade.side === "buy" && trade.amount > 0 && trade.price > 0 && Number.isFinite(trade.timestamp), `trade ${show({ symbol: trade.symbol, side: trade.side, amount: trade.amount, price: trade.price, timestamp: trade.timestamp })}`);
    const amount = Number(exchange.amountToPrecision(CRYPTO, trades.reduce((sum, t) => sum + t.amount, 0)));
    assert(amount === CRYPTO_QTY, `trades for ${id} add up to ${amount}, want ${CRYPTO_QTY}: ${show(trades.map((t) => t.amount))}`);
  });

  await check(`ccxt fetchClosedOrders(${CRYPTO}) lists the market order`, async () => {
    const { id } = needs(filled, "the filled market order");
    const closed = await exchange.fetchClosedOrders(CRYPTO, testStart);
    const order = closed.find((o) => o.id === id);
    assert(order && order.status === "closed", `closed ${show(closed.map((o) => [o.id, o.status]))} lack ${id}`);
  });

  await check("ccxt error: a buy beyond buying power raises InsufficientFunds", async () => {
    const price = needs(reference, "a market price");
    const amount = Number(exchange.amountToPrecision(CRYPTO, 300_000 / price)); // three times the starting cash
    const error = await exchange.createOrder(CRYPTO, "market", "buy", amount).then((o) => new Error(`accepted: ${show(o.info)}`), (e) => e);
    assert(error instanceof ccxt.InsufficientFunds, `got ${describeError(error)}`);
  });

  await check("ccxt error: fetchOrder(unknown id) raises InvalidOrder (40410000)", async () => {
    const error = await exchange.fetchOrder(randomUUID()).then((o) => new Error(`found: ${show(o.info)}`), (e) => e);
    assert(error instanceof ccxt.InvalidOrder, `got ${describeError(error)}`);
  });

  // A permission refusal in Alpaca's words: any other 403 text ccxt reads as ExchangeNotAvailable,
  // a network error a bot retries forever (found in review).
  await check("ccxt error: an order with a read-only key raises PermissionDenied", async () => {
    const readKey = await expectStatus(api(origin, "POST", "/api/keys", { name: "clients read", scopes: ["read"] }, key.bearer), 201, "create read key");
    const reader = new ccxt.alpaca({ apiKey: readKey.key_id, secret: readKey.secret, urls: { api: urls, test: urls }, timeout: 15_000 });
    reader.setSandboxMode(true);
    const error = await reader.createOrder(CRYPTO, "market", "buy", CRYPTO_QTY).then((o) => new Error(`accepted: ${show(o.info)}`), (e) => e);
    assert(error instanceof ccxt.PermissionDenied, `got ${describeError(error)}`);
  });
}

// ---- the local runtime's connections ----------------------------------------------------

/**
 * An upload the platform refuses before reading it all (the CSV reader stops at 100 bad
 * lines) must leave the connection usable: answered with its body half read, it broke
 * wrangler dev's connection to the runtime and the next request got a 503.
 */
async function uploadChecks(origin, bearer) {
  await check("a CSV upload refused at its error cap leaves the next upload unharmed", async () => {
    const path = "/api/backtests/csv?symbol=UPLOADCHECK&timeframe=1Hour&template=ma-cross&tick_size=0.01&lot_size=1";
    const headers = { ...bearer, "content-type": "text/csv" };
    const rows = (count, offsetMs) =>
      ["timestamp,open,high,low,close,volume", ...Array.from({ length: count }, (_, i) => `${Date.UTC(2025, 0, 1) + i * 3_600_000 + offsetMs},100.00,100.50,99.50,100.25,10`)].join("\n");
    for (let round = 0; round < 2; round++) {
      // Stamped on the half hour: every line is misaligned, and the reader stops at its cap.
      const refused = await api(origin, "POST", path, rows(3_000, 1_800_000), headers);
      assert(refused.status === 422 && /^CSV rejected/.test(refused.json?.message), `misaligned upload: ${refused.status} ${refused.text.slice(0, 300)}`);
      const accepted = await api(origin, "POST", path, rows(50, 0), headers);
      assert(accepted.status === 201, `the upload after it: ${accepted.status} ${accepted.text.slice(0, 300)}`);
    }
  });
}

// ---- main --------------------------------------------------------------------------------

async function main() {
  // Every check below runs once, whether or not an earlier one failed (later ones fail with
  // "needs …"), so the plan is the number of check() calls in this file.
  const planned = planFromSource(import.meta.url, "check");
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const stateDir = mkdtempSync(join(tmpdir(), "redfire-clients-"));
  const platform = startWranglerDev(port, stateDir);
  try {
    await waitHealthy(origin, platform);
    const key = await signUp(origin);
    await waitForFirstPrices(origin, key);
    await sdkChecks(origin, key);
    await ccxtChecks(origin, key);
    await uploadChecks(origin, key.bearer);
  } catch (error) {
    tally.failed++;
    console.log(`FAIL setup: ${describeError(error)}`);
  } finally {
    await stopWranglerDev(platform);
    rmSync(stateDir, { recursive: true, force: true });
  }
  const unreported = planned - tally.passed - tally.failed;
  if (unreported > 0) tally.failed += unreported;
  console.log(`${tally.passed} passed, ${tally.failed} failed${unreported > 0 ? ` (${unreported} planned checks never ran)` : ""}`);
  process.exit(tally.failed === 0 ? 0 : 1);
}

await main();
