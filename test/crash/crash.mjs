// Process-level crash test: `npm run test:crash` (env CRASH_SEED, CRASH_USERS,
// CRASH_KILL_AFTER_MS, CRASH_REDELIVERY_SECONDS, CRASH_KEEP_STATE=1).
//
// Starts the platform (wrangler dev, persisted state in a fresh temp dir), places orders
// from several accounts concurrently, SIGKILLs the whole process tree in the middle of
// the load, restarts it on the same state and proves that what the server acknowledged
// survived exactly once: every acknowledged order is there (by id and by client_order_id),
// no fill was applied twice, nothing is stuck in pending_new, a repeated client_order_id
// returns the original order, every account's fills are the venue's fills (by execution
// id, price, qty and fee, read from the venue's own log through the admin API) and every
// account reconciles to the cent (to the 10^-18, in fact) from its activities. Prints
// "plan N" first (N = the checks in CHECKS, each reported whether or not it had anything
// to check) and one "ok"/"FAILED" line per check. Exits 0 when every check passes, 1
// otherwise; the state dir is kept on failure for a post-mortem.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, expectStatus, freePort, makeAdminViaScript, percentile, ROOT, sleep, startWranglerDev, stopWranglerDev, waitHealthy } from "../../bench/lib/platform.mjs";

const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
const USERS = Number(process.env.CRASH_USERS ?? 5);
const WORKERS_PER_USER = 3;
// Each account may place 200 orders a minute (RISK_LIMITS.ordersPerMinute): pace every
// account under that so the kill lands while orders are still being accepted, not 429s.
const ORDERS_PER_SECOND_PER_USER = 25;
const KILL_AFTER_MS = Number(process.env.CRASH_KILL_AFTER_MS ?? 6000);
const REDELIVERY_SECONDS = Number(process.env.CRASH_REDELIVERY_SECONDS ?? 10);
const PASSWORD = "crash-password-0042";
// Small sizes so a few hundred orders never run out of cash or hit a risk limit.
const SYMBOLS = { AAPL: { qty: "1", tif: "day" }, "BTC/USD": { qty: "0.0001", tif: "gtc" }, "ETH/USD": { qty: "0.001", tif: "gtc" } };
// Resting buys sit this far below the last price: inside the 10% price band, far enough
// that the simulated walk does not reach them during the test.
const LIMIT_DISCOUNT_PCT = 5n;
// What the load must have done for the checks to mean anything; a run where the platform
// refuses every order fails here. Each worker waits for its answer, so the load follows
// the latency: 5 accounts sent 80 to 160 orders in 6 s on two busy cores, two thirds of
// them market orders that fill at once. The floors sit well below that, and every
// account must have at least one acknowledged order and one fill.
const MIN_ACKED = 25;
const MIN_FILLS = 15;
// How long the accounts may take to apply the venue's last reports before the comparison.
const SETTLE_MS = 15_000;

// ---- exact decimals ----------------------------------------------------------------------
// The platform's money is a bigint of 10^-18 dollars; the test parses the wire's decimal
// strings the same way, so every comparison below is exact (never a float).

const ONE = 10n ** 18n;
const CENT = ONE / 100n;

function dec(text) {
  const match = /^(-)?(\d+)(?:\.(\d{1,18}))?$/.exec(String(text));
  if (!match) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  const value = BigInt(match[2]) * ONE + BigInt((match[3] ?? "").padEnd(18, "0"));
  return match[1] ? -value : value;
}

function fmt(value) {
  const abs = value < 0n ? -value : value;
  const fraction = (abs % ONE).toString().padStart(18, "0").replace(/0+$/, "").padEnd(2, "0");
  return `${value < 0n ? "-" : ""}${abs / ONE}.${fraction}`;
}

/** price × qty; both have few decimals, so the product is exact at 10^-18. */
function times(price, qty) {
  const product = price * qty;
  if (product % ONE !== 0n) throw new Error(`${fmt(price)} × ${fmt(qty)} has more than 18 decimals`);
  return product / ONE;
}

/** (value × bps / 10,000) rounded half up to the cent; the venue charges fees in cents. */
function feeCents(makerNotional, takerNotional, venue) {
  const numerator = makerNotional * BigInt(Math.round(venue.makerBps * 100)) + takerNotional * BigInt(Math.round(venue.takerBps * 100));
  const denominator = 1_000_000n * CENT;
  return ((numerator * 2n + denominator) / (2n * denominator)) * CENT;
}

/** The fee rule as the brief states it: the rates on what an order made and took, at least minFee once it fills. */
function orderFee(makerNotional, takerNotional, venue) {
  if (makerNotional + takerNotional === 0n) return 0n;
  const fee = feeCents(makerNotional, takerNotional, venue);
  const minimum = dec(venue.minFee);
  return fee > minimum ? fee : minimum;
}

// The fee schedule the running platform uses: the VENUE var of wrangler.toml's [vars].
function venueConfig() {
  const match = /^VENUE\s*=\s*'(.+)'\s*$/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  if (!match) throw new Error("wrangler.toml has no VENUE var");
  return JSON.parse(match[1]);
}

// ---- a seeded random source, so a failing run can be repeated with CRASH_SEED ------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);
const pick = (xs) => xs[Math.floor(random() * xs.length)];

// ---- setup --------------------------------------------------------------------------------

async function signUp(base, n) {
  const tag = `${randomBytes(3).toString("hex")}${n}`;
  const body = { email: `crash-${tag}@example.com`, username: `crash_${tag}`, password: PASSWORD };
  const registered = await expectStatus(api(base, "POST", "/api/auth/register", body), 201, "register");
  return { n, id: registered.user.id, email: body.email, username: body.username, headers: { authorization: `Bearer ${registered.access_token}` }, held: {} };
}

/** An admin, promoted the documented way, to read the venues' fill logs. */
async function signUpAdmin(base, stateDir) {
  const admin = await signUp(base, "admin");
  makeAdminViaScript(admin.email, stateDir);
  // The script ran synchronously for seconds, past the server's keep-alive timeout: let
  // fetch's pool see the connections the server closed before the next request uses one.
  await sleep(200);
  return admin;
}

/** The latest trade of every test symbol, from the stock and crypto endpoints; a non-200 is returned as is. */
async function latestTrades(base, headers) {
  const stocks = Object.keys(SYMBOLS).filter((s) => !s.includes("/"));
  const crypto = Object.keys(SYMBOLS).filter((s) => s.includes("/"));
  const a = await api(base, "GET", `/v2/stocks/trades/latest?symbols=${stocks.join(",")}`, undefined, headers);
  const b = await api(base, "GET", `/v1beta3/crypto/us/latest/trades?symbols=${crypto.join(",")}`, undefined, headers);
  const failed = [a, b].find((r) => r.status !== 200);
  return { status: failed?.status ?? 200, text: failed?.text ?? "", trades: { ...(a.json?.trades ?? {}), ...(b.json?.trades ?? {}) } };
}

/** Last trade per symbol as a bigint; the simulator prints within a second of start-up. */
async function lastPrices(base, headers) {
  for (let attempt = 0; attempt < 30; attempt++) {
    const { trades } = await latestTrades(base, headers);
    if (Object.keys(SYMBOLS).every((s) => trades[s]?.p)) return Object.fromEntries(Object.keys(SYMBOLS).map((s) => [s, dec(String(trades[s].p))]));
    await sleep(500);
  }
  throw new Error("the demo feeds printed no trades within 15 s");
}

// ---- load ---------------------------------------------------------------------------------

/** One order request: a market buy, a market sell of something held, or a resting limit buy. */
function nextOrder(user, prices, seq) {
  const symbol = pick(Object.keys(SYMBOLS));
  const { qty, tif } = SYMBOLS[symbol];
  const clientOrderId = `crash-${SEED}-${user.n}-${seq}`;
  const roll = random();
  if (roll < 0.35) {
    const limit = (prices[symbol] * (100n - LIMIT_DISCOUNT_PCT)) / 100n / CENT * CENT;
    return { symbol, qty, side: "buy", type: "limit", limit_price: fmt(limit), time_in_force: "gtc", client_order_id: clientOrderId };
  }
  // Sell only what earlier acknowledged buys delivered, so most sells are accepted.
  const side = roll < 0.6 && (user.held[symbol] ?? 0n) >= dec(qty) ? "sell" : "buy";
  return { symbol, qty, side, type: "market", time_in_force: tif, client_order_id: clientOrderId };
}

/**
 * Places orders for one user until the platform dies. Every attempt is recorded with its
 * outcome: `status` when the server answered, `error` when the connection broke (the
 * order may or may not have been stored: it was in flight at the kill).
 */
async function placeUntilKilled(base, user, prices, attempts, state, worker) {
  for (let seq = worker; !state.killed; seq += WORKERS_PER_USER) {
    const body = nextOrder(user, prices, seq);
    const attempt = { user: user.n, body, sentAt: Date.now() };
    attempts.push(attempt);
    try {
      const response = await api(base, "POST", "/v2/orders", body, user.headers);
      Object.assign(attempt, { status: response.status, order: response.json, text: response.text.slice(0, 500), killedBefore: state.killed, ms: Date.now() - attempt.sentAt });
      if (response.status === 200 && body.type === "market") {
        const delta = body.side === "buy" ? dec(response.json.filled_qty) : -dec(response.json.filled_qty);
        user.held[body.symbol] = (user.held[body.symbol] ?? 0n) + delta;
      }
    } catch (error) {
      Object.assign(attempt, { error: String(error.cause?.code ?? error.message), killedBefore: state.killed, failedAt: Date.now() });
      return;
    }
    await sleep((1000 * WORKERS_PER_USER) / ORDERS_PER_SECOND_PER_USER);
  }
}

function killGroup(platform) {
  process.kill(-platform.child.pid, "SIGKILL");
}

// ---- reading the account back ---------------------------------------------------------------

async function read(base, user, path) {
  return expectStatus(api(base, "GET", path, undefined, user.headers), 200, `${user.username} GET ${path}`);
}

async function allOrders(base, user) {
  const seen = new Map();
  let after = "";
  for (;;) {
    const page = await read(base, user, `/v2/orders?status=all&limit=500&direction=asc${after}`);
    const before = seen.size;
    for (const o of page) seen.set(o.id, o);
    if (page.length < 500 || seen.size === before) return [...seen.values()];
    // `after` is exclusive and orders may share a millisecond: step back one and dedupe.
    after = `&after=${Date.parse(page.at(-1).created_at) - 1}`;
  }
}

async function allActivities(base, user, types) {
  const out = [];
  let token = "";
  for (;;) {
    const page = await read(base, user, `/v2/account/activities?page_size=100${types ? `&activity_types=${types}` : ""}${token}`);
    out.push(...page);
    if (page.length < 100) return out;
    token = `&page_token=${encodeURIComponent(page.at(-1).id)}`;
  }
}

async function snapshot(base, user) {
  return {
    orders: await allOrders(base, user),
    activities: await allActivities(base, user, null),
    fills: await allActivities(base, user, "FILL"),
    account: await read(base, user, "/v2/account"),
    positions: await read(base, user, "/v2/positions"),
  };
}

// ---- the venues' side ------------------------------------------------------------------------

/** One venue's fills for an account, every page, from its own fill log (the admin API). */
async function venueFillsOf(base, admin, user, symbol) {
  const fills = [];
  let after = 0;
  for (;;) {
    const path = `/api/admin/venues/${encodeURIComponent(symbol)}/fills?account=${user.id}&after=${after}`;
    const page = await api(base, "GET", path, undefined, admin.headers);
    if (page.status !== 200) return { symbol, fills, error: `${user.username}: GET ${path} → ${page.status} ${page.text.slice(0, 200)}` };
    fills.push(...page.json.fills);
    if (page.json.next_after === null) return { symbol, fills, error: null };
    after = page.json.next_after;
  }
}

/**
 * Every venue's fills for the account, read once the account has applied all of them: a
 * retried order's last report may still be on its way. After SETTLE_MS the comparison
 * reports whatever is still missing.
 */
async function settledVenueFills(base, admin, user) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const venues = await Promise.all(Object.keys(SYMBOLS).map((symbol) => venueFillsOf(base, admin, user, symbol)));
    const applied = new Set((await allActivities(base, user, "FILL")).map((f) => f.execution_id));
    const settled = venues.every((v) => v.error === null && v.fills.every((f) => applied.has(f.execution_id)));
    if (settled || Date.now() > deadline) return venues;
    await sleep(500);
  }
}

// ---- checks ---------------------------------------------------------------------------------

/**
 * Every check the run makes, in report order. Each is reported whether or not the run
 * gave it anything to check; one marked `data` fails when it had nothing, since then it
 * proved nothing (no acknowledged order, no fill, no account).
 */
const CHECKS = {
  marketData: { name: "market data answers after the restart", data: true },
  feedsPrint: { name: "every demo feed prints again after the restart", data: true },
  no5xx: { name: "no 5xx under load", data: true },
  noConnectionFailure: { name: "no connection failure before the kill", data: true },
  minAcked: { name: `at least ${MIN_ACKED} orders were acknowledged before the kill, and some of every account's`, data: true },
  minFills: { name: `the venues' logs hold at least ${MIN_FILLS} fills, and some for every account`, data: true },
  notPending: { name: "no order is stuck in pending_new after the redelivery window", data: true },
  marketClosed: { name: "no market order is left open", data: true },
  uniqueCid: { name: "client_order_id is unique per account", data: true },
  ackedListed: { name: "every acknowledged order is in GET /v2/orders", data: true },
  ackedById: { name: "every acknowledged order is found by id, unchanged", data: true },
  ackedByCid: { name: "every acknowledged order is found by client_order_id", data: true },
  retryAcked: { name: "a repeated client_order_id returns the original order", data: true },
  // Whether an order was in flight at the kill depends on timing: nothing to check is fine.
  retryInFlight: { name: "an order in flight at the kill, retried, is stored once", data: false },
  venueReadable: { name: "the venue fill log answers for every account and symbol (admin API)", data: true },
  venueInAccount: { name: "every venue fill is in the account's FILL activities with the same price, qty and fee", data: true },
  accountInVenue: { name: "every FILL activity is a venue fill (by execution id)", data: true },
  fillOnce: { name: "no fill is applied twice (execution ids unique per account)", data: true },
  fillKnownOrder: { name: "every fill belongs to a known order", data: true },
  fillQty: { name: "per order Σ fill qty = filled_qty", data: true },
  fillFee: { name: "per order Σ fill fee = commission", data: true },
  feeSchedule: { name: "per order commission = fee schedule on its maker/taker notional", data: true },
  filledWhole: { name: "a filled order filled its whole qty", data: true },
  history: { name: "only deposits and fills in the history", data: true },
  cash: { name: "cash = deposits − Σ fees − Σ buy notional + Σ sell notional (exact)", data: true },
  deposits: { name: "deposits = Σ CSD activities", data: true },
  feesPaid: { name: "fees_paid = Σ fill fees", data: true },
  reserved: { name: "reserved_cash = Σ open buys' worst case − what their fills spent + open sells' unpaid minimum fee", data: true },
  buyingPower: { name: "buying_power = cash − reserved_cash", data: true },
  equity: { name: "equity = cash + long_market_value", data: true },
  positionQty: { name: "position qty = Σ buy fills − Σ sell fills", data: true },
  qtyAvailable: { name: "qty_available = qty − open sells' unfilled qty", data: true },
};

/** Counts what each check looked at and the problems it found; see CHECKS for the verdict. */
function checklist() {
  const seen = new Map(Object.values(CHECKS).map((check) => [check, { checked: 0, problems: [] }]));
  return {
    /** One thing checked: `problem` is null when it was right. */
    add(check, problem) {
      const entry = seen.get(check);
      if (!entry) throw new Error(`not a declared check: ${JSON.stringify(check)}`);
      entry.checked += 1;
      if (problem) entry.problems.push(problem);
    },
    results: () =>
      [...seen].map(([check, { checked, problems }]) => ({
        name: check.name,
        checked,
        problems: check.data && checked === 0 ? ["nothing to check: the run produced no data for it"] : problems,
      })),
  };
}

async function checkAcknowledged(base, user, acked, orders, list) {
  const byId = new Map(orders.map((o) => [o.id, o]));
  for (const a of acked) {
    const want = a.order;
    const listed = byId.get(want.id);
    list.add(CHECKS.ackedListed, listed ? null : `${user.username}: ${want.id} (${want.client_order_id}) missing`);
    const one = await api(base, "GET", `/v2/orders/${want.id}`, undefined, user.headers);
    const same = one.status === 200 && ["client_order_id", "symbol", "side", "qty", "type", "limit_price"].every((k) => one.json[k] === want[k]);
    list.add(CHECKS.ackedById, same ? null : `${user.username}: GET /v2/orders/${want.id} → ${one.status} ${one.text.slice(0, 200)}`);
    const byCid = await api(base, "GET", `/v2/orders:by_client_order_id?client_order_id=${encodeURIComponent(want.client_order_id)}`, undefined, user.headers);
    list.add(CHECKS.ackedByCid, byCid.status === 200 && byCid.json.id === want.id ? null : `${user.username}: ${want.client_order_id} → ${byCid.status} ${byCid.text.slice(0, 200)}`);
  }
}

function checkOrderStates(user, orders, list) {
  const cids = new Map();
  for (const o of orders) {
    cids.set(o.client_order_id, (cids.get(o.client_order_id) ?? 0) + 1);
    list.add(CHECKS.notPending, o.status === "pending_new" ? `${user.username}: ${o.type} ${o.side} ${o.symbol} ${o.id} (${o.client_order_id}) created ${o.created_at}` : null);
    // Demo symbols always have liquidity: a market order fills at once, so an open one is stuck.
    const open = ["pending_new", "new", "partially_filled"].includes(o.status);
    list.add(CHECKS.marketClosed, o.type === "market" && open ? `${user.username}: ${o.id} is ${o.status}` : null);
  }
  for (const [cid, n] of cids) list.add(CHECKS.uniqueCid, n > 1 ? `${user.username}: ${cid} × ${n}` : null);
}

function checkFills(user, orders, fills, venue, list) {
  const executions = new Map();
  const perOrder = new Map();
  for (const f of fills) {
    executions.set(f.execution_id, (executions.get(f.execution_id) ?? 0) + 1);
    const sums = perOrder.get(f.order_id) ?? { qty: 0n, fee: 0n, maker: 0n, taker: 0n };
    const value = times(dec(f.price), dec(f.qty));
    sums.qty += dec(f.qty);
    sums.fee += dec(f.fee);
    sums[f.liquidity === "maker" ? "maker" : "taker"] += value;
    perOrder.set(f.order_id, sums);
  }
  for (const [id, n] of executions) list.add(CHECKS.fillOnce, n > 1 ? `${user.username}: execution ${id} × ${n}` : null);
  const byId = new Map(orders.map((o) => [o.id, o]));
  for (const id of perOrder.keys()) list.add(CHECKS.fillKnownOrder, byId.has(id) ? null : `${user.username}: fill for unknown order ${id}`);
  for (const o of orders) {
    const sums = perOrder.get(o.id) ?? { qty: 0n, fee: 0n, maker: 0n, taker: 0n };
    const filled = dec(o.filled_qty);
    list.add(CHECKS.fillQty, sums.qty === filled ? null : `${user.username}: ${o.id} fills ${fmt(sums.qty)} vs filled_qty ${o.filled_qty}`);
    list.add(CHECKS.fillFee, sums.fee === dec(o.commission) ? null : `${user.username}: ${o.id} fees ${fmt(sums.fee)} vs commission ${o.commission}`);
    const expected = orderFee(sums.maker, sums.taker, venue);
    list.add(CHECKS.feeSchedule, expected === dec(o.commission) ? null : `${user.username}: ${o.id} commission ${o.commission}, schedule says ${fmt(expected)}`);
    const complete = o.status !== "filled" || filled === dec(o.qty);
    list.add(CHECKS.filledWhole, complete ? null : `${user.username}: ${o.id} filled ${o.filled_qty} of ${o.qty}`);
  }
}

/** The account's FILL activities against the venues' fill logs: the same executions, at the same price, qty and fee. */
function checkAgainstVenues(user, venues, fills, list) {
  for (const { error } of venues) list.add(CHECKS.venueReadable, error);
  const venueFills = venues.flatMap((v) => v.fills);
  list.add(CHECKS.minFills, venueFills.length > 0 ? null : `${user.username}: no fills`);
  const applied = new Map(fills.map((f) => [f.execution_id, f]));
  for (const v of venueFills) {
    const a = applied.get(v.execution_id);
    const differs = a && ["price", "qty", "fee"].filter((k) => dec(a[k]) !== dec(v[k]));
    const problem = !a
      ? `${user.username}: venue fill ${v.execution_id} (order ${v.order_id}, ${v.qty} @ ${v.price}) is not in the account`
      : differs.length
        ? `${user.username}: ${v.execution_id} ${differs.map((k) => `${k} ${a[k]} in the account, ${v[k]} at the venue`).join(", ")}`
        : null;
    list.add(CHECKS.venueInAccount, problem);
  }
  const executed = new Set(venueFills.map((v) => v.execution_id));
  for (const f of fills) list.add(CHECKS.accountInVenue, executed.has(f.execution_id) ? null : `${user.username}: FILL ${f.execution_id} (order ${f.order_id}) is not in the venue's log`);
}

/**
 * What GET /v2/account promises (shared/trading/views.ts, durable-objects/account.ts):
 * cash = free cash + reserved cash = deposits − fees − Σ buy notional + Σ sell notional;
 * buying_power = cash − reserved_cash, where an open buy holds its worst case (qty × limit
 * plus the largest fee, i.e. the taker rate) less what its fills already spent.
 */
function checkReconciliation(user, snap, venue, list) {
  const { account, activities, orders, positions } = snap;
  let deposits = 0n;
  let fees = 0n;
  let buys = 0n;
  let sells = 0n;
  const lots = {};
  const spentByOrder = new Map();
  const feesByOrder = new Map();
  for (const a of activities) {
    if (a.activity_type === "CSD") deposits += dec(a.net_amount);
    list.add(CHECKS.history, ["CSD", "FILL"].includes(a.activity_type) ? null : `${user.username}: ${a.activity_type} ${a.id}`);
    if (a.activity_type !== "FILL") continue;
    const value = times(dec(a.price), dec(a.qty));
    fees += dec(a.fee);
    if (a.side === "buy") buys += value;
    else sells += value;
    lots[a.symbol] = (lots[a.symbol] ?? 0n) + (a.side === "buy" ? dec(a.qty) : -dec(a.qty));
    spentByOrder.set(a.order_id, (spentByOrder.get(a.order_id) ?? 0n) + value + dec(a.fee));
    feesByOrder.set(a.order_id, (feesByOrder.get(a.order_id) ?? 0n) + dec(a.fee));
  }
  const expectedCash = deposits - fees - buys + sells;
  const same = (check, got, want) => list.add(check, got === want ? null : `${user.username}: ${fmt(got)} ≠ ${fmt(want)}`);
  same(CHECKS.cash, dec(account.cash), expectedCash);
  same(CHECKS.deposits, dec(account.deposits), deposits);
  same(CHECKS.feesPaid, dec(account.fees_paid), fees);
  let reserved = 0n;
  const sellingLots = {};
  const open = orders.filter((x) => ["pending_new", "new", "partially_filled"].includes(x.status));
  for (const o of open) {
    if (o.side === "sell") {
      sellingLots[o.symbol] = (sellingLots[o.symbol] ?? 0n) + dec(o.qty) - dec(o.filled_qty);
      // A sell holds the minimum fee and pays its fees from that first.
      const held = dec(venue.minFee) - (feesByOrder.get(o.id) ?? 0n);
      reserved += held > 0n ? held : 0n;
      continue;
    }
    if (o.type !== "limit") continue;
    // A buy holds its value and the larger of its all-maker and all-taker fees.
    const value = times(dec(o.limit_price), dec(o.qty));
    const asMaker = orderFee(value, 0n, venue);
    const asTaker = orderFee(0n, value, venue);
    reserved += value + (asMaker > asTaker ? asMaker : asTaker) - (spentByOrder.get(o.id) ?? 0n);
  }
  // An open market buy holds cash up to the price band's edge at the time it was placed,
  // which the test cannot know; those only exist if some order is stuck (checked above).
  const openMarketBuys = open.filter((o) => o.side === "buy" && o.type === "market").length;
  const reservedProblem = dec(account.reserved_cash) === reserved ? null : `${user.username}: ${account.reserved_cash} ≠ ${fmt(reserved)}${openMarketBuys ? ` (${openMarketBuys} stuck market buys hold the rest)` : ""}`;
  list.add(CHECKS.reserved, reservedProblem);
  same(CHECKS.buyingPower, dec(account.buying_power), dec(account.cash) - dec(account.reserved_cash));
  same(CHECKS.equity, dec(account.equity), dec(account.cash) + dec(account.long_market_value));
  const held = Object.fromEntries(positions.map((p) => [p.symbol, p]));
  for (const symbol of new Set([...Object.keys(lots), ...Object.keys(held)])) {
    same(CHECKS.positionQty, dec(held[symbol]?.qty ?? "0"), lots[symbol] ?? 0n);
    if (held[symbol]) same(CHECKS.qtyAvailable, dec(held[symbol].qty_available), dec(held[symbol].qty) - (sellingLots[symbol] ?? 0n));
  }
}

/**
 * The venue fills market orders against the feed and delivers its reports from the feed's
 * alarm loop, so a feed that does not come back after the restart strands every report.
 */
async function checkFeedsAfterRestart(base, user, restartedAt, list) {
  const { status, text, trades } = await latestTrades(base, user.headers);
  list.add(CHECKS.marketData, status === 200 ? null : `GET latest trades → ${status} ${text.slice(0, 200)}`);
  for (const symbol of Object.keys(SYMBOLS)) {
    const t = trades[symbol]?.t;
    list.add(CHECKS.feedsPrint, t && Date.parse(t) > restartedAt ? null : `${symbol}: last trade ${t ?? "none"}, restart at ${new Date(restartedAt).toISOString()}`);
  }
}

/**
 * Repeats requests after the restart: an acknowledged order's client_order_id must return
 * that order; one that was in flight at the kill must return the stored order if it was
 * stored, and otherwise is placed now (or refused by a pre-trade check) exactly once.
 */
async function checkRetries(base, user, acked, inFlight, storedByCid, list, tally) {
  for (const a of [...acked.slice(-3), ...inFlight]) {
    const cid = a.body.client_order_id;
    const wantId = a.order?.id ?? storedByCid.get(cid)?.id;
    const again = await api(base, "POST", "/v2/orders", a.body, user.headers);
    const outcome = `${a.order ? "acked" : wantId ? "in-flight, stored" : "in-flight, not stored"} → ${again.status} ${again.json?.status ?? again.json?.message ?? ""}`;
    tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    const check = a.order ? CHECKS.retryAcked : CHECKS.retryInFlight;
    const evidence = `${user.username}: ${cid} → ${again.status} ${again.text.slice(0, 300)} (stored before: ${wantId ?? "no"})`;
    if (wantId) {
      list.add(check, again.status === 200 && again.json.id === wantId ? null : evidence);
      continue;
    }
    list.add(check, again.status === 200 || (again.status >= 400 && again.status < 500) ? null : evidence);
    if (again.status !== 200) continue;
    const twice = await api(base, "POST", "/v2/orders", a.body, user.headers);
    list.add(check, twice.status === 200 && twice.json.id === again.json.id ? null : `${user.username}: second retry of ${cid} → ${twice.status} ${twice.text.slice(0, 200)}`);
  }
}

// ---- the run ----------------------------------------------------------------------------------

async function startOn(stateDir, running) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const platform = startWranglerDev(port, stateDir);
  running.push(platform);
  await waitHealthy(base, platform);
  return { base, platform };
}

function summarizeLoad(attempts) {
  const count = (f) => attempts.filter(f).length;
  const answered = attempts.filter((a) => a.ms !== undefined).map((a) => a.ms);
  return {
    sent: attempts.length,
    p50_ms: answered.length ? percentile(answered, 50) : null,
    acked: count((a) => a.status === 200),
    rejected: Object.fromEntries([...new Set(attempts.filter((a) => a.status >= 400 && a.status < 500).map((a) => a.status))].map((s) => [s, count((a) => a.status === s)])),
    server5xx: count((a) => a.status >= 500),
    inFlightAtKill: count((a) => a.error !== undefined),
  };
}

/** Checks the restarted platform against what the load recorded and what the venues executed. */
async function verify(base, admin, users, attempts, venue, restartedAt) {
  const list = checklist();
  await checkFeedsAfterRestart(base, users[0], restartedAt, list);
  for (const a of attempts) {
    list.add(CHECKS.no5xx, a.status >= 500 ? `user ${a.user} ${a.body.client_order_id} → ${a.status} ${a.text}` : null);
    list.add(CHECKS.noConnectionFailure, a.error && !a.killedBefore ? `user ${a.user} ${a.body.client_order_id}: ${a.error}` : null);
  }
  const stored = { acked: 0, inFlightStored: 0, venueFills: 0 };
  const tally = new Map();
  for (const user of users) {
    const mine = attempts.filter((a) => a.user === user.n);
    const acked = mine.filter((a) => a.status === 200);
    const inFlight = mine.filter((a) => a.error !== undefined);
    list.add(CHECKS.minAcked, acked.length > 0 ? null : `${user.username}: none of ${mine.length} orders acknowledged`);
    const afterRestart = await allOrders(base, user);
    checkOrderStates(user, afterRestart, list);
    await checkAcknowledged(base, user, acked, afterRestart, list);
    const storedByCid = new Map(afterRestart.map((o) => [o.client_order_id, o]));
    stored.acked += acked.length;
    stored.inFlightStored += inFlight.filter((a) => storedByCid.has(a.body.client_order_id)).length;
    await checkRetries(base, user, acked, inFlight, storedByCid, list, tally);
  }
  list.add(CHECKS.minAcked, stored.acked >= MIN_ACKED ? null : `${stored.acked} of ${attempts.length} orders acknowledged in all`);
  console.log(`# retries after the restart: ${[...tally].map(([k, n]) => `${n}× ${k}`).join("; ")}`);
  for (const user of users) {
    const venues = await settledVenueFills(base, admin, user);
    stored.venueFills += venues.reduce((n, v) => n + v.fills.length, 0);
    const snap = await snapshot(base, user);
    checkAgainstVenues(user, venues, snap.fills, list);
    checkFills(user, snap.orders, snap.fills, venue, list);
    checkReconciliation(user, snap, venue, list);
  }
  list.add(CHECKS.minFills, stored.venueFills >= MIN_FILLS ? null : `${stored.venueFills} fills in all`);
  return { results: list.results(), stored };
}

async function main() {
  // Every check in CHECKS is reported, so that is the plan (.ci/run counts a shortfall).
  console.log(`plan ${Object.keys(CHECKS).length}`);
  const venue = venueConfig();
  const stateDir = mkdtempSync(join(tmpdir(), "redfire-crash-"));
  console.log(`# crash test: seed ${SEED}, ${USERS} users × ${WORKERS_PER_USER} workers, SIGKILL after ${KILL_AFTER_MS} ms of load, state in ${stateDir}`);
  const running = [];
  let verdict;
  try {
    const first = await startOn(stateDir, running);
    const users = [];
    for (let n = 0; n < USERS; n++) users.push(await signUp(first.base, n));
    const admin = await signUpAdmin(first.base, stateDir);
    const prices = await lastPrices(first.base, users[0].headers);
    console.log(`# ${USERS} users signed up; last prices ${Object.entries(prices).map(([s, p]) => `${s} ${fmt(p)}`).join(", ")}`);

    const attempts = [];
    const state = { killed: false };
    const load = users.flatMap((user) => Array.from({ length: WORKERS_PER_USER }, (_, w) => placeUntilKilled(first.base, user, prices, attempts, state, w)));
    await sleep(KILL_AFTER_MS);
    state.killed = true;
    killGroup(first.platform);
    await first.platform.exited;
    await Promise.all(load);
    const loadSummary = summarizeLoad(attempts);
    console.log(`# SIGKILL of the whole process group mid-load; load: ${JSON.stringify(loadSummary)}`);
    await sleep(500); // workerd is a grandchild: let the kernel reap the whole group

    const restartedAt = Date.now();
    const second = await startOn(stateDir, running);
    console.log(`# restarted on the same state; waiting ${REDELIVERY_SECONDS} s for alarms to redeliver`);
    await sleep(REDELIVERY_SECONDS * 1000);
    const { results, stored } = await verify(second.base, admin, users, attempts, venue, restartedAt);
    verdict = report(results, `${stored.acked} acknowledged orders and ${stored.venueFills} venue fills from ${USERS} accounts (${loadSummary.inFlightAtKill} in flight at the kill, ${stored.inFlightStored} of them stored), ${results.length} checks`);
  } finally {
    for (const platform of running) await stopWranglerDev(platform);
  }
  if (!verdict.passed) {
    console.log(`CRASH TEST FAILED: ${verdict.text}; state kept in ${stateDir} (seed ${SEED})`);
    process.exitCode = 1;
    return;
  }
  console.log(`CRASH TEST PASSED: ${verdict.text}; SIGKILL mid-load lost nothing, applied no fill twice, every account's fills are the venues' fills and every account reconciles exactly (seed ${SEED})`);
  if (!process.env.CRASH_KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
}

function report(results, what) {
  for (const { name, checked, problems } of results) {
    console.log(`${problems.length === 0 ? "ok    " : "FAILED"} ${name} (${!problems.length ? `${checked} checked` : checked ? `${problems.length} of ${checked} wrong` : "nothing checked"})`);
    for (const p of problems.slice(0, 5)) console.log(`         ${p}`);
  }
  const failed = results.filter((r) => r.problems.length > 0).length;
  return { passed: failed === 0, text: failed ? `${failed} of ${results.length} checks failed over ${what}` : what };
}

main().catch((error) => {
  console.error(`CRASH TEST FAILED: ${error.stack ?? error}`);
  process.exitCode = 1;
});
