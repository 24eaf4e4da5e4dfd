import { z } from "zod";
import type { StrategyTemplate } from "./common";
import { bollingerTemplate } from "./bollinger";
import { dcaTemplate } from "./dca";
import { donchianTemplate } from "./donchian";
import { dualThrustTemplate } from "./dual-thrust";
import { gridTemplate } from "./grid";
import { maCrossTemplate } from "./ma-cross";
import { macdTemplate } from "./macd";
import { rsiReversionTemplate } from "./rsi-reversion";
import { firstPerPath } from "../../zod-messages";

// The built-in strategy templates. Each is written against the same API as user code and
// has one zod schema for its parameters: it validates what a client sends (with the
// template's defaults filled in) and produces the JSON Schema the app renders as a form.
// `create()` returns a fresh strategy object, so no two runs share closure state; all of a
// template's state lives in ctx.state (JSON), so a live strategy resumes exactly after its
// object restarts.

export type { StrategyTemplate } from "./common";

/** Checks a template against its own parameter type, then erases the type for the registry. */
function defineTemplate<P extends Record<string, unknown>>(template: StrategyTemplate<P>): StrategyTemplate {
  return template as unknown as StrategyTemplate;
}

const templates = [
  defineTemplate(maCrossTemplate),
  defineTemplate(rsiReversionTemplate),
  defineTemplate(bollingerTemplate),
  defineTemplate(donchianTemplate),
  defineTemplate(macdTemplate),
  defineTemplate(dualThrustTemplate),
  defineTemplate(gridTemplate),
  defineTemplate(dcaTemplate),
];

export const TEMPLATES: ReadonlyMap<string, StrategyTemplate> = new Map(templates.map((t) => [t.name, t]));

export type ParamsCheck = { ok: true; params: Record<string, unknown> } | { ok: false; issues: { path: string; message: string }[] };

/** A template's parameters with its defaults filled in, or every problem with them. */
export function templateParams(template: StrategyTemplate, input: unknown): ParamsCheck {
  // A misspelt name ("fats") would otherwise run silently with the default in its place.
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const known = paramNames(template);
    const unknown = Object.keys(input).filter((key) => !known.includes(key));
    if (unknown.length > 0) return { ok: false, issues: unknown.map((key) => ({ path: key, message: `unknown parameter "${key}"; ${template.name} takes ${known.join(", ")}` })) };
  }
  const parsed = template.params.safeParse(input ?? {});
  if (parsed.success) return { ok: true, params: parsed.data };
  return { ok: false, issues: firstPerPath(parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }))) };
}

const names = new Map<StrategyTemplate, string[]>();
/** The parameters a template takes: its schema's properties. */
function paramNames(template: StrategyTemplate): string[] {
  let known = names.get(template);
  if (!known) {
    known = Object.keys((templateJsonSchema(template).properties ?? {}) as Record<string, unknown>);
    names.set(template, known);
  }
  return known;
}

/** The JSON Schema of a template's parameters (the form the app renders). */
export function templateJsonSchema(template: StrategyTemplate): Record<string, unknown> {
  return z.toJSONSchema(template.params, { io: "input" }) as Record<string, unknown>;
}
