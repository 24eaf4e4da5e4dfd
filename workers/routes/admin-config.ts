import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/errors";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, isConfigKey, scopeKind } from "../../shared/config/keys";
import { CONFIG_STORE } from "../../shared/config/live";
import type { WriteResult } from "../../shared/config/versions";
import { effective, effectiveAll, scopeRefusal, type Refusal, type Version } from "../../shared/config/versions";
import { errorResponses, jsonBody, jsonContent, SESSION_OR_KEY, SHOWN_TEXT_MESSAGE, shownTextProblem, wholeParam } from "../../shared/schemas/common";
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
const IfMatch = z.object({
  "if-match": z.string().optional().openapi({
    description: 'The ETag of the configuration read (e.g. "12"), a list of them ("11", "12": any may be current) or "*" (whatever is current); required. Compared strongly: a weak ETag (W/"12") never matches',
  }),
});
// zod drops a "__proto__" field without a word, so a value of only that was stored as an
// empty override (found in QA: a version with no change): no key has such a field, and it
// is refused before the value is parsed.
const FieldValue = z
  .unknown()
  .refine((value) => typeof value !== "object" || value === null || !Object.hasOwn(value, "__proto__"), 'has a field "__proto__", which no key has')
  .pipe(z.record(z.string(), z.unknown()));

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
// The reason is read in the history by people, as a name is: no unshown characters.
const Reason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((text) => !shownTextProblem(text), SHOWN_TEXT_MESSAGE);
// A body's fields are fixed: one it does not have is refused, not dropped.
const WriteRequest = z.strictObject({ scope: Scope.default("global"), value: FieldValue, reason: Reason }).openapi("ConfigWrite");
const DeleteQuery = z.object({ scope: Scope.default("global"), reason: Reason });
const RollbackRequest = z.strictObject({ version: z.number().int().nonnegative(), reason: Reason }).openapi("ConfigRollback");
const HistoryQuery = z.object({
  key: z.string().optional(),
  before: wholeParam("before", 1, Number.MAX_SAFE_INTEGER).optional(),
  limit: wholeParam("limit", 1, 100).default(20),
});

const store = (env: Env) => env.CONFIG.getByName(CONFIG_STORE);
const etag = (version: number) => `"${version}"`;

/** What If-Match asks for: "*" (any current configuration), or the versions of the strong ETags it lists. */
type Precondition = { any: true } | { any: false; versions: number[]; weak: string[] };

// One member of If-Match's list: an entity-tag, weak (W/"…") or strong ("…"), with the
// commas and spaces around it; empty members (", ,") are allowed, as RFC 9110 §5.6.1 says.
const LIST_MEMBER = /[\s,]*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|$)/y;
// The ETags this API sends: the version, quoted, without leading zeros.
const OUR_TAG = /^(?:0|[1-9]\d{0,14})$/;
const NOT_OURS = 'If-Match must be "*" or ETags of this API, e.g. "12" or "11", "12"';

/**
 * If-Match (RFC 9110 §13.1.1): "*", or a comma-separated list of ETags, which matches when
 * one of them is the current version by the strong comparison; a weak ETag (W/"12") never
 * matches. 428 without one, 400 when it is not "*" or a list of this API's ETags.
 */
function ifMatch(c: Context<AppEnv>): Precondition {
  const header = c.req.header("if-match")?.trim();
  if (!header) throw new ApiError(428, "If-Match is required: send the ETag of the configuration you read", [{ path: "If-Match", message: "required" }], 10000);
  if (header === "*") return { any: true };
  const versions: number[] = [];
  const weak: string[] = [];
  LIST_MEMBER.lastIndex = 0;
  while (LIST_MEMBER.lastIndex < header.length) {
    const from = LIST_MEMBER.lastIndex;
    const member = LIST_MEMBER.exec(header);
    if (!member) {
      // Only separators left ("12",) end the list; anything else is not an entity-tag.
      if (/^[\s,]*$/.test(header.slice(from))) break;
      throw new ApiError(400, NOT_OURS, [{ path: "If-Match", message: `not an ETag: ${header.slice(from).split(",")[0]!.trim()}` }], 10000);
    }
    const [isWeak, opaque] = [member[1], member[2]!];
    const tag = `${isWeak ?? ""}"${opaque}"`;
    if (!OUR_TAG.test(opaque)) throw new ApiError(400, NOT_OURS, [{ path: "If-Match", message: `not an ETag of this API: ${tag}` }], 10000);
    if (isWeak) weak.push(tag);
    else versions.push(Number(opaque));
  }
  if (versions.length === 0 && weak.length === 0) throw new ApiError(400, NOT_OURS, [{ path: "If-Match", message: "no ETag" }], 10000);
  if (versions.length === 0) throw weakOnly(weak);
  return { any: false, versions, weak };
}

function weakOnly(weak: string[]): ApiError {
  return new ApiError(
    412,
    `If-Match uses the strong comparison, which a weak ETag (${weak.join(", ")}) can never pass; send the ETag as read, e.g. "12"`,
    [{ path: "If-Match", message: "weak ETags cannot match" }],
    10000,
  );
}

const ATTEMPTS = 3;

/**
 * Runs a write based on the version If-Match names. With one ETag, the store compares it
 * (412 when stale). With "*" or a list, the write is based on the current version when it
 * is listed (any, for "*"); a write that passed between reading the version and writing is
 * retried while the new version still matches.
 */
async function conditionally(c: Context<AppEnv>, run: (based: number) => Promise<WriteResult>): Promise<WriteResult> {
  const wanted = ifMatch(c);
  if (!wanted.any && wanted.versions.length === 1 && wanted.weak.length === 0) return run(wanted.versions[0]!);
  let result: WriteResult | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = (await store(c.env).snapshot()).version;
    if (!wanted.any && !wanted.versions.includes(current)) {
      const weak = wanted.weak.length > 0 ? ` (weak ETags such as ${wanted.weak[0]} never match)` : "";
      throw new ApiError(412, `configuration is at version ${current}, not ${wanted.versions.join(" or ")}${weak}; read it again and retry`, [], 10000);
    }
    result = await run(current);
    if (result.ok || result.refusal.status !== 412) return result;
  }
  return result!;
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
    await existingScope(c.env, scope);
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
    const result = await conditionally(c, (based) => store(c.env).rollback(version, based, author(c, reason)));
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
    await existingScope(c.env, scope);
    // A key has no value at a scope it cannot be set at: the write's refusal, with its message.
    const wrongScope = scopeRefusal(key, scope);
    if (wrongScope) throw refusalError(wrongScope);
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
      const config = store(c.env);
      const result = await conditionally(c, async (based) => {
        // A patch merges into the override as the ETag's version had it; if it changed since, the write is refused anyway.
        const merged = method === "patch" ? { ...(await config.snapshot()).overrides.find((o) => o.key === key && o.scope === scope)?.value, ...value } : value;
        return config.set(key, scope, merged, based, author(c, reason));
      });
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
    // A scope the key cannot have, or a user who does not exist, is the write's 422, not "no override".
    await existingScope(c.env, scope);
    const wrongScope = scopeRefusal(key, scope);
    if (wrongScope) throw refusalError(wrongScope);
    const result = await conditionally(c, (based) => store(c.env).remove(key, scope, based, author(c, reason)));
    return c.json(written(c, result), 200);
  },
);
