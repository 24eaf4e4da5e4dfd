import { z } from "zod";
import type { Strategy } from "../runtime";
import { maCross } from "./ma-cross";

// The built-in strategy templates. Each is written against the same API as user code and
// has one zod schema for its parameters: it validates what a client sends (with the
// template's defaults filled in) and produces the JSON Schema the app renders as a form.
// `create()` returns a fresh strategy object, so no two runs share closure state; all of a
// template's state lives in ctx.state (JSON), so a live strategy resumes exactly after its
// object restarts.

export interface StrategyTemplate<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  title: string;
  /** One or two sentences: the rule, in a trader's words. */
  description: string;
  params: z.ZodType<P>;
  create(): Strategy<P>;
}

const maCrossParams = z
  .object({
    fast: z.number().int().min(1).max(10_000).default(10).describe("Bars in the fast average"),
    slow: z.number().int().min(2).max(10_000).default(30).describe("Bars in the slow average"),
    sizing: z.literal("all_in").default("all_in").describe("How much to buy on a cross up"),
  })
  .refine((p) => p.fast < p.slow, { message: "fast must be less than slow", path: ["fast"] });

/** Checks a template against its own parameter type, then erases the type for the registry. */
function defineTemplate<P extends Record<string, unknown>>(template: StrategyTemplate<P>): StrategyTemplate {
  return template as unknown as StrategyTemplate;
}

const templates = [
  defineTemplate({
    name: "ma-cross",
    title: "Moving-average cross",
    description: "Long when the fast simple moving average of closes crosses above the slow one, flat when it crosses back below. Sums are exact in ticks.",
    params: maCrossParams,
    create: () => ({ ...maCross }),
  }),
];

export const TEMPLATES: ReadonlyMap<string, StrategyTemplate> = new Map(templates.map((t) => [t.name, t]));

export type ParamsCheck = { ok: true; params: Record<string, unknown> } | { ok: false; issues: { path: string; message: string }[] };

/** A template's parameters with its defaults filled in, or every problem with them. */
export function templateParams(template: StrategyTemplate, input: unknown): ParamsCheck {
  const parsed = template.params.safeParse(input ?? {});
  if (parsed.success) return { ok: true, params: parsed.data };
  return { ok: false, issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) };
}

/** The JSON Schema of a template's parameters (the form the app renders). */
export function templateJsonSchema(template: StrategyTemplate): Record<string, unknown> {
  return z.toJSONSchema(template.params, { io: "input" }) as Record<string, unknown>;
}
