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

/** A strategy_updates frame: new log lines and the statistics now. */
export interface StrategyUpdate {
  id: string;
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
}

export function fieldsOf(schema: Record<string, unknown>): [string, FieldSchema][] {
  const props = (schema.properties ?? {}) as Record<string, FieldSchema>;
  return Object.entries(props);
}

/** The timeframes strategies run on (the live feed's frames). */
export const LIVE_TIMEFRAMES = ["1Min", "5Min", "15Min", "1Hour", "1Day"] as const;
