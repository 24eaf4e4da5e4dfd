import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { conflict, notFound, unprocessable, type FieldError } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY, wholeParam } from "../../shared/schemas/common";
import {
  CreateStrategyRequest,
  Strategy,
  StrategyIdParam,
  StrategyTemplate,
  StrategyVersion,
  StrategyVersionDetail,
  StrategyVersionParam,
  UpdatedStrategy,
  UpdateStrategyRequest,
} from "../../shared/schemas/strategies";
import { compileStrategy, type StrategyLanguage } from "../../shared/strategy/compile";
import { moduleLoadError } from "../../platform/sandbox";
import { TEMPLATES, templateJsonSchema, templateParams } from "../../shared/strategy/templates";
import { assetBySymbol, findAsset, instrumentSpecOf, type AssetRow } from "../../platform/assets";
import { database, isUniqueViolation, schema } from "../../platform/db";
import type { AppEnv } from "../context";
import { checkedParams } from "../lib/backtests";
import { publish } from "../lib/events";
import {
  appendVersion,
  deleteStrategy,
  insertStrategy,
  listVersions,
  loadStrategy,
  MAX_STRATEGIES_PER_USER,
  moveStrategy,
  ownStrategy,
  strategyView,
  versionView,
  type Placement,
  type StrategyRow,
  type StrategyVersionRow,
  type VersionContent,
} from "../lib/strategies";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";

// Saved strategies: create, read, edit (every edit of parameters or code is a new version),
// delete. Starting, stopping and watching a strategy run live are the live runner's routes.

export const strategies = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;
const tags = ["strategies"];
/** What every read-only route shares: its OpenAPI tag, the accepted credentials and the read permission. */
const readRoute = { tags, security, middleware: [requirePermission("strategy:read")] };
// A save that keeps losing the race for the next version number gives up with 409 rather
// than spin; each round, one of the concurrent saves wins.
const SAVE_ATTEMPTS = 10;

const duplicateName = (name: string) => conflict(`you already have a strategy named "${name}"`, [{ path: "name", message: "is already used by another of your strategies" }]);

/** Compiled code, or 422 with where the problem is (line and column in the message and the details). */
function compiledSource(source: string, language: StrategyLanguage): string {
  const result = compileStrategy(source, language);
  if (result.ok) return result.js;
  const { message, line, column } = result.error;
  throw refusedSource(message, line, column);
}

function refusedSource(message: string, line: number | null | undefined, column: number | null | undefined) {
  const detail: FieldError & { line?: number; column?: number } = { path: "source", message, ...(line === undefined || line === null ? {} : { line, column: column ?? undefined }) };
  return unprocessable(message, [detail]);
}

/**
 * The compiled code, once the runtime that will run it has loaded it: the errors the
 * compiler does not see (a `let` declared twice, a `break` outside a loop, a throw at
 * module scope) are refused at save, with their line, rather than at the first start.
 */
async function loadableSource(env: Env, source: string, language: StrategyLanguage): Promise<string> {
  const js = compiledSource(source, language);
  const failed = await moduleLoadError(env, js);
  if (failed) throw refusedSource(`the module does not load: ${failed.message}`, failed.line, failed.column);
  return js;
}

const templatesRoute = createRoute({
  method: "get",
  path: "/api/strategies/templates",
  summary: "The strategy templates, each with its parameters' JSON Schema and defaults",
  ...readRoute,
  responses: { 200: jsonContent(z.array(StrategyTemplate), "Every template"), ...errorResponses(401, 403, 429) },
});

strategies.openapi(templatesRoute, (c) =>
  c.json(
    [...TEMPLATES.values()].map((t) => {
      const defaults = templateParams(t, {});
      return { name: t.name, title: t.title, description: t.description, params_schema: templateJsonSchema(t), defaults: defaults.ok ? defaults.params : {} };
    }),
    200,
  ),
);

const create = createRoute({
  method: "post",
  path: "/api/strategies",
  tags,
  summary: "Save a strategy (a template with parameters, or code compiled now); this is its version 1",
  description: `Template parameters are checked against the template (its defaults fill the rest); code is compiled, and a syntax error is refused with its line and column (details[0].line, .column). At most ${MAX_STRATEGIES_PER_USER} strategies per user; names are unique per user.`,
  security,
  middleware: [requirePermission("strategy:write")] as const,
  request: { body: jsonBody(CreateStrategyRequest) },
  responses: { 201: jsonContent(Strategy, "The saved strategy"), ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
});

/** The listed, active asset a strategy may be saved or moved to ("BTCUSD" is BTC/USD, as in orders); 422 otherwise. */
async function activeAsset(env: Env, symbol: string): Promise<AssetRow> {
  const asset = await findAsset(env, symbol);
  if (!asset || asset.status !== "active") {
    throw unprocessable(`${asset ? "inactive" : "unknown"} symbol ${symbol.toUpperCase()}`, [{ path: "symbol", message: asset ? "is not active" : "is not a listed asset" }]);
  }
  return asset;
}

strategies.openapi(create, async (c) => {
  const { userId } = principalOf(c);
  const body = c.req.valid("json");
  const asset = await activeAsset(c.env, body.symbol);
  const content: VersionContent =
    body.kind === "template"
      ? { template: body.template!, params: checkedParams(body.template!, body.params, "params", instrumentSpecOf(asset)), source: null, compiled: null, language: null }
      : { template: null, params: body.params ?? {}, source: body.source!, compiled: await loadableSource(c.env, body.source!, body.language), language: body.language };
  const id = crypto.randomUUID();
  let row: StrategyRow | "limit";
  try {
    row = await insertStrategy(c.env, { id, userId, name: body.name, kind: body.kind, symbol: asset.symbol, timeframe: body.timeframe, now: Date.now() }, content);
  } catch (error) {
    if (isUniqueViolation(error, "strategies")) throw duplicateName(body.name);
    throw error;
  }
  if (row === "limit") throw conflict(`at most ${MAX_STRATEGIES_PER_USER} strategies per user: reuse one (PATCH /api/strategies/{id} changes its name, parameters, code, symbol or timeframe), or delete one (deleting takes the strategy:delete permission, which admins hold)`);
  await publish(c.env, "strategy.created", `strategy:${id}`, { userId, strategyId: id, name: row.name, kind: row.kind, template: row.template, symbol: row.symbol, version: 1 }, c.get("traceparent"));
  return c.json(strategyView(row), 201);
});

const list = createRoute({
  method: "get",
  path: "/api/strategies",
  summary: "The caller's strategies with their status, oldest first",
  ...readRoute,
  responses: { 200: jsonContent(z.array(Strategy), "The caller's strategies"), ...errorResponses(401, 403, 429) },
});

strategies.openapi(list, async (c) => {
  const rows = await database(c.env)
    .select()
    .from(schema.strategies)
    .where(eq(schema.strategies.userId, principalOf(c).userId))
    .orderBy(asc(schema.strategies.createdAt), asc(schema.strategies.id))
    .all();
  return c.json(rows.map(strategyView), 200);
});

const get = createRoute({
  method: "get",
  path: "/api/strategies/{id}",
  summary: "One of the caller's strategies",
  ...readRoute,
  request: { params: StrategyIdParam },
  responses: { 200: jsonContent(Strategy, "The strategy"), ...errorResponses(401, 403, 404, 422, 429) },
});

strategies.openapi(get, async (c) => {
  const row = await ownStrategy(c.env, principalOf(c).userId, c.req.valid("param").id);
  // Another user's strategy answers exactly like a missing one.
  if (!row) throw notFound("strategy not found");
  return c.json(strategyView(row), 200);
});

const VersionsQuery = z.object({
  limit: wholeParam("limit", 1, 500).default(100),
  before: wholeParam("before", 1, Number.MAX_SAFE_INTEGER).optional().openapi({ description: "Only versions below this number (paging back)" }),
});

const versions = createRoute({
  method: "get",
  path: "/api/strategies/{id}/versions",
  summary: "A strategy's versions, newest first (without their code)",
  ...readRoute,
  request: { params: StrategyIdParam, query: VersionsQuery },
  responses: { 200: jsonContent(z.array(StrategyVersion), "Versions, newest first"), ...errorResponses(401, 403, 404, 422, 429) },
});

strategies.openapi(versions, async (c) => {
  const { id } = c.req.valid("param");
  const { limit, before } = c.req.valid("query");
  if (!(await ownStrategy(c.env, principalOf(c).userId, id))) throw notFound("strategy not found");
  return c.json((await listVersions(c.env, id, limit, before)).map(versionView), 200);
});

const version = createRoute({
  method: "get",
  path: "/api/strategies/{id}/versions/{version}",
  summary: "One version of a strategy, with the source as written and the JavaScript compiled from it",
  ...readRoute,
  request: { params: StrategyVersionParam },
  responses: { 200: jsonContent(StrategyVersionDetail, "The version"), ...errorResponses(401, 403, 404, 422, 429) },
});

strategies.openapi(version, async (c) => {
  const { id, version: number } = c.req.valid("param");
  const loaded = await loadStrategy(c.env, principalOf(c).userId, id, number);
  if (!loaded) throw notFound("strategy version not found");
  return c.json({ ...versionView(loaded.version), source: loaded.version.source, compiled: loaded.version.compiled }, 200);
});

const update = createRoute({
  method: "patch",
  path: "/api/strategies/{id}",
  tags,
  summary: "Edit a strategy: new params, source or language make a new version; a rename does not",
  description:
    "`params` are merged into the current ones (template parameters are checked again, defaults filled). A running strategy keeps running the version it started with (`running_version`; `notice` says so); stop and start it to run the new one. `symbol` and `timeframe` move a strategy that is not running (409 while it runs; its past run's statistics and log stay with the old symbol); a template's parameters must hold on the new symbol's instrument (422 otherwise).",
  security,
  middleware: [requirePermission("strategy:write")] as const,
  request: { params: StrategyIdParam, body: jsonBody(UpdateStrategyRequest) },
  responses: { 200: jsonContent(UpdatedStrategy, "The strategy as saved"), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429) },
});

/** What the edit saves as the next version, built on the current one. */
async function nextContent(env: Env, strategy: StrategyRow, current: StrategyVersionRow, body: UpdateStrategyRequest, target: AssetRow | undefined): Promise<VersionContent> {
  const params = { ...(JSON.parse(current.params) as Record<string, unknown>), ...body.params };
  if (strategy.kind === "template") {
    if (body.source !== undefined || body.language !== undefined) {
      throw unprocessable("a template strategy has no source", [{ path: body.source !== undefined ? "source" : "language", message: "only code strategies have source" }]);
    }
    // Checked against the instrument the strategy will run on: the one it moves to, if it moves.
    const asset = target ?? (await assetBySymbol(env, strategy.symbol));
    return { template: strategy.template, params: checkedParams(strategy.template ?? "", params, "params", asset ? instrumentSpecOf(asset) : undefined), source: null, compiled: null, language: null };
  }
  const source = body.source ?? current.source ?? "";
  const language = body.language ?? current.language ?? "ts";
  return { template: null, params, source, compiled: await loadableSource(env, source, language), language };
}

strategies.openapi(update, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const edits = body.params !== undefined || body.source !== undefined || body.language !== undefined;
  let saved: StrategyRow | undefined;
  let newVersion = false;
  try {
    if (edits || body.symbol !== undefined || body.timeframe !== undefined) ({ row: saved, newVersion } = await saveVersion(c.env, userId, id, body));
    else saved = await rename(c.env, userId, id, body.name!);
  } catch (error) {
    if (isUniqueViolation(error, "strategies")) throw duplicateName(body.name ?? "");
    throw error;
  }
  const notice =
    saved.status === "running" && saved.runningVersion !== null && saved.runningVersion !== saved.currentVersion
      ? `still running version ${saved.runningVersion}; stop and start the strategy to run version ${saved.currentVersion}`
      : null;
  await publish(c.env, "strategy.updated", `strategy:${id}`, { userId, strategyId: id, name: saved.name, version: saved.currentVersion, newVersion, symbol: saved.symbol, timeframe: saved.timeframe }, c.get("traceparent"));
  return c.json({ ...strategyView(saved), notice }, 200);
});

/**
 * Saves the edit as the next version, unless it changes nothing the current version has
 * (then at most a rename), and moves the strategy to the body's symbol and timeframe where
 * they differ from its own.
 */
async function saveVersion(env: Env, userId: string, id: string, body: UpdateStrategyRequest): Promise<{ row: StrategyRow; newVersion: boolean }> {
  const edits = body.params !== undefined || body.source !== undefined || body.language !== undefined;
  /** The asset the body names, looked up once it names another symbol than the strategy's (its own may have been delisted since). */
  let named: AssetRow | undefined;
  for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt++) {
    const loaded = await loadStrategy(env, userId, id);
    if (!loaded) throw notFound("strategy not found");
    const { strategy, version } = loaded;
    if (body.symbol !== undefined && !named && body.symbol.toUpperCase() !== strategy.symbol) named = await activeAsset(env, body.symbol);
    const target = named?.symbol === strategy.symbol ? undefined : named;
    const place = placementOf(strategy, target, body.timeframe);
    if (place && strategy.status === "running") throw conflict("the strategy is running; stop it before moving it to another symbol or timeframe");
    // A move alone keeps the version: a template's parameters need only hold on the new
    // instrument, and code is not compiled again.
    const content = edits || (target !== undefined && strategy.kind === "template") ? await nextContent(env, strategy, version, body, target) : null;
    if (!content || sameContent(version, content)) {
      if (!place) {
        const row = body.name !== undefined && body.name !== strategy.name ? await rename(env, userId, id, body.name) : strategy;
        return { row, newVersion: false };
      }
      const moved = await moveStrategy(env, strategy, place, body.name, Date.now());
      if (moved) return { row: moved, newVersion: false };
      continue;
    }
    const saved = await appendVersion(env, strategy, content, body.name, Date.now(), place);
    if (saved) return { row: saved, newVersion: true };
  }
  throw conflict("the strategy kept changing while this edit was saved; read it again and retry");
}

/** Where the edit moves the strategy, if anywhere: undefined when its symbol and timeframe stay. */
function placementOf(strategy: StrategyRow, target: AssetRow | undefined, timeframe: string | undefined): Placement | undefined {
  const symbol = target?.symbol ?? strategy.symbol;
  const frame = timeframe ?? strategy.timeframe;
  return symbol === strategy.symbol && frame === strategy.timeframe ? undefined : { symbol, timeframe: frame };
}

/** Whether `content` is what `current` already holds: the same parameters (in any key order), source and language. */
function sameContent(current: StrategyVersionRow, content: VersionContent): boolean {
  return (
    current.template === content.template &&
    current.source === content.source &&
    current.language === content.language &&
    canonicalJson(JSON.parse(current.params)) === canonicalJson(content.params)
  );
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

async function rename(env: Env, userId: string, id: string, name: string): Promise<StrategyRow> {
  const row = await database(env)
    .update(schema.strategies)
    .set({ name, updatedAt: Date.now() })
    .where(and(eq(schema.strategies.id, id), eq(schema.strategies.userId, userId)))
    .returning()
    .get();
  if (!row) throw notFound("strategy not found");
  return row;
}

const remove = createRoute({
  method: "delete",
  path: "/api/strategies/{id}",
  tags,
  summary: "Delete a strategy and its versions; a running strategy must be stopped first",
  security,
  middleware: [requirePermission("strategy:delete")] as const,
  request: { params: StrategyIdParam },
  responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 409, 422, 429) },
});

strategies.openapi(remove, async (c) => {
  const { userId } = principalOf(c);
  const { id } = c.req.valid("param");
  const outcome = await deleteStrategy(c.env, userId, id);
  if (outcome === "missing") throw notFound("strategy not found");
  if (outcome === "running") throw conflict("the strategy is running; stop it before deleting it");
  await publish(c.env, "strategy.deleted", `strategy:${id}`, { userId, strategyId: id }, c.get("traceparent"));
  return c.body(null, 204);
});
