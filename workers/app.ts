import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { methodNotAllowed } from "hono/method-not-allowed";
import { ApiError } from "../shared/errors";
import type { AppEnv } from "./context";
import { gatewayConfig } from "./lib/config";
import { authenticate } from "./middleware/authenticate";
import { errorResponse, onError, validationHook } from "./middleware/errors";
import { rateLimit } from "./middleware/rate-limit";
import { requestContext } from "./middleware/request-context";
import { startFeedsOnce } from "./lib/feeds";
import { admin } from "./routes/admin";
import { assets, IMPORT_PATH } from "./routes/assets";
import { auth } from "./routes/auth";
import { keys } from "./routes/keys";
import { marketData } from "./routes/market-data";
import { streams } from "./routes/streams";
import { account } from "./routes/account";
import { orders } from "./routes/orders";
import { positions } from "./routes/positions";
import { tradeStream } from "./routes/trade-stream";
import { system } from "./routes/system";
import { users } from "./routes/users";
import { venueAdmin } from "./routes/venue-admin";

const EXPOSED_HEADERS = ["X-Request-ID", "traceparent", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"];
const UNLIMITED = new Set(["/health", "/ready"]);

// Built once; the allowed origins come from the request's environment (they differ per
// deployment), which the origin callback reads through the context.
const corsFromConfig = cors({
  origin: (origin, c: Context<AppEnv>) => (gatewayConfig(c.env).corsOrigins.includes(origin) ? origin : null),
  allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
  allowHeaders: ["Content-Type", "Authorization", "APCA-API-KEY-ID", "APCA-API-SECRET-KEY", "traceparent", "X-Request-ID"],
  exposeHeaders: EXPOSED_HEADERS,
  maxAge: 600,
});

// History imports are CSV files of up to 100,000 rows; every other body is small JSON.
const IMPORT_MAX_BYTES = 16 * 1024 * 1024;
const isImport = (path: string) => IMPORT_PATH.test(path);

const limitBody = createMiddleware<AppEnv>((c, next) =>
  bodyLimit({
    maxSize: isImport(c.req.path) ? IMPORT_MAX_BYTES : gatewayConfig(c.env).maxBodyBytes,
    onError: (c) => errorResponse(c, new ApiError(413, "request body is too large")),
  })(c, next),
);

// Bodies are JSON everywhere (CSV for history imports); anything else is refused before
// a validator would report it as missing fields.
const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  const hasBody = c.req.header("content-length") !== undefined ? c.req.header("content-length") !== "0" : c.req.header("transfer-encoding") !== undefined;
  const type = c.req.header("content-type") ?? "";
  const accepted = isImport(c.req.path) ? /^text\/csv\s*(;|$)/i.test(type) : /^application\/([a-z.+-]*\+)?json\s*(;|$)/i.test(type);
  if (["POST", "PUT", "PATCH"].includes(c.req.method) && hasBody && !accepted)
    throw new ApiError(415, isImport(c.req.path) ? "Content-Type must be text/csv" : "Content-Type must be application/json");
  await next();
});

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
  app.use("*", requestContext, wrongMethod, startFeeds, corsFromConfig, limitBody, requireJson, authenticate, skipFor(UNLIMITED, rateLimit));

  app.route("/", system);
  app.route("/", auth);
  app.route("/", users);
  app.route("/", keys);
  app.route("/", admin);
  app.route("/", venueAdmin);
  app.route("/", assets);
  app.route("/", marketData);
  app.route("/", streams);
  app.route("/", account);
  app.route("/", orders);
  app.route("/", positions);
  app.route("/", tradeStream);

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
