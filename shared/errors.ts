// Every failure a client can cause is one of these; the gateway maps them once to the
// error envelope. The 8-digit code is Alpaca's convention: HTTP status × 100000 + n.
export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 412 | 413 | 415 | 422 | 426 | 428 | 429 | 500 | 503,
    message: string,
    readonly details: FieldError[] = [],
    readonly suffix = 10000,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  get code(): number {
    return this.status * 100000 + this.suffix;
  }
}

export const badRequest = (message: string) => new ApiError(400, message, [], 10001);
export const unauthorized = (message = "request is not authorized") => new ApiError(401, message, [], 10000);
export const forbidden = (message = "forbidden.") => new ApiError(403, message, [], 10000);
/**
 * A caller without the route's permission: Alpaca's own words ("forbidden."), which clients
 * match exactly (ccxt maps them to PermissionDenied; any other 403 text it reads as
 * ExchangeNotAvailable, a network error a bot retries forever), and the permission named
 * in the details.
 */
export const permissionDenied = (permission: string) => new ApiError(403, "forbidden.", [{ path: "permission", message: `requires permission ${permission}` }], 10000);
export const notFound = (message = "not found") => new ApiError(404, message, [], 10000);
export const conflict = (message: string, details: FieldError[] = []) => new ApiError(409, message, details, 10000);
export const unprocessable = (message: string, details: FieldError[] = []) =>
  new ApiError(422, message, details, 10000);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, message, [], 10000, { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) });
