import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { methodNotAllowed } from "hono/method-not-allowed";
import { ApiError, unauthorized } from "../shared/errors";
import type { AppEnv } from "./context";
import { gatewayConfig } from "./lib/config";
import { authenticate } from "./middleware/authenticate";
import { errorResponse, onError, validationHook } from "./middleware/errors";
import { admission } from "./middleware/admission";
import { requestContext } from "./middleware/request-context";
import { startFeedsOnce } from "./lib/feeds";
import { admin } from "./routes/admin";
import { deadEvents } from "./routes/dead-events";
import { adminConfig } from "./routes/admin-config";
import { assets, IMPORT_PATH } from "./routes/assets";
import { auth } from "./routes/auth";
import { BACKTEST_CSV_MAX_BYTES, BACKTEST_CSV_PATH, BACKTEST_OPTIMIZE_PATH, BACKTEST_RUN_PATH, backtests } from "./routes/backtests";
import { keys } from "./routes/keys";
import { sessions } from "./routes/sessions";
import { marketData } from "./routes/market-data";
import { notifications } from "./routes/notifications";
import { streams } from "./routes/streams";
import { strategies } from "./routes/strategies";
import { strategyRuns } from "./routes/strategy-runs";
import { account } from "./routes/account";
import { orders } from "./routes/orders";
import { positions } from "./routes/positions";
import { tradeStream } from "./routes/trade-stream";
import { metrics } from "./routes/metrics";
import { system } from "./routes/system";
import { users } from "./routes/users";
import { venueAdmin } from "./routes/venue-admin";
import { watchlists } from "./routes/watchlists";
import { portfolio } from "./routes/portfolio";
import { webhooks } from "./routes/webhooks";

// ETag and If-Match: the run-time configuration's writes are conditional (docs/config.md).
const EXPOSED_HEADERS = ["X-Request-ID", "traceparent", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "ETag", "Link"];
const UNLIMITED = new Set(["/health", "/ready"]);

// Built once; the allowed origins come from the request's environment (they differ per
// deployment), which the origin callback reads through the context.
const corsFromConfig = cors({
  origin: (origin, c: Context<AppEnv>) => (gatewayConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
  allowHeaders: ["Content-Type", "Authorization", "APCA-API-KEY-ID", "APCA-API-SECRET-KEY", "traceparent", "X-Request-ID", "If-Match", "X-RedFire-Session"],
  exposeHeaders: EXPOSED_HEADERS,
  maxAge: 600,
});

// History imports are CSV files of up to 100,000 rows; every other body is small JSON. A
// backtest's CSV upload streams into its job and its route counts the bytes itself: Hono's
// bodyLimit reads a body without Content-Length into memory to count it.
const IMPORT_MAX_BYTES = 16 * 1024 * 1024;
const isImport = (path: string) => IMPORT_PATH.test(path) || path === BACKTEST_CSV_PATH;
// A backtest or an optimization may carry up to MAX_POSTED_BARS bars in its JSON body, about
// 90 bytes each as the app sends them (up to about 200 with long decimals): 64 KiB held
// about 700, and the app's 1,000-bar optimization was refused 413 (found in QA).
const POSTED_BARS_MAX_BYTES = 256 * 1024;
const carriesBars = (path: string) => path === BACKTEST_RUN_PATH || path === BACKTEST_OPTIMIZE_PATH;

// wrangler dev's proxy keeps its connections to the runtime: answered while the request's
// body was still coming in (a 413 on a chunked body, a 401 before the body was looked at),
// the connection was left broken, and the next request on it, another client's, got a 503
// or hung (found in QA). So a body is read to its end before the answer goes, up to
// DRAIN_MAX_BYTES, the largest body any route takes (a backtest's CSV: a 10 MB upload
// refused for its query, at 8 MiB, still broke the connection, found in QA); one longer than
// that is cancelled. Deployed, this costs a refused request the reading of what its client
// sends anyway.
const DRAIN_MAX_BYTES = BACKTEST_CSV_MAX_BYTES;

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, read = 0): Promise<void> {
  try {
    for (let bytes = read; bytes <= DRAIN_MAX_BYTES; ) {
      const { done, value } = await reader.read();
      if (done) return;
      bytes += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
}

const drainUnread = createMiddleware<AppEnv>(async (c, next) => {
  const body = c.req.raw.body;
  await next();
  if (body && !body.locked) await drain(body.getReader());
});

/**
 * The body's bytes if it has at most `max`, else null (read to its end first, see drain).
 * As Hono's bodyLimit, whose reader stops at the limit and leaves the rest unread.
 */
async function boundedBody(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const pieces: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read().catch(() => Promise.reject(unreadableBody()));
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await drain(reader, size);
      return null;
    }
    pieces.push(value);
  }
  return new Uint8Array(await new Blob(pieces).arrayBuffer());
}

const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  const body = c.req.raw.body;
  if (c.req.path === BACKTEST_CSV_PATH || !body) return next();
  const configured = gatewayConfig(c.env).maxBodyBytes;
  const max = isImport(c.req.path) ? IMPORT_MAX_BYTES : carriesBars(c.req.path) ? Math.max(configured, POSTED_BARS_MAX_BYTES) : configured;
  const tooLarge = new ApiError(413, "request body is too large");
  const length = c.req.header("content-length");
  if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
    if (Number.parseInt(length, 10) > max) throw tooLarge;
    return next();
  }
  // No length given (chunked): counted as it is read.
  const bytes = await boundedBody(body, max);
  if (bytes === null) throw tooLarge;
  c.req.raw = new Request(c.req.raw, { body: bytes });
  await next();
});

// Bodies are JSON everywhere (CSV for history imports); anything else is refused before
// a validator would report it as missing fields. The Alpaca-compatible API (/v2/*) takes a
// JSON body whatever its Content-Type, because clients in the field send none (Alpaca's Go
// SDK) or text/plain: it is handed on labelled as JSON, and the route's validator refuses it
// (400) if it does not parse, after the route's permission check.
const JSON_TYPE = /^application\/([a-z.+-]*\+)?json\s*(;|$)/i;
const CSV_TYPE = /^text\/csv\s*(;|$)/i;
const isAlpacaApi = (path: string) => path.startsWith("/v2/");
const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);

// Every route with a body but sign-up, sign-in and the session's refresh and logout needs a
// caller: one without is told so (401) before anything about its body, as the routes
// themselves would, rather than 415 for a body it could not have sent anyway.
const isPublicBody = (path: string) => path.startsWith("/api/auth/");
const wrongType = (c: Context<AppEnv>, expected: string): ApiError => {
  if (!c.get("principal") && !isPublicBody(c.req.path)) return unauthorized(c.get("authFailure") ?? "request is not authorized");
  return new ApiError(415, `Content-Type must be ${expected}`);
};

const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  if (!WITH_BODY.has(c.req.method)) return next();
  const hasBody = c.req.header("content-length") !== undefined ? c.req.header("content-length") !== "0" : c.req.header("transfer-encoding") !== undefined;
  const type = c.req.header("content-type") ?? "";
  if (isImport(c.req.path)) {
    if (hasBody && !CSV_TYPE.test(type)) throw wrongType(c, "text/csv");
    return next();
  }
  if (JSON_TYPE.test(type)) return next();
  if (isAlpacaApi(c.req.path)) {
    await treatBodyAsJson(c);
    return next();
  }
  if (hasBody) throw wrongType(c, "application/json");
  await next();
});

/**
 * The request's body, or 400 when it cannot be read: the client ended the connection before
 * sending all it announced (found in QA: a body shorter than its Content-Length was an
 * unhandled error, logged as a 500, once the client gave up).
 */
async function bodyBytes(c: Context<AppEnv>): Promise<ArrayBuffer> {
  return c.req.arrayBuffer().catch(() => Promise.reject(unreadableBody()));
}

/** A body the client stopped sending (either reader above): its fault, not a 500. */
const unreadableBody = () => new ApiError(400, "request body could not be read: the connection ended before the body did");

/**
 * Reads a body that came without a JSON Content-Type and hands it on labelled as JSON, so the
 * routes' validators (which read only JSON-typed bodies) check it instead of seeing no body
 * at all; an empty body is handed on as none.
 */
async function treatBodyAsJson(c: Context<AppEnv>): Promise<void> {
  // Bytes decoded as UTF-8, as text() would, without workerd's warning that a body of
  // another declared type may not be text (it is read here to see whether it is JSON).
  const text = new TextDecoder().decode(await bodyBytes(c));
  const headers = new Headers(c.req.raw.headers);
  // The body is handed on re-encoded, so its old framing headers no longer describe it.
  headers.delete("content-length");
  headers.delete("transfer-encoding");
  if (text.trim() === "") {
    // Bytes, not "": a string body would bring back a text/plain Content-Type.
    headers.delete("content-type");
    c.req.raw = new Request(c.req.raw, { headers, body: new Uint8Array(0) });
    return;
  }
  // Handed on as JSON even when it does not parse: the route's validator refuses it (400)
  // after the route's permission check, so a caller without the permission hears 403 for
  // any body, as for a JSON-typed one.
  headers.set("content-type", "application/json");
  c.req.raw = new Request(c.req.raw, { headers, body: text });
}

const startFeeds = createMiddleware<AppEnv>(async (c, next) => {
  startFeedsOnce(c.env, c.executionCtx);
  await next();
});

const skipFor = (paths: Set<string>, mw: ReturnType<typeof createMiddleware<AppEnv>>) =>
  createMiddleware<AppEnv>((c, next) => (paths.has(c.req.path) ? next() : mw(c, next)));

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  // A known path with a wrong method answers 405 with Allow (in the error envelope)
  // instead of the 404 the router would give.
  const wrongMethod = methodNotAllowed<AppEnv>({
    app,
    onMethodNotAllowed: (c, methods) => {
      c.header("Allow", methods.join(", "));
      return errorResponse(c, new ApiError(405, `method ${c.req.method} is not allowed here; use ${methods.join(", ")}`));
    },
  });
  // Rate limits before the body checks: a request refused for its body (413, 415, malformed
  // JSON) is counted and answered with the limit's headers like any other.
  app.use("*", requestContext, drainUnread, wrongMethod, startFeeds, corsFromConfig, authenticate, skipFor(UNLIMITED, admission), limitBody, requireJson);

  app.route("/", system);
  app.route("/", metrics);
  app.route("/", auth);
  app.route("/", users);
  app.route("/", keys);
  app.route("/", sessions);
  app.route("/", admin);
  app.route("/", deadEvents);
  app.route("/", adminConfig);
  app.route("/", venueAdmin);
  app.route("/", assets);
  app.route("/", marketData);
  app.route("/", streams);
  app.route("/", account);
  app.route("/", orders);
  app.route("/", positions);
  app.route("/", watchlists);
  app.route("/", portfolio);
  app.route("/", tradeStream);
  app.route("/", strategies);
  app.route("/", strategyRuns);
  app.route("/", backtests);
  app.route("/", notifications);
  app.route("/", webhooks);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyId", { type: "apiKey", in: "header", name: "APCA-API-KEY-ID" });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiSecret", { type: "apiKey", in: "header", name: "APCA-API-SECRET-KEY" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "RedFire API",
      version: "0.1.0",
      description: "Quantitative trading on Cloudflare's edge. Errors use one envelope: {code, message, details, request_id}.",
    },
  });

  app.notFound((c) => errorResponse(c, new ApiError(404, `no route for ${c.req.method} ${c.req.path}`, [], 10000)));
  return app;
}
