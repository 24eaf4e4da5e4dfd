// The strategy and backtest API's shapes as the pages use them (types only: the schemas
// themselves stay on the server, so nothing of zod is bundled).
import type { z } from "zod";
import type { BacktestResultView, BacktestView, OptimizationView } from "../../../shared/schemas/backtests";
import type { LiveStrategyStatus } from "../../../shared/schemas/strategy-runs";

// shared/schemas/strategies.ts reaches the compiler (sucrase), which the web build does
// not type, so its two views are spelled out here.
export interface StrategyJson {
  id: string;
  name: string;
  kind: "template" | "code";
  template: string | null;
  symbol: string;
  timeframe: string;
  params: Record<string, unknown>;
  current_version: number;
  status: "stopped" | "running" | "errored";
  status_message: string | null;
  running_version: number | null;
  /** Null if it never ran: it has no statistics to ask for. */
  last_run: number | null;
  created_at: string;
  updated_at: string;
}
export interface TemplateJson {
  name: string;
  title: string;
  description: string;
  params_schema: Record<string, unknown>;
  defaults: Record<string, unknown>;
}
export type LiveStatusJson = z.infer<typeof LiveStrategyStatus>;
export type LiveStatsJson = LiveStatusJson["stats"];
export type BacktestJson = z.infer<typeof BacktestView>;
export type BacktestResultJson = z.infer<typeof BacktestResultView>;
export type OptimizationJson = z.infer<typeof OptimizationView>;
export type Params = Record<string, unknown>;

export interface LogLine {
  seq: number;
  t: string;
  text: string;
}

/** A strategy_updates frame: new log lines, the status and the statistics now. */
export interface StrategyUpdate {
  id: string;
  status: "running" | "stopped" | "errored";
  /** Why it errored (or stopped), else null. */
  message: string | null;
  logs: LogLine[];
  stats: LiveStatsJson;
}

/** A backtest_updates frame. */
export interface BacktestProgressJson {
  id: string;
  status: BacktestJson["status"];
  bars_done: number;
  bars_total: number;
  error: string | null;
  metrics: Record<string, number | string | null> | null;
}

/** One property of a template's JSON Schema: what the form needs of it. */
export interface FieldSchema {
  type?: "integer" | "number" | "string" | "boolean";
  enum?: (string | number)[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  /** Shown only while the named parameters have these values (shared/strategy/templates/common.ts). */
  "x-shown-when"?: Record<string, unknown>;
}

export function fieldsOf(schema: Record<string, unknown>): [string, FieldSchema][] {
  const props = (schema.properties ?? {}) as Record<string, FieldSchema>;
  return Object.entries(props);
}

/** A form's starting values: the given ones, else each field's default. */
export function defaultsOf(schema: Record<string, unknown>, defaults: Params): Params {
  const out: Params = {};
  for (const [name, f] of fieldsOf(schema)) out[name] = defaults[name] ?? f.default;
  return out;
}

/** The fields a form shows for these values: those without a condition, and those whose `x-shown-when` the values meet. */
export function shownFields(schema: Record<string, unknown>, values: Params): [string, FieldSchema][] {
  return fieldsOf(schema).filter(([, f]) => Object.entries(f["x-shown-when"] ?? {}).every(([name, wanted]) => values[name] === wanted));
}

/** The timeframes strategies run on (the live feed's frames). */
export const LIVE_TIMEFRAMES = ["1Min", "5Min", "15Min", "1Hour", "1Day"] as const;
