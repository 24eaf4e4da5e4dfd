import { z } from "@hono/zod-openapi";
import { shownName, wholeParam } from "./common";
import { parseTimeframe, STREAM_TIMEFRAMES } from "../market/timeframe";
import { MAX_SOURCE_BYTES } from "../strategy/compile";

// The /api/strategies wire format. A strategy is a template with parameters or code the
// user wrote; every save of new parameters or code is a new numbered version.

export const STRATEGY_KINDS = ["template", "code"] as const;
export const STRATEGY_STATUSES = ["stopped", "running", "errored"] as const;
export const STRATEGY_LANGUAGES = ["js", "ts"] as const;

/** Parameters are a JSON object; kept small because every version stores its own copy. */
export const MAX_PARAMS_BYTES = 8 * 1024;

const LIVE_LABELS = STREAM_TIMEFRAMES.map((t) => t.label);

// Only the frames the live feed aggregates: a strategy must be able to run live on what
// it was saved with. Any spelling Alpaca accepts ("5min", "1H") is stored canonically.
const timeframeOf = (input: z.ZodString | z.ZodDefault<z.ZodString>) =>
  input.transform((text, ctx) => {
    const parsed = parseTimeframe(text);
    if (!parsed.ok) {
      ctx.issues.push({ code: "custom", message: parsed.message, input: text });
      return z.NEVER;
    }
    if (!LIVE_LABELS.includes(parsed.timeframe.label)) {
      ctx.issues.push({ code: "custom", message: `strategies run on ${LIVE_LABELS.join(", ")} bars`, input: text });
      return z.NEVER;
    }
    return parsed.timeframe.label;
  });
const StrategyTimeframe = timeframeOf(z.string().default("1Min")).openapi({ type: "string", example: "1Min", description: `One of ${LIVE_LABELS.join(", ")} (default 1Min)` });
/** An edit's timeframe: no default, so an edit that names none keeps the strategy's. */
const NewTimeframe = timeframeOf(z.string()).openapi({ type: "string", example: "5Min", description: `One of ${LIVE_LABELS.join(", ")}` });

const StrategyName = shownName(64).openapi({ example: "SPY trend" });

const Params = z
  .record(z.string(), z.unknown())
  .refine((p) => new TextEncoder().encode(JSON.stringify(p)).length <= MAX_PARAMS_BYTES, `must be at most ${MAX_PARAMS_BYTES} bytes as JSON`)
  .openapi({ example: { fast: 10, slow: 30 } });

const Source = z
  .string()
  .min(1)
  .openapi({ description: `JavaScript or TypeScript module whose default export is the strategy; at most ${MAX_SOURCE_BYTES} bytes, no imports` });

const StrategySymbol = z.string().trim().min(1).max(32).openapi({ example: "AAPL" });

export const CreateStrategyRequest = z
  .object({
    name: StrategyName,
    symbol: StrategySymbol,
    timeframe: StrategyTimeframe,
    kind: z.enum(STRATEGY_KINDS),
    template: z.string().min(1).max(64).optional().openapi({ example: "ma-cross" }),
    params: Params.optional(),
    source: Source.optional(),
    language: z.enum(STRATEGY_LANGUAGES).default("ts"),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.kind === "template") {
      if (body.template === undefined) ctx.addIssue({ code: "custom", path: ["template"], message: "a template strategy names its template" });
      if (body.source !== undefined) ctx.addIssue({ code: "custom", path: ["source"], message: "a template strategy has no source; use kind \"code\"" });
    } else {
      if (body.source === undefined) ctx.addIssue({ code: "custom", path: ["source"], message: "a code strategy needs its source" });
      if (body.template !== undefined) ctx.addIssue({ code: "custom", path: ["template"], message: "a code strategy names no template; use kind \"template\"" });
    }
  })
  .openapi("CreateStrategyRequest", {
    description: "kind \"template\": `template` and optional `params` (the template's defaults fill the rest). kind \"code\": `source`, `language` (default ts) and optional `params` the code reads as ctx.params.",
  });
export type CreateStrategyRequest = z.infer<typeof CreateStrategyRequest>;

export const UpdateStrategyRequest = z
  .object({
    name: StrategyName.optional(),
    params: Params.optional(),
    source: Source.optional(),
    language: z.enum(STRATEGY_LANGUAGES).optional(),
    symbol: StrategySymbol.optional(),
    timeframe: NewTimeframe.optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: "change at least one of name, params, source, language, symbol, timeframe" })
  .openapi("UpdateStrategyRequest", {
    description:
      "New params, source or language make a new version (the current one plus one); a name alone does not. A symbol or timeframe moves a strategy that is not running (409 while it runs) without a new version; a template's parameters are checked against the new symbol's instrument.",
  });
export type UpdateStrategyRequest = z.infer<typeof UpdateStrategyRequest>;

export const StrategyIdParam = z.object({
  // Ids are stored in lower case; clients may send either.
  id: z
    .string()
    .min(1)
    .max(64)
    .transform((id) => id.toLowerCase())
    .openapi({ param: { name: "id", in: "path" }, example: "6f1c2a9e-3b1d-4c55-9d0e-2a7a1b9c4d11" }),
});

export const StrategyVersionParam = StrategyIdParam.extend({
  version: wholeParam("version", 1, Number.MAX_SAFE_INTEGER).openapi({ param: { name: "version", in: "path" }, example: 2 }),
});

export const Strategy = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(STRATEGY_KINDS),
    template: z.string().nullable(),
    symbol: z.string(),
    timeframe: z.string(),
    params: z.record(z.string(), z.unknown()),
    current_version: z.number().int(),
    status: z.enum(STRATEGY_STATUSES),
    status_message: z.string().nullable(),
    running_version: z.number().int().nullable().openapi({ description: "The version a running strategy started with; edits do not change it" }),
    last_run: z.number().int().nullable().openapi({ description: "The number of its last live run (each start is a new one), kept after it stops; null if it never ran (its stats answer 409 then)" }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Strategy");
export type Strategy = z.infer<typeof Strategy>;

export const UpdatedStrategy = Strategy.extend({
  notice: z.string().nullable().openapi({ description: "Set when the strategy is running: it keeps running the version it started with" }),
}).openapi("UpdatedStrategy");

export const StrategyVersion = z
  .object({
    strategy_id: z.string(),
    version: z.number().int(),
    template: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    language: z.enum(STRATEGY_LANGUAGES).nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi("StrategyVersion");

export const StrategyVersionDetail = StrategyVersion.extend({
  source: z.string().nullable().openapi({ description: "What the user wrote (code strategies)" }),
  compiled: z.string().nullable().openapi({ description: "The JavaScript compiled from it at save" }),
}).openapi("StrategyVersionDetail");

export const StrategyTemplate = z
  .object({
    name: z.string().openapi({ example: "ma-cross" }),
    title: z.string(),
    description: z.string(),
    params_schema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of the parameters (the form to render)" }),
    defaults: z.record(z.string(), z.unknown()),
  })
  .openapi("StrategyTemplate");
