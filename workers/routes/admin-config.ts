import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, isConfigKey, scopeKind } from "../../shared/config/keys";
import { CONFIG_STORE } from "../../shared/config/live";
import type { WriteResult } from "../../shared/config/versions";
import { effective, effectiveAll, type Refusal, type Version } from "../../shared/config/versions";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY, wholeParam } from "../../shared/schemas/common";
import type { AppEnv } from "../context";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { validationHook } from "../middleware/errors";
import { forgetLiveGatewayConfig } from "../lib/config";
import { keysetPage } from "../lib/pages";
import { eq } from "drizzle-orm";
import { database, schema } from "../../platform/db";

// Run-time configuration (docs/config.md): read the effective values with the store's
// version as the ETag, change one key at one scope with If-Match (412 when stale, 428
// without), delete an override, read the history with diffs, roll back to a version.
export const adminConfig = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const security = SESSION_OR_KEY;

const Scope = z.string().openapi({ example: "global", description: '"global", "account:<user id>" or "symbol:<SYMBOL>"' });
const KeyParam = z.object({ key: z.string().openapi({ param: { name: "key", in: "path" }, example: "risk_limits" }) });
const ScopeQuery = z.object({ scope: Scope.default("global") });
const IfMatch = z.object({ "if-match": z.string().optional().openapi({ description: 'The ETag of the configuration read (e.g. "12"); required' }) });
const FieldValue = z.record(z.string(), z.unknown());

const OverrideView = z.object({ key: z.string(), scope: z.string(), value: FieldValue });
const ConfigView = z
  .object({
    version: z.number().int(),
    scope: z.string(),
    values: z.record(z.string(), FieldValue).openapi({ description: "Every key's effective value at the scope" }),
    overrides: z.array(OverrideView).openapi({ description: "Every stored override, at every scope" }),
    defaults: z.record(z.string(), FieldValue).openapi({ description: "The values from the environment's vars" }),
    keys: z.array(z.object({ key: z.string(), scopes: z.array(z.string()), description: z.string() })),
  })
  .openapi("Config");
const KeyView = z
  .object({ version: z.number().int(), key: z.string(), scope: z.string(), value: FieldValue, override: FieldValue.nullable(), default: FieldValue })
  .openapi("ConfigKey");
const ChangeView = z.object({
  key: z.string(),
  scope: z.string(),
  before: FieldValue.nullable(),
  after: FieldValue.nullable(),
  diff: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown() })),
});
const VersionView = z
  .object({
    version: z.number().int(),
    at: z.string(),
    author: z.string(),
    reason: z.string(),
    action: z.enum(["set", "delete", "rollback"]),
    rolled_back_to: z.number().int().nullable(),
    changes: z.array(ChangeView),
  })
  .openapi("ConfigVersion");
const HistoryView = z.object({ versions: z.array(VersionView), next_before: z.number().int().nullable() }).openapi("ConfigHistory");
const Reason = z.string().trim().min(1).max(500);
const WriteRequest = z.object({ scope: Scope.default("global"), value: FieldValue, reason: Reason }).openapi("ConfigWrite");
const DeleteQuery = z.object({ scope: Scope.default("global"), reason: Reason });
const RollbackRequest = z.object({ version: z.number().int().nonnegative(), reason: Reason }).openapi("ConfigRollback");
const HistoryQuery = z.object({
  key: z.string().optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: wholeParam("limit", 1, 100).default(20),
});

const store = (env: Env) => env.CONFIG.getByName(CONFIG_STORE);
const etag = (version: number) => `"${version}"`;

/** The version a write is based on, from If-Match; 428 without one. */
function ifMatch(c: Context<AppEnv>): number {
  const header = c.req.header("if-match");
  if (!header) throw new ApiError(428, "If-Match is required: send the ETag of the configuration you read", [{ path: "If-Match", message: "required" }], 10000);
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(header.trim());
  if (!match) throw new ApiError(400, 'If-Match must be an ETag of this API, e.g. "12"', [{ path: "If-Match", message: "not an ETag" }], 10000);
  return Number(match[1]);
}

function knownKey(key: string): asserts key is keyof typeof CONFIG_KEYS {
  if (!isConfigKey(key)) throw new ApiError(404, `no configuration key ${key}`, [{ path: "key", message: `one of ${CONFIG_KEY_NAMES.join(", ")}` }], 10000);
}

function validScope(scope: string): void {
  if (!scopeKind(scope)) throw new ApiError(422, "scope is invalid", [{ path: "scope", message: '"global", "account:<user id>" or "symbol:<SYMBOL>"' }], 10000);
}

/**
 * An account scope names a user who exists: an override for a mistyped id would apply to
 * no one and sit in the history as if it did. (A symbol may be configured before it is
 * listed, so symbol scopes are not checked against the registry.)
 */
async function existingScope(env: Env, scope: string): Promise<void> {
  validScope(scope);
  const id = scope.startsWith("account:") ? scope.slice("account:".length) : null;
  if (id !== null && !(await database(env).select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.id, id)).get()))
    throw new ApiError(422, `scope ${scope} names no user`, [{ path: "scope", message: "no user has this id" }], 10000);
}

const refusalError = (r: Refusal) => new ApiError(r.status, r.message, r.details, 10000);

const versionView = (v: Version): z.infer<typeof VersionView> => ({
  version: v.version,
  at: new Date(v.at).toISOString(),
  author: v.author,
  reason: v.reason,
  action: v.action,
  rolled_back_to: v.rolledBackTo,
  changes: v.changes,
});

/** A write's new version, with its number as the new ETag; a refusal becomes the error. */
function written(c: Context<AppEnv>, result: WriteResult): z.infer<typeof VersionView> {
  if (!result.ok) throw refusalError(result.refusal);
  forgetLiveGatewayConfig(c.env);
  c.header("ETag", etag(result.version.version));
  return versionView(result.version);
}

const author = (c: Context<AppEnv>, reason: string) => ({ author: principalOf(c).userId, reason, at: Date.now() });

const writeResponses = {
  200: jsonContent(VersionView, "The new version; its number is the new ETag"),
  ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429),
  412: jsonContent(z.object({}).passthrough(), "The configuration changed since the ETag sent: read it again"),
  428: jsonContent(z.object({}).passthrough(), "If-Match is missing"),
};

adminConfig.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/config",
    tags: ["admin"],
    summary: "Every configuration key's effective value at a scope, with the version as ETag (admins only)",
    security,
    middleware: [requirePermission("admin:all")] as const,
    request: { query: ScopeQuery },
    responses: { 200: jsonContent(ConfigView, "The configuration"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => {
    const { scope } = c.req.valid("query");
    validScope(scope);
    const snap = await store(c.env).snapshot();
    c.header("ETag", etag(snap.version));
    const body: z.infer<typeof ConfigView> = {
      version: snap.version,
      scope,
      values: effectiveAll(snap.overrides, snap.defaults, scope),
      overrides: snap.overrides,
      defaults: snap.defaults,
      keys: CONFIG_KEY_NAMES.map((key) => ({ key, scopes: [...CONFIG_KEYS[key].scopes], description: CONFIG_KEYS[key].description })),
    };
    return c.json(body, 200);
  },
);

// Before /{key}: "history" is not a key.
adminConfig.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/config/history",
    tags: ["admin"],
    summary: "Configuration versions, newest first, with each change's diff (admins only)",
    description: "Filtered to one key with `key`; the next page with `before` = `next_before`.",
    security,
    middleware: [requirePermission("admin:all")] as const,
    request: { query: HistoryQuery },
    responses: { 200: jsonContent(HistoryView, "A page of versions"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { key, before, limit } = c.req.valid("query");
    if (key !== undefined) knownKey(key);
    const versions = await store(c.env).history(key ?? null, before ?? null, limit + 1);
    const { page, next } = keysetPage(versions, limit, (v) => v.version);
    const body: z.infer<typeof HistoryView> = { versions: page.map(versionView), next_before: next };
    return c.json(body, 200);
  },
);

adminConfig.openapi(
  createRoute({
    method: "post",
    path: "/api/admin/config/rollback",
    tags: ["admin"],
    summary: "Put every override back as it stood after a version, as a new version (admins only)",
    description: "Version 0 is the vars' defaults, before any change. Needs If-Match.",
    security,
    middleware: [requirePermission("admin:all")] as const,
    request: { headers: IfMatch, body: jsonBody(RollbackRequest) },
    responses: writeResponses,
  }),
  async (c) => {
    const { version, reason } = c.req.valid("json");
    const result = await store(c.env).rollback(version, ifMatch(c), author(c, reason));
    return c.json(written(c, result), 200);
  },
);

adminConfig.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/config/{key}",
    tags: ["admin"],
    summary: "One key's effective value at a scope, its override there and its default (admins only)",
    security,
    middleware: [requirePermission("admin:all")] as const,
    request: { params: KeyParam, query: ScopeQuery },
    responses: { 200: jsonContent(KeyView, "The key"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { key } = c.req.valid("param");
    const { scope } = c.req.valid("query");
    knownKey(key);
    validScope(scope);
    const snap = await store(c.env).snapshot();
    c.header("ETag", etag(snap.version));
    const override = snap.overrides.find((o) => o.key === key && o.scope === scope)?.value ?? null;
    const body: z.infer<typeof KeyView> = { version: snap.version, key, scope, value: effective(snap.overrides, snap.defaults, key, scope), override, default: snap.defaults[key] };
    return c.json(body, 200);
  },
);

for (const method of ["put", "patch"] as const) {
  adminConfig.openapi(
    createRoute({
      method,
      path: "/api/admin/config/{key}",
      tags: ["admin"],
      summary:
        method === "put"
          ? "Set a key's override at a scope (its fields over the scopes below it), as a new version (admins only)"
          : "Change some fields of a key's override at a scope, as a new version (admins only)",
      description: "Needs If-Match with the ETag read; a value that fails the key's schema is a 422 naming each field (value.<field>).",
      security,
      middleware: [requirePermission("admin:all")] as const,
      request: { params: KeyParam, headers: IfMatch, body: jsonBody(WriteRequest) },
      responses: writeResponses,
    }),
    async (c) => {
      const { key } = c.req.valid("param");
      const { scope, value, reason } = c.req.valid("json");
      knownKey(key);
      await existingScope(c.env, scope);
      const based = ifMatch(c);
      const config = store(c.env);
      // A patch merges into the override as the ETag's version had it; if it changed since, the write is refused anyway.
      const merged = method === "patch" ? { ...(await config.snapshot()).overrides.find((o) => o.key === key && o.scope === scope)?.value, ...value } : value;
      const result = await config.set(key, scope, merged, based, author(c, reason));
      return c.json(written(c, result), 200);
    },
  );
}

adminConfig.openapi(
  createRoute({
    method: "delete",
    path: "/api/admin/config/{key}",
    tags: ["admin"],
    summary: "Remove a key's override at a scope (it inherits again), as a new version (admins only)",
    security,
    middleware: [requirePermission("admin:all")] as const,
    request: { params: KeyParam, query: DeleteQuery, headers: IfMatch },
    responses: writeResponses,
  }),
  async (c) => {
    const { key } = c.req.valid("param");
    const { scope, reason } = c.req.valid("query");
    knownKey(key);
    validScope(scope);
    const result = await store(c.env).remove(key, scope, ifMatch(c), author(c, reason));
    return c.json(written(c, result), 200);
  },
);
