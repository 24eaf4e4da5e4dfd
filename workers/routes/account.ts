import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { CALENDAR_FIRST, CALENDAR_LAST, newYorkDay } from "../../shared/calendar";
import { notFound, unprocessable } from "../../shared/errors";
import { errorResponses, jsonBody, jsonContent, SESSION_ONLY, SESSION_OR_KEY } from "../../shared/schemas/common";
import { UserIdParam } from "../../shared/schemas/identity";
import { Account, AccountConfigurations, AccountConfigurationsPatch, Activity, ActivityQueryParams, decimalAmount } from "../../shared/schemas/trading";
import type { ConfigurationView } from "../../shared/trading/configuration";
import type { Outcome } from "../../shared/trading/outcome";
import { parseMoney } from "../../shared/trading/money";
import { RiskLimits } from "../../shared/trading/risk";
import type { AppEnv } from "../context";
import { accountOf, timeRange, tracedAccountOf, unwrap } from "../lib/accounts";
import { log } from "../../platform/log";
import { traced } from "../../platform/trace";
import { database, schema } from "../../platform/db";
import { eq } from "drizzle-orm";
import { principalOf, requirePermission } from "../middleware/authenticate";
import { oneHop } from "../middleware/admission";
import { validationHook } from "../middleware/errors";

// The paper account (docs/alpaca-compat.md §3): balances, activities, reset; and the admin's
// deposits and per-account limits.
export const account = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

const read = requirePermission("trading:read");
/** The activity types RedFire records. */
const ACTIVITY_TYPES = ["FILL", "CSD", "JNLC"];
/**
 * Every type Alpaca's API names: asking for one RedFire never records (dividends, interest,
 * option events…) is a valid question with no answers, not a mistake. An SDK that asks for
 * several at once gets what there is.
 */
const ALPACA_ACTIVITY_TYPES = new Set([
  ...ACTIVITY_TYPES,
  ...["TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA", "INTTW"],
  ...["JNL", "JNLS", "MA", "NC", "OPASN", "OPCA", "OPCSH", "OPEXC", "OPEXP", "OPTRD", "PTC", "PTR", "REORG", "SC", "SSO", "SSP", "CIL", "SPLIT", "VOF", "WH"],
]);

account.openapi(
  createRoute({
    method: "get",
    path: "/v2/account",
    tags: ["account"],
    summary: "The caller's paper account",
    security: SESSION_OR_KEY,
    middleware: [read] as const,
    responses: { 200: jsonContent(Account, "Balances in Alpaca's shape"), ...errorResponses(401, 403, 429) },
  }),
  async (c) => c.json(await oneHop<z.infer<typeof Account>>(c, (account, gate) => account.gated(gate, "account")), 200),
);

account.openapi(
  createRoute({
    method: "get",
    path: "/v2/account/configurations",
    tags: ["account"],
    summary: "The account's configuration (Alpaca's shape)",
    description: "suspend_trade is the trader's switch; the other fields describe a cash paper account (no margin, no shorting, no options, no e-mail).",
    security: SESSION_OR_KEY,
    middleware: [read] as const,
    responses: { 200: jsonContent(AccountConfigurations, "The configuration"), ...errorResponses(401, 403, 429) },
  }),
  async (c) => c.json(await oneHop<ConfigurationView>(c, (account, gate) => account.gated(gate, "configuration")), 200),
);

account.openapi(
  createRoute({
    method: "patch",
    path: "/v2/account/configurations",
    tags: ["account"],
    summary: "Suspend or resume new orders (suspend_trade)",
    description: "suspend_trade true refuses every new order (403 trading_blocked) until it is set back to false; cancels still go and open orders stay. The other fields may be sent with the account's own values (SDKs send back what they read); another value is refused (422, naming the field and why).",
    security: SESSION_OR_KEY,
    middleware: [requirePermission("trading:write")] as const,
    request: { body: jsonBody(AccountConfigurationsPatch) },
    responses: { 200: jsonContent(AccountConfigurations, "The configuration as it now stands"), ...errorResponses(400, 401, 403, 413, 422, 429) },
  }),
  async (c) => {
    const body = c.req.valid("json");
    return c.json(unwrap(await oneHop<Outcome<ConfigurationView>>(c, (account, gate) => account.gated(gate, "configure", body))), 200);
  },
);

function positiveAmount(value: string | number, path: string): string {
  const amount = parseMoney(typeof value === "number" ? String(value) : value);
  if (amount === undefined || amount <= 0n || amount % 10n ** 16n !== 0n || amount > 10n ** 12n * 10n ** 18n)
    throw unprocessable(`${path} must be a positive amount in USD with at most two decimals, up to 1,000,000,000,000`, [{ path, message: "invalid amount" }]);
  return amount.toString();
}

async function listActivities(c: Parameters<Parameters<typeof account.openapi>[1]>[0], pathType: string | undefined) {
  const q = ActivityQueryParams.parse(c.req.query());
  const raw = pathType ?? q.activity_types;
  if (raw !== undefined && q.category !== undefined)
    throw unprocessable("category cannot be combined with activity_types", [{ path: "category", message: "give category or activity_types, not both" }]);
  const asked = raw ? [...new Set(raw.split(",").map((t) => t.trim().toUpperCase()).filter(Boolean))] : null;
  const unknown = asked?.filter((t) => !ALPACA_ACTIVITY_TYPES.has(t)) ?? [];
  if (unknown.length > 0) throw unprocessable(`unknown activity type ${unknown.join(", ")}; RedFire records ${ACTIVITY_TYPES.join(", ")}`, [{ path: "activity_types", message: "unknown type" }]);
  // TRANS is Alpaca's name for cash transactions, deposits (CSD) and withdrawals (CSW) both
  // (found in QA: it answered nothing beside a deposit).
  const types =
    q.category === "trade_activity" ? ["FILL"]
    : q.category === "non_trade_activity" ? ACTIVITY_TYPES.filter((t) => t !== "FILL")
    : asked && asked.includes("TRANS") ? [...new Set([...asked, "CSD", "CSW"])]
    : asked;
  let { after, until } = timeRange(q.after, q.until);
  if (q.date !== undefined) {
    // A day of the account's: the New York date, from its midnight to the next (23 to 25
    // hours), as the activities' `date` reads; it was the UTC day.
    if (after !== null || until !== null) throw unprocessable("date cannot be combined with after or until", [{ path: "date", message: "give date alone, or after and until" }]);
    const day = newYorkDay(q.date);
    if (!day) throw unprocessable(`date must be a date, YYYY-MM-DD, from ${CALENDAR_FIRST} to ${CALENDAR_LAST}`, [{ path: "date", message: "not a YYYY-MM-DD date in range" }]);
    after = day.start - 1;
    until = day.end;
  }
  return tracedAccountOf(c.env, principalOf(c).userId, c.get("traceparent")).activities({ types, after, until, direction: q.direction, pageSize: q.page_size, pageToken: q.page_token ?? null });
}

account.openapi(
  createRoute({
    method: "get",
    path: "/v2/account/activities",
    tags: ["account"],
    summary: "Fills and cash activities, newest first; page with page_token (the last id seen)",
    security: SESSION_OR_KEY,
    middleware: [read] as const,
    request: { query: ActivityQueryParams },
    responses: { 200: jsonContent(z.array(Activity), "Activities"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => c.json(await listActivities(c, undefined), 200),
);

account.openapi(
  createRoute({
    method: "get",
    path: "/v2/account/activities/{activity_type}",
    tags: ["account"],
    summary: "Activities of one type (FILL, CSD, JNLC)",
    security: SESSION_OR_KEY,
    middleware: [read] as const,
    request: { params: z.object({ activity_type: z.string().min(1).max(16) }), query: ActivityQueryParams },
    responses: { 200: jsonContent(z.array(Activity), "Activities"), ...errorResponses(401, 403, 422, 429) },
  }),
  async (c) => c.json(await listActivities(c, c.req.valid("param").activity_type), 200),
);

account.openapi(
  createRoute({
    method: "post",
    path: "/api/account/reset",
    tags: ["account"],
    summary: "Start the paper account over: cancels open orders, drops positions, sets cash (default: the starting cash)",
    security: SESSION_ONLY,
    middleware: [requirePermission("trading:write", { sessionOnly: true })] as const,
    request: { body: jsonBody(z.object({ cash: decimalAmount("cash").optional() }).strict().openapi("ResetRequest")) },
    responses: { 200: jsonContent(z.object({ cash: z.string() }), "The new cash"), ...errorResponses(401, 403, 409, 415, 422, 429) },
  }),
  async (c) => {
    const { cash } = c.req.valid("json");
    const amount = cash === undefined ? (parseMoney(c.env.STARTING_CASH) ?? 0n).toString() : positiveAmount(cash, "cash");
    return c.json(unwrap(await accountOf(c.env, principalOf(c).userId).reset(amount, c.get("traceparent"))), 200);
  },
);

const admin = requirePermission("admin:all");

/**
 * An admin's deposit, strict like the other admin bodies: a field it does not know is refused
 * by name, not ignored. The amount is a decimal string only: a JSON number is a binary double
 * once parsed, which may not be the amount the admin wrote (numbers were taken; QA).
 */
const DepositRequest = z
  .object({ amount: decimalAmount("amount") })
  .strict()
  .openapi("DepositRequest");

async function existingUser(env: Env, userId: string): Promise<void> {
  const user = await database(env).select({ id: schema.users.id }).from(schema.users).where(eq(schema.users.id, userId)).get();
  if (!user) throw notFound("user not found");
}

account.openapi(
  createRoute({
    method: "get",
    path: "/api/admin/accounts/{user_id}",
    tags: ["admin"],
    summary: "A user's paper account",
    security: SESSION_OR_KEY,
    middleware: [admin] as const,
    request: { params: UserIdParam },
    responses: { 200: jsonContent(Account, "The account"), ...errorResponses(401, 403, 404, 422, 429) },
  }),
  async (c) => {
    const { user_id } = c.req.valid("param");
    await existingUser(c.env, user_id);
    // A client-side span: the account's own read takes the traceparent for its price calls but logs no span of its own.
    return c.json(await traced(log, "call.account.account", c.get("traceparent"), (span) => accountOf(c.env, user_id).account(span.traceparent), () => ({ account: user_id, client: true })), 200);
  },
);

account.openapi(
  createRoute({
    method: "post",
    path: "/api/admin/accounts/{user_id}/deposits",
    tags: ["admin"],
    summary: "Deposit cash into a user's paper account",
    security: SESSION_OR_KEY,
    middleware: [admin] as const,
    request: { params: UserIdParam, body: jsonBody(DepositRequest) },
    responses: { 200: jsonContent(z.object({ cash: z.string() }), "The account's cash after the deposit"), ...errorResponses(401, 403, 404, 415, 422, 429) },
  }),
  async (c) => {
    const { user_id } = c.req.valid("param");
    await existingUser(c.env, user_id);
    return c.json(await accountOf(c.env, user_id).deposit(positiveAmount(c.req.valid("json").amount, "amount"), c.get("traceparent")), 200);
  },
);

account.openapi(
  createRoute({
    method: "patch",
    path: "/api/admin/accounts/{user_id}/limits",
    tags: ["admin"],
    summary: "Override the global risk limits for one account",
    security: SESSION_OR_KEY,
    middleware: [admin] as const,
    request: { params: UserIdParam, body: jsonBody(RiskLimits.partial().strict()) },
    responses: { 200: jsonContent(RiskLimits, "The account's limits now"), ...errorResponses(401, 403, 404, 415, 422, 429) },
  }),
  async (c) => {
    const { user_id } = c.req.valid("param");
    await existingUser(c.env, user_id);
    return c.json(await tracedAccountOf(c.env, user_id, c.get("traceparent")).setLimits(c.req.valid("json")), 200);
  },
);
