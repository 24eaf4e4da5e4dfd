// Instants as clients write them: RFC 3339 with its offset, or a date. One reader for the
// API's time parameters and the CSV import, strict where Date.parse is not: Date.parse
// takes "2026-02-30" as 2 March, and a time with no offset as UTC or as local time
// depending on its form.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Why a text is not an instant. */
export type InstantProblem = "not_rfc3339" | "finer_than_ms" | "no_such_time";

/**
 * Epoch ms of an RFC 3339 date and time that exists (a real day, hours below 24, an offset
 * or Z), or what is wrong with it. Digits past the millisecond are refused with
 * `finer: "refuse"` (a bar's time); a query's bound (clients send microseconds) is rounded
 * to the millisecond at or before it with `"floor"` (an upper bound), at or after it with
 * `"ceil"` (a lower bound), so a bound never takes in a row the exact time leaves out.
 */
export function rfc3339Ms(text: string, finer: "refuse" | "floor" | "ceil"): number | InstantProblem {
  const match = RFC3339.exec(text);
  if (!match) return "not_rfc3339";
  const [, year, month, day, hour, minute, second, fraction = "", zulu, sign, offsetHour = "0", offsetMinute = "0"] = match.map((part) => part ?? "");
  const finerDigits = /[1-9]/.test(fraction.slice(3));
  if (finer === "refuse" && finerDigits) return "finer_than_ms";
  const local = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), Number(fraction.slice(0, 3).padEnd(3, "0")));
  // Date.UTC rolls 2024-02-30 over to March; a date that does not round-trip did not exist.
  const date = new Date(local);
  const fieldsValid =
    date.getUTCFullYear() === Number(year) &&
    date.getUTCMonth() === Number(month) - 1 &&
    date.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60 &&
    Number(offsetHour) < 24 &&
    Number(offsetMinute) < 60;
  if (!fieldsValid) return "no_such_time";
  const offsetMs = zulu ? 0 : (sign === "-" ? -1 : 1) * (Number(offsetHour) * 60 + Number(offsetMinute)) * 60_000;
  return local - offsetMs + (finer === "ceil" && finerDigits ? 1 : 0);
}

/**
 * A query's time bound: RFC 3339 with an offset or a date (YYYY-MM-DD, midnight UTC), as
 * epoch ms, digits past the millisecond rounded down (`round: "floor"`, an upper bound) or
 * up (`"ceil"`, an inclusive lower bound); undefined for anything else, a day that does not
 * exist included.
 */
export function parseInstant(text: string, round: "floor" | "ceil" = "floor"): number | undefined {
  const ms = rfc3339Ms(DATE.test(text) ? `${text}T00:00:00Z` : text, round);
  return typeof ms === "number" ? ms : undefined;
}

/**
 * Whether query bound `a` is after `b`, digits past the millisecond included (each bound is
 * rounded to the millisecond its role needs, so two inside one millisecond can round past
 * each other); undefined unless both are instants parseInstant reads.
 */
export function instantAfter(a: string, b: string): boolean | undefined {
  const [msA, msB] = [parseInstant(a), parseInstant(b)];
  if (msA === undefined || msB === undefined) return undefined;
  if (msA !== msB) return msA > msB;
  // The same millisecond (an offset is whole minutes): the digits past it decide.
  const [finerA, finerB] = [finerDigits(a), finerDigits(b)];
  const width = Math.max(finerA.length, finerB.length);
  return finerA.padEnd(width, "0") > finerB.padEnd(width, "0");
}

/** The fraction's digits past the millisecond ("" for a date, or none). */
const finerDigits = (text: string): string => RFC3339.exec(text)?.[7]?.slice(3) ?? "";
