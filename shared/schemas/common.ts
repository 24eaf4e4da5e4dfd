import { z } from "@hono/zod-openapi";

export const ErrorEnvelope = z
  .object({
    code: z.number().int().openapi({ example: 42210000, description: "HTTP status × 100000 + n (Alpaca's convention)" }),
    message: z.string().openapi({ example: "request body is invalid" }),
    details: z.array(
      z.object({
        path: z.string().openapi({ example: "password" }),
        message: z.string(),
        rule: z.string().optional(),
      }),
    ),
    request_id: z.string(),
  })
  .openapi("Error");

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: STATUS_TEXT[s] ?? "error", content: { "application/json": { schema: ErrorEnvelope } } }]),
  );

const STATUS_TEXT: Record<number, string> = {
  400: "Malformed request (e.g. invalid JSON)",
  401: "Missing or invalid credentials",
  403: "Authenticated but not permitted",
  404: "Not found",
  409: "Conflict with existing state",
  413: "Request body too large",
  415: "Content-Type must be application/json",
  422: "Validation failed; details name the fields",
  429: "Rate limited; see Retry-After",
  503: "A dependency is unavailable",
};

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

type Security = Record<string, string[]>[];
/** Routes a signed-in session or an API key may call. */
export const SESSION_OR_KEY: Security = [{ bearerAuth: [] }, { apiKeyId: [], apiSecret: [] }];
/** Routes that manage credentials: a signed-in session only. */
export const SESSION_ONLY: Security = [{ bearerAuth: [] }];

/**
 * A whole-number query parameter between min and max, whose refusal says which of the three
 * it broke ("limit must be at most 500", not "must be a number" for every mistake).
 */
export const wholeParam = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    // Digits only: a number's other spellings ("1e2", "0x10", "5.0") are not a count a client means.
    .regex(/^-?\d+$/, { error: `${name} must be a whole number` })
    .transform(Number)
    // One refusal for an out-of-range count however long its digits (an int check beside
    // the bound answered twice for 99999999999999999999).
    .pipe(z.number().min(min, { error: `${name} must be at least ${min}` }).max(max, { error: `${name} must be at most ${max}` }))
    .openapi({ type: "integer", minimum: min, maximum: max });

/**
 * A boolean query parameter, read as Alpaca's servers read one: `true`/`false` in any case
 * and `1`/`0` (alpaca-py sends a Python bool as `True`), answered as a boolean.
 */
export const booleanParam = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => v === "true" || v === "false" || v === "1" || v === "0", { error: `${name} must be true or false` })
    .transform((v) => v === "true" || v === "1")
    .openapi({ type: "boolean" });

/**
 * Control characters (C0, DEL, C1), the line and paragraph separators, the invisible zero-
 * width space, word joiner and byte-order mark, and the text-direction marks, embeddings,
 * overrides and isolates: a name that carries one can read as another (a right-to-left
 * override turns what follows around; an invisible space makes two names look alike) or
 * break a log line. Names people read are refused with them. The zero-width joiner and
 * non-joiner stay: emoji sequences and several scripts need them.
 */
function hasUnshown(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x61c || c === 0x200b || c === 0x200e || c === 0x200f || c === 0x2028 || c === 0x2029 || (c >= 0x202a && c <= 0x202e) || c === 0x2060 || (c >= 0x2066 && c <= 0x2069) || c === 0xfeff) return true;
    // Noncharacters (U+FDD0–U+FDEF, U+FFFE, U+FFFF): never meant for interchange.
    if ((c >= 0xfdd0 && c <= 0xfdef) || c === 0xfffe || c === 0xffff) return true;
  }
  return false;
}

/** A half of a UTF-16 surrogate pair without its other half: no character at all, and not valid UTF-8 once sent on. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * An order's client_order_id: 1 to 128 characters (Alpaca's limit), none of them control
 * characters, text-direction marks or lone surrogates. It is echoed in order views, trade
 * updates, CSVs and logs, where such characters break lines or hide text (found in QA: a
 * NUL and a lone surrogate were stored and echoed back).
 */
export const clientOrderId = () =>
  z
    .string()
    .min(1)
    .max(128)
    .refine((text) => !shownTextProblem(text), `client_order_id ${SHOWN_TEXT_MESSAGE}`)
    // Spaces alone name nothing a client can find again (found in QA: "  " was taken, "" refused).
    .refine((text) => text.trim().length > 0, "client_order_id must not be blank");

/**
 * Text people read that is not a name (a webhook's description, a message's title or body):
 * none of the unshown characters, nor unpaired surrogates; with `lines`, line breaks and
 * tabs are kept (a message's body has paragraphs). The caller sets its lengths.
 */
export const shownTextProblem = (text: string, lines = false): boolean => hasUnshown(lines ? text.replace(/[\n\t]/g, "") : text) || LONE_SURROGATE.test(text);
// Invisible ones named with an example (found in QA: a zero-width space was refused as a control character).
export const SHOWN_TEXT_MESSAGE = "must not contain control characters, invisible characters (such as a zero-width space), text-direction marks or unpaired surrogates";

/**
 * A name people read (a strategy's, a key's, a display name): trimmed and in Unicode's
 * composed form (NFC), 1 to `max` characters, none of them unshown. Composed, "café" typed
 * with an accented é and with an e and a combining accent is one name, not two that look
 * the same (found in QA: two watchlists of that name).
 */
export const shownName = (max: number) =>
  z
    .string()
    .trim()
    .normalize("NFC")
    .min(1)
    .max(max, `must be at most ${max} characters`)
    // An unpaired surrogate was taken and stored as three U+FFFD (found in QA): refused.
    .refine((text) => !shownTextProblem(text), SHOWN_TEXT_MESSAGE)
    // A name of only blanks that are not spaces (a soft hyphen, a Hangul filler, a braille
    // blank, a lone combining mark) shows as nothing: it names nothing (found in QA).
    .refine((text) => VISIBLE.test(text), "must contain a visible character");

/** A character that shows: not whitespace, not a default-ignorable (soft hyphen, fillers, joiners), not a mark alone, not the braille blank. */
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{M}\u2800]/u;
