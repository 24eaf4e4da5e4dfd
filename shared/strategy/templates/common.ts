import { z } from "zod";
import type { InstrumentSpec } from "../../market/instrument";
import { parseMoney } from "../../trading/money";
import type { OrderInput, Strategy, StrategyContext, StrategyState } from "../runtime";

// What the templates share: how an entry is sized, what "long" means, and how a template
// keeps its memory. A live strategy's only memory across a restart is ctx.state (JSON,
// persisted after every callback; onStart runs again with the saved state), so every
// template keeps all of it there: indicators as their save()d state, restored at the start
// of each callback and saved back after the update, never in the strategy object.

export const SIZINGS = ["all_in", "qty", "notional"] as const;

/**
 * A parameter that only matters while other parameters have these values (qty only when
 * sizing is qty): its JSON Schema carries them as `x-shown-when`, and the app's form shows
 * the field only then. The value is still validated and posted either way.
 */
export const shownWhen = (values: Record<string, string | number | boolean>) => ({ "x-shown-when": values });

/** The entry sizing fields every trend or signal template takes. */
export const sizingFields = {
  sizing: z
    .enum(SIZINGS)
    .default("all_in")
    .describe("How much an entry buys: all_in = the largest quantity the cash pays for (ctx.maxBuyQty), qty = the fixed quantity below, notional = the fixed USD amount below"),
  qty: z.number().positive().max(1e12).default(1).describe("Quantity bought per entry when sizing is qty (rounded down to the lot grid)").meta(shownWhen({ sizing: "qty" })),
  notional: z.number().positive().max(1e12).default(1000).describe("USD spent per entry when sizing is notional (rounded down to the cent)").meta(shownWhen({ sizing: "notional" })),
};

export type SizingParams = { sizing: (typeof SIZINGS)[number]; qty: number; notional: number };

/** A market buy sized by the template's sizing, or null when all_in finds no quantity the cash pays for. */
export function entryOrder(ctx: StrategyContext<SizingParams>, tag: string): OrderInput | null {
  const p = ctx.params;
  switch (p.sizing) {
    case "all_in": {
      const qty = ctx.maxBuyQty();
      return qty === "0" ? null : { qty, tag };
    }
    case "qty":
      return { qty: p.qty, tag };
    case "notional":
      return { notional: p.notional, tag };
    default: {
      const never: never = p.sizing;
      throw new RangeError(`unknown sizing ${String(never)}`);
    }
  }
}

/** Buys by the template's sizing; answers whether an order was placed. */
export function enterLong(ctx: StrategyContext<SizingParams>, tag: string): boolean {
  const order = entryOrder(ctx, tag);
  if (order) ctx.buy(order);
  return order !== null;
}

/** Sells the whole position at market, but what open sells already hold (they sell it), in one order. */
export function exitLong(ctx: StrategyContext, tag: string): void {
  const available = ctx.position.qtyAvailable;
  const whole = parseMoney(available) ?? 0n;
  if (whole <= 0n) return;
  ctx.sell({ qty: available, tag });
}

export function isLong(ctx: StrategyContext): boolean {
  const qty = parseMoney(ctx.position.qty);
  return qty !== undefined && qty > 0n;
}

/**
 * An order of the strategy still open (live, a market order may not have filled by the next
 * bar): signals wait for it rather than stack a second entry or exit on top.
 */
export function hasOpenOrders(ctx: StrategyContext): boolean {
  return ctx.openOrders.length > 0;
}

/** The parameters as text with sorted keys: a saved state names the parameters that shaped it. */
export function paramsKey(params: unknown): string {
  return JSON.stringify(params, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * onStart's rule for state: a restart (the same parameters, a saved state) keeps what it
 * finds; a first start, or a start with other parameters (whose indicators would not fit
 * the saved ones), starts from `fresh()`.
 */
export function startState(ctx: StrategyContext, fresh: () => StrategyState): void {
  const key = paramsKey(ctx.params);
  if (ctx.state.params === key) return;
  if (Object.keys(ctx.state).length > 0) ctx.log("parameters changed since the saved state: starting from a fresh state");
  ctx.state = { ...fresh(), params: key };
}

/** Checks a template's parameters against its schema where the strategy starts (a backtest passes them unchecked). */
export function checkParams<P>(name: string, schema: z.ZodType<P>, params: unknown): P {
  const parsed = schema.safeParse(params);
  if (parsed.success) return parsed.data;
  throw new RangeError(`${name}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "params"}: ${i.message}`).join("; ")}`);
}

export interface StrategyTemplate<P extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  title: string;
  /** One or two sentences: the rule, in a trader's words. */
  description: string;
  params: z.ZodType<P>;
  /**
   * What its parameters, valid by the schema, cannot do on `spec` (a grid whose lines are
   * closer than its tick): checked when a run is asked for, so it is refused then rather
   * than failing as it starts. Each problem names its parameter.
   */
  instrumentProblems?(params: P, spec: InstrumentSpec): { path: string; message: string }[];
  create(): Strategy<P>;
}
