import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/errors";
import { errorResponses, jsonContent } from "../../shared/schemas/common";
import type { AppEnv } from "../context";
import { signingKeys } from "../../platform/signing-keys";

export const system = new OpenAPIHono<AppEnv>();

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["system"],
  summary: "Liveness: the Worker answers",
  responses: { 200: jsonContent(z.object({ status: z.literal("ok"), environment: z.string() }), "Alive") },
});
system.openapi(health, (c) => c.json({ status: "ok" as const, environment: c.env.ENVIRONMENT }, 200));

const ready = createRoute({
  method: "get",
  path: "/ready",
  tags: ["system"],
  summary: "Readiness: D1 answers a query, and the signing keys load",
  responses: {
    200: jsonContent(z.object({ status: z.literal("ready"), checks: z.object({ d1: z.literal("ok"), signing_keys: z.literal("ok") }) }), "Ready"),
    ...errorResponses(503),
  },
});
system.openapi(ready, async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch {
    throw new ApiError(503, "not ready: D1 did not answer", [{ path: "checks.d1", message: "unavailable" }]);
  }
  // No token can be issued or checked without them: not ready, saying why (found in QA: ready with "[]").
  try {
    await signingKeys(c.env.JWT_SIGNING_KEYS);
  } catch (error) {
    throw new ApiError(503, `not ready: ${error instanceof Error ? error.message : String(error)}`, [{ path: "checks.signing_keys", message: "unusable" }]);
  }
  return c.json({ status: "ready" as const, checks: { d1: "ok" as const, signing_keys: "ok" as const } }, 200);
});

const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["system"],
  summary: "Public keys that verify RedFire access tokens",
  responses: {
    200: jsonContent(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), "JSON Web Key Set"),
  },
});
system.openapi(jwks, async (c) => {
  c.header("Cache-Control", "public, max-age=300");
  return c.json((await signingKeys(c.env.JWT_SIGNING_KEYS)).jwks, 200);
});

export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>RedFire API</title><link rel="stylesheet" href="/swagger-ui/swagger-ui.css"></head>
<body><div id="docs"></div><script src="/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/swagger-ui/init.js"></script></body></html>`;
// The docs page is made by the Worker, so the static assets' _headers do not reach it.
// Swagger UI sets inline styles and shows data: images; it runs no inline script.
const DOCS_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
system.get("/docs", (c) => {
  c.header("Content-Security-Policy", DOCS_POLICY);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "same-origin");
  return c.html(DOCS_HTML);
});
