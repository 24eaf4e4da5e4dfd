import { ApiError, unprocessable } from "../../shared/errors";
import type { AssetInfo, Outcome } from "../../durable-objects/account";
import { Session } from "../../shared/schemas/assets";
import { findAsset, instrumentSpecOf, type AssetRow } from "./assets";

// The gateway's side of the account objects: one per user, addressed by the user id from
// the credential (never from the URL), and their outcomes turned into the error envelope.

export const accountOf = (env: Env, userId: string) => env.ACCOUNT.getByName(userId);

export function assetInfo(row: AssetRow): AssetInfo {
  return {
    id: row.id,
    spec: instrumentSpecOf(row),
    tradable: row.tradable,
    active: row.status === "active",
    session: row.session === null ? null : Session.parse(JSON.parse(row.session)),
  };
}

export async function tradableAsset(env: Env, symbol: string): Promise<AssetInfo> {
  const row = await findAsset(env, symbol.trim());
  if (!row) throw unprocessable(`Invalid symbol: asset ${symbol} is not found`, [{ path: "symbol", message: "unknown symbol" }]);
  return assetInfo(row);
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { status, message, details, rule } = outcome.problem;
  const headers: Record<string, string> = status === 429 ? { "Retry-After": "60" } : {};
  // A risk rule names itself in every detail, so clients can tell the checks apart.
  const named = rule ? (details.length > 0 ? details : [{ path: "", message }]).map((d) => ({ ...d, rule })) : details;
  throw new ApiError(status, message, named, 10000, headers);
}

/** RFC-3339, a date, or epoch milliseconds (ccxt sends `after` as ms). */
export function instantParam(name: string, value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  const ms = /^\d{10,16}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
  if (Number.isNaN(ms)) throw unprocessable(`Invalid format for parameter ${name}: ${JSON.stringify(value)} is not RFC-3339 or epoch milliseconds`, [{ path: name, message: "not a time" }]);
  return ms;
}
