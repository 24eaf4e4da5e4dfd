import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { ApiError, type FieldError } from "../../shared/errors";
import type { AppEnv } from "../context";
import { log } from "../../platform/log";
import { firstPerPath } from "../../shared/zod-messages";

/** The one error envelope: Alpaca's {code, message} plus field details and the request id. */
export function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(
    { code: error.code, message: error.message, details: error.details, request_id: c.get("requestId") },
    error.status as ContentfulStatusCode,
  );
}

/** What a problem with no field path is about, by where the request carried it. */
const WHOLE: Record<string, string> = { json: "(body)", query: "(query)", param: "(path)" };

export function fieldErrors(error: ZodError, target = "json"): FieldError[] {
  const whole = WHOLE[target] ?? "(body)";
  return firstPerPath(
    error.issues.map((issue) => ({
      path: issue.path.map(String).join(".") || whole,
      message: issue.message,
    })),
  );
}

/**
 * A query parameter given twice (`?limit=5&limit=6`) reaches its schema as an array, which
 * a schema for one value refuses with a message about the value ("not a whole number"):
 * such a parameter's problem is said to be the repetition.
 */
function repeatedParameters(details: FieldError[], result: { target?: string; data?: unknown }): FieldError[] {
  if (result.target !== "query" || typeof result.data !== "object" || result.data === null) return details;
  const given = result.data as Record<string, unknown>;
  const seen = new Set<string>();
  return details.flatMap((d) => {
    if (!Array.isArray(given[d.path])) return [d];
    if (seen.has(d.path)) return [];
    seen.add(d.path);
    return [{ path: d.path, message: "is given more than once; give it once" }];
  });
}

/**
 * A body the schema refuses: the first problem is in the message, as clients show only the
 * message (Alpaca's JS SDK: "request body is invalid" said nothing of an unsupported
 * order_class; compat review); every problem is in the details.
 */
export function invalidBody(details: FieldError[]): ApiError {
  const [first] = details;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  const said = !first ? "" : first.path === "(body)" || first.message.startsWith(first.path) ? `: ${first.message}` : `: ${first.path}: ${first.message}`;
  return new ApiError(422, `request body is invalid${said}${more}`, details, 10000);
}

/** A problem's message after its parameter's name: "limit must be …" reads "must be …" (found in QA: "parameter limit: limit must be …"). */
const withoutName = (problem: FieldError): string => (problem.message.startsWith(`${problem.path} `) ? problem.message.slice(problem.path.length + 1) : problem.message);

/**
 * Hook for every zod-openapi route: a failed validation is a 422 naming the fields. A
 * query or path parameter's message is Alpaca's ("Invalid format for parameter limit: …"),
 * naming the first one: clients show only the message.
 */
export function validationHook(result: { success: boolean; error?: ZodError; target?: string; data?: unknown }): void {
  if (result.success || !result.error) return;
  const details = repeatedParameters(fieldErrors(result.error, result.target), result);
  if (result.target === "json") throw invalidBody(details);
  const [first] = details;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  const what = result.target === "param" ? "path" : "query string";
  // A problem of the whole query (an unknown parameter) names no parameter: it was said to be "(body)" (found in QA).
  const message = !first ? `${what} is invalid` : first.path === WHOLE[result.target ?? ""] ? `Invalid ${what}: ${first.message}${more}` : `Invalid format for parameter ${first.path}: ${withoutName(first)}${more}`;
  throw new ApiError(422, message, details, 10000);
}

export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ApiError) return errorResponse(c, error);
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status === 400) return errorResponse(c, new ApiError(400, "request body is not valid JSON", [], 10001));
    if (status === 413) return errorResponse(c, new ApiError(413, "request body is too large", [], 10000));
    if (status >= 400 && status < 500) return errorResponse(c, new ApiError(status as 400, error.message || "bad request"));
  }
  log("error", "unhandled error", {
    requestId: c.get("requestId"),
    traceId: c.get("traceId"),
    path: c.req.path,
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return errorResponse(c, new ApiError(500, "internal error; quote the request id when reporting it", [], 10000));
}
