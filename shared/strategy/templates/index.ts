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
import type { InstrumentSpec } from "../../market/instrument";

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

/** Why a template's parameters are refused: one message, and each problem by its path. */
export interface ParamsRefusal {
  message: string;
  details: { path: string; message: string }[];
}

/** The refusal of a template name that is not one, or null. */
export function unknownTemplate(name: string): ParamsRefusal | null {
  if (TEMPLATES.has(name)) return null;
  return { message: `unknown template ${JSON.stringify(name)}`, details: [{ path: "template", message: `must be one of ${[...TEMPLATES.keys()].join(", ")}` }] };
}

/**
 * The one check of a template's parameters wherever a strategy is saved or a run is asked
 * for: the template's schema (its defaults filled in), then, given the instrument, what
 * they cannot do on it (a grid's lines closer than its tick). `prefix` names the parameters
 * in the refusal: "params", or an optimization's "combination 2 ({…})".
 */
export function checkTemplateParams(name: string, input: unknown, spec?: InstrumentSpec, prefix = "params"): { ok: true; params: Record<string, unknown> } | { ok: false; refusal: ParamsRefusal } {
  const template = TEMPLATES.get(name);
  if (!template) return { ok: false, refusal: unknownTemplate(name)! };
  const checked = templateParams(template, input);
  if (!checked.ok) return { ok: false, refusal: refusal(prefix, `template ${name}`, checked.issues) };
  const onInstrument = spec ? instrumentRefusal(name, checked.params, spec, prefix) : null;
  return onInstrument ? { ok: false, refusal: onInstrument } : checked;
}

/**
 * What parameters already valid by the template's schema cannot do on `spec` (the second
 * half of checkTemplateParams, for a caller that checked the schema before the instrument
 * was known), or null.
 */
export function instrumentRefusal(name: string, params: Record<string, unknown>, spec: InstrumentSpec, prefix = "params"): ParamsRefusal | null {
  const problems = TEMPLATES.get(name)?.instrumentProblems?.(params, spec) ?? [];
  return problems.length > 0 ? refusal(prefix, `${spec.symbol}'s tick ${spec.tickSize}`, problems) : null;
}

/** "params do not fit …" (an optimization's "combination 2 ({…}) does not fit …"), each problem under the prefix. */
function refusal(prefix: string, fit: string, problems: { path: string; message: string }[]): ParamsRefusal {
  return {
    message: `${prefix} ${/^combination /.test(prefix) ? "does" : "do"} not fit ${fit}`,
    details: problems.map((p) => ({ path: p.path ? `${prefix}.${p.path}` : prefix, message: p.message })),
  };
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
