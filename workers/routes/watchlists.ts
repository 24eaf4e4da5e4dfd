import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { notFound, unprocessable } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY } from "../../shared/schemas/common";
import { AddWatchlistAssetRequest, CreateWatchlistRequest, UpdateWatchlistRequest, Watchlist, WatchlistIdParam, WatchlistNameQuery, WatchlistWithoutAssets } from "../../shared/schemas/watchlists";
import type { Outcome } from "../../shared/trading/outcome";
import { missingWatchlist, type WatchedAsset, type Watchlist as StoredWatchlist, type WatchlistCommand, type WatchlistRef } from "../../shared/trading/watchlists";
import { findAssets } from "../../platform/assets";
import type { AppEnv } from "../context";
import { assetView } from "../lib/assets";
import { unwrap } from "../lib/accounts";
import { oneHop } from "../middleware/admission";
import { requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// Watchlists (Alpaca's `/v2/watchlists`, docs/alpaca-compat.md): kept by the caller's
// account object, one hop like the orders; the rules are shared/trading/watchlists.ts.
// Each list can be addressed by id or, with `:by_name?name=`, by its name. Symbols are
// looked up in the asset registry here (an unknown one is 422 and reaches no object), and
// the assets are shown as the registry has them now.
export const watchlists = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;
const read = requirePermission("trading:read");
const write = requirePermission("trading:write");
const tags = ["watchlists"];

type WatchlistJson = z.infer<typeof Watchlist>;
type Answered = { accountId: string; list: StoredWatchlist; deleted: boolean };

const iso = (ms: number) => new Date(ms).toISOString();
const background = (c: Context<AppEnv>) => (work: Promise<unknown>) => c.executionCtx.waitUntil(work);

const header = (accountId: string, list: StoredWatchlist): z.infer<typeof WatchlistWithoutAssets> => ({
  id: list.id,
  account_id: accountId,
  name: list.name,
  created_at: iso(list.createdAt),
  updated_at: iso(list.updatedAt),
});

async function view(c: Context<AppEnv>, accountId: string, list: StoredWatchlist): Promise<WatchlistJson> {
  const rows = await findAssets(c.env, list.assets.map((a) => a.id), background(c));
  return { ...header(accountId, list), assets: rows.flatMap((row) => (row ? [assetView(row)] : [])) };
}

/**
 * The registry's assets for symbols (or asset ids) a client sent, looked up together (one
 * query at most, whatever their number); an unknown one is refused, naming its `path`.
 */
async function watchedAll(c: Context<AppEnv>, symbols: readonly string[], path: (i: number) => string): Promise<WatchedAsset[]> {
  const rows = await findAssets(c.env, symbols, background(c));
  return rows.map((row, i) => {
    if (!row) throw unprocessable(`unknown symbol ${symbols[i]!.trim()}`, [{ path: path(i), message: `unknown symbol ${symbols[i]!.trim()}` }]);
    return { id: row.id, symbol: row.symbol };
  });
}

const inBody = (i: number) => `symbols[${i}]`;

async function change(c: Context<AppEnv>, command: WatchlistCommand): Promise<Answered> {
  return unwrap(await oneHop<Outcome<Answered>>(c, (account, gate) => account.gated(gate, "changeWatchlist", command)));
}

async function one(c: Context<AppEnv>, ref: WatchlistRef): Promise<WatchlistJson> {
  const found = await oneHop<{ accountId: string; list: StoredWatchlist } | null>(c, (account, gate) => account.gated(gate, "watchlist", ref));
  if (!found) throw notFound(missingWatchlist(ref));
  return view(c, found.accountId, found.list);
}

// ---- the lists ------------------------------------------------------------------------

watchlists.openapi(
  createRoute({
    method: "get",
    path: "/v2/watchlists",
    tags,
    summary: "The account's watchlists, oldest first (without their assets)",
    security,
    middleware: [read] as const,
    responses: { 200: jsonContent(z.array(WatchlistWithoutAssets), "Every watchlist"), ...errorResponses(401, 403, 429) },
  }),
  async (c) => {
    const { accountId, lists } = await oneHop<{ accountId: string; lists: StoredWatchlist[] }>(c, (account, gate) => account.gated(gate, "watchlists"));
    return c.json(lists.map((l) => header(accountId, l)), 200);
  },
);

watchlists.openapi(
  createRoute({
    method: "post",
    path: "/v2/watchlists",
    tags,
    summary: "Create a watchlist, optionally with its first symbols",
    description: "The name is unique in the account (up to 64 characters); a symbol may appear once. At most 100 watchlists of up to 1,000 assets each.",
    security,
    middleware: [write] as const,
    request: { body: jsonBody(CreateWatchlistRequest) },
    responses: { 200: jsonContent(Watchlist, "The new watchlist"), ...errorResponses(400, 401, 403, 413, 422, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const assets = await watchedAll(c, body.symbols ?? [], inBody);
    const { accountId, list } = await change(c, { op: "create", name: body.name, assets });
    return c.json(await view(c, accountId, list), 200);
  },
);

// ---- one list, by id or by name: the same four verbs ------------------------------------

type RefOf = (c: Context<AppEnv>) => WatchlistRef;
// Ids are UUIDs, made lower-case: one sent in upper case names the same list.
const byId: RefOf = (c) => ({ id: c.req.param("watchlist_id")!.toLowerCase() });
// Composed as names are stored (the query schema checks the same text).
const byName: RefOf = (c) => ({ name: (c.req.query("name") ?? "").trim().normalize("NFC") });

function listRoutes(path: string, request: { params: typeof WatchlistIdParam } | { query: typeof WatchlistNameQuery }, refOf: RefOf, how: string) {
  watchlists.openapi(
    createRoute({ method: "get", path, tags, summary: `A watchlist ${how}, with its assets`, security, middleware: [read] as const, request, responses: { 200: jsonContent(Watchlist, "The watchlist"), ...errorResponses(401, 403, 404, 422, 429) } }),
    async (c) => c.json(await one(c, refOf(c)), 200),
  );

  watchlists.openapi(
    createRoute({
      method: "put",
      path,
      tags,
      summary: `Rename a watchlist ${how}, replace its symbols (in the order given), or both`,
      security,
      middleware: [write] as const,
      request: { ...request, body: jsonBody(UpdateWatchlistRequest) },
      responses: { 200: jsonContent(Watchlist, "The watchlist as changed"), ...errorResponses(400, 401, 403, 404, 413, 422, 429) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const assets = body.symbols === undefined || body.symbols === null ? undefined : await watchedAll(c, body.symbols, inBody);
      const { accountId, list } = await change(c, { op: "update", ref: refOf(c), ...(body.name === undefined ? {} : { name: body.name }), ...(assets ? { assets } : {}) });
      return c.json(await view(c, accountId, list), 200);
    },
  );

  watchlists.openapi(
    createRoute({
      method: "post",
      path,
      tags,
      summary: `Append a symbol to a watchlist ${how}`,
      security,
      middleware: [write] as const,
      request: { ...request, body: jsonBody(AddWatchlistAssetRequest) },
      responses: { 200: jsonContent(Watchlist, "The watchlist with the asset at its end"), ...errorResponses(400, 401, 403, 404, 413, 422, 429) },
    }),
    async (c) => {
      const asset = (await watchedAll(c, [c.req.valid("json").symbol], () => "symbol"))[0]!;
      const { accountId, list } = await change(c, { op: "add", ref: refOf(c), asset });
      return c.json(await view(c, accountId, list), 200);
    },
  );

  watchlists.openapi(
    createRoute({ method: "delete", path, tags, summary: `Delete a watchlist ${how}`, security, middleware: [write] as const, request, responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 422, 429) } }),
    async (c) => {
      await change(c, { op: "delete", ref: refOf(c) });
      return c.body(null, 204);
    },
  );
}

// Alpaca's path has a colon inside the segment.
listRoutes("/v2/watchlists:by_name", { query: WatchlistNameQuery }, byName, "by name");
listRoutes("/v2/watchlists/{watchlist_id}", { params: WatchlistIdParam }, byId, "by id");

// ---- removing one symbol ------------------------------------------------------------------

async function removeSymbol(c: Context<AppEnv>, id: string, symbol: string) {
  const [row] = await findAssets(c.env, [symbol], background(c));
  // A symbol the registry does not know is on no list: the account still says whether the list exists.
  const asset = row ? { id: row.id, symbol: row.symbol } : { id: `unknown:${symbol.trim()}`, symbol: symbol.trim() };
  const { accountId, list } = await change(c, { op: "remove", ref: { id: id.toLowerCase() }, asset });
  return c.json(await view(c, accountId, list), 200);
}

watchlists.openapi(
  createRoute({
    method: "delete",
    path: "/v2/watchlists/{watchlist_id}/{symbol}",
    tags,
    summary: "Remove a symbol from a watchlist",
    security,
    middleware: [write] as const,
    request: { params: WatchlistIdParam.extend({ symbol: z.string().min(1).max(48) }) },
    responses: { 200: jsonContent(Watchlist, "The watchlist without the asset"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { watchlist_id, symbol } = c.req.valid("param");
    return removeSymbol(c, watchlist_id, symbol);
  },
);

// A pair's symbol may come with its slash unencoded: /v2/watchlists/{id}/BTC/USD.
watchlists.openapi(
  createRoute({
    method: "delete",
    path: "/v2/watchlists/{watchlist_id}/{base}/{quote}",
    tags,
    summary: "Remove a crypto pair from a watchlist by its symbol with the slash",
    security,
    middleware: [write] as const,
    request: { params: WatchlistIdParam.extend({ base: z.string().min(1).max(12), quote: z.string().min(1).max(12) }) },
    responses: { 200: jsonContent(Watchlist, "The watchlist without the asset"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { watchlist_id, base, quote } = c.req.valid("param");
    return removeSymbol(c, watchlist_id, `${base}/${quote}`);
  },
);
