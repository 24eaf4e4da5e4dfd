import { z } from "zod";
import type { $ZodRawIssue } from "zod/v4/core";

// What a schema says when it refuses a value and its own definition gave no message: in the
// words the rest of the API uses ("must be at least 1", "is required"), after the field's
// path, rather than zod's ("Too small: expected number to be >=1", "Invalid input: expected
// number, received undefined"). A message a schema sets itself still wins. Imported for its
// effect by every entry that parses (the Worker, the backtest command, the tests' setup), so
// each says the same; `zodMessage` is the rule itself, for tests.

type RawIssue = $ZodRawIssue;

/** A JSON value's kind in words: what the client sent. */
function kindOf(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "an array";
  switch (typeof input) {
    case "string":
      return "a string";
    case "number":
      return Number.isFinite(input) ? `the number ${input}` : String(input);
    case "boolean":
      return input ? "true" : "false";
    case "object":
      return "an object";
    default:
      return typeof input;
  }
}

const EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  array: "an array",
  object: "an object",
  record: "an object",
  map: "an object",
  tuple: "an array",
  set: "an array",
  bigint: "a whole number",
  null: "null",
  date: "a date",
};

const FORMATS: Record<string, string> = {
  email: "an email address",
  url: "a URL",
  uuid: "a UUID",
  guid: "a UUID",
  datetime: "an RFC 3339 time such as 2024-01-02T15:04:05Z",
  date: "a date such as 2024-01-02",
  time: "a time of day such as 15:04:05",
  duration: "an ISO 8601 duration",
  ipv4: "an IPv4 address",
  ipv6: "an IPv6 address",
  base64: "base64 text",
  base64url: "base64url text",
  jwt: "a JWT",
};

const UNITS: Record<string, [string, string]> = { string: ["character", "characters"], array: ["item", "items"], set: ["item", "items"], map: ["entry", "entries"], file: ["byte", "bytes"] };
const counted = (n: number | bigint, origin: string): string => {
  const [one, many] = UNITS[origin] ?? ["", ""];
  return one ? `${n} ${Number(n) === 1 ? one : many}` : `${n}`;
};
/** A text's length is said as the schemas that set their own words say it ("must be at most 64 characters"); a list's count with "have". */
const lengthVerb = (origin: string): string => (origin === "string" ? "must be" : "must have");
const listed = (values: readonly unknown[]): string => values.map((v) => (typeof v === "string" ? v : JSON.stringify(v) ?? String(v))).join(", ");

/**
 * One problem per field: the first zod found. zod goes on checking a value of the wrong type
 * (scopes "read" was "must be an array, not a string" and also "must have at most 3
 * characters") and an empty one ("is required" and "must contain a visible character"); the
 * first is the one that says what to fix (found in QA).
 */
export function firstPerPath<T extends { path: string }>(problems: readonly T[]): T[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.path) && seen.add(p.path));
}

/** The message for a refusal whose schema set none; undefined leaves zod's. */
export function zodMessage(issue: RawIssue): string | undefined {
  // A field left out: of a type, a choice (an enum or literal) or one of several forms.
  if (issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value" || issue.code === "invalid_union")) return "is required";
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      return `must be ${expected}, not ${kindOf(issue.input)}`;
    }
    case "invalid_value":
      return issue.values.length === 1 ? `must be ${listed(issue.values)}` : `must be one of ${listed(issue.values)}`;
    case "too_small": {
      const origin = issue.origin ?? "";
      if (UNITS[origin]) {
        if (origin === "string" && Number(issue.minimum) === 1 && !issue.exact) return "must not be empty";
        return `${lengthVerb(origin)} ${issue.exact ? "exactly" : "at least"} ${counted(issue.minimum, origin)}`;
      }
      return issue.inclusive ? `must be at least ${issue.minimum}` : `must be more than ${issue.minimum}`;
    }
    case "too_big": {
      const origin = issue.origin ?? "";
      if (UNITS[origin]) return `${lengthVerb(origin)} ${issue.exact ? "exactly" : "at most"} ${counted(issue.maximum, origin)}`;
      return issue.inclusive ? `must be at most ${issue.maximum}` : `must be less than ${issue.maximum}`;
    }
    case "invalid_format": {
      if (issue.format === "starts_with" && "prefix" in issue) return `must start with "${String(issue.prefix)}"`;
      if (issue.format === "ends_with" && "suffix" in issue) return `must end with "${String(issue.suffix)}"`;
      if (issue.format === "includes" && "includes" in issue) return `must contain "${String(issue.includes)}"`;
      const format = FORMATS[issue.format];
      return format ? `must be ${format}` : "is not in the accepted format";
    }
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length === 1 ? "" : "s"} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_union":
      return "matches none of the accepted forms";
    case "invalid_key":
      return "has a key that is not accepted";
    case "invalid_element":
      return "has a value that is not accepted";
    default:
      return undefined;
  }
}

z.config({ customError: zodMessage });
