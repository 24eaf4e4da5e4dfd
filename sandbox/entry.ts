import { WorkerEntrypoint } from "cloudflare:workers";
import type { InstrumentSpec } from "../shared/market/instrument";
import { Backtest, backtestReport, STEP_COMMAND_BUDGET, type BacktestPart, type BacktestReport } from "../shared/strategy/backtest";
import { failedCallbackLogs, strategyInvoker, type InvokeRequest, type InvokeResult } from "../shared/strategy/invoke";
import type { LogLine, Strategy, StrategyBar } from "../shared/strategy/runtime";
import type { RiskLimits } from "../shared/trading/risk";
import type { VenueConfig } from "../shared/venue/venue";
import { CALLBACKS, withLoopBudget } from "./callbacks";
import { resetStepWork, STEP_LOOP_BUDGET, stepWork } from "./loop-budget.js";
import userStrategy from "./strategy.js";

// Runs INSIDE the Worker Loader isolate, beside the user's module ("./strategy.js"), with
// no network and no bindings: the same runtime module as everywhere else
// (shared/strategy/backtest.ts for backtests, invoke.ts for live callbacks). The host
// (platform/sandbox.ts) makes one RPC call per chunk of bars, never one per bar.
//
// Errors thrown by user code come back as values, not as RPC exceptions: an exception
// crossing RPC keeps its message but loses its stack, and the stack is where the line in
// the user's module is.

export interface SandboxBacktestRequest {
  /** Bars in the whole run; they come a chunk at a time, with each backtestStep. */
  total: number;
  /** The first bar (its time is the clock of onStart). */
  first: StrategyBar;
  /** Points the report's equity and drawdown series are thinned to. */
  maxSeriesPoints: number;
  spec: InstrumentSpec;
  params: Record<string, unknown>;
  cash: string;
  venue: Partial<VenueConfig>;
  limits?: Partial<RiskLimits>;
  halfSpreadTicks: number;
}

export interface SandboxFault {
  name: string;
  message: string;
  /** Where in the user's module ("strategy.js") the error was thrown, when the stack says. */
  line: number | null;
  column: number | null;
  /** A backtest step's fault: the bars the run had played before the one that failed. */
  barsDone?: number;
  /** What the failed callback logged before it threw; a backtest step's, the run's log so far with those lines last. */
  logs?: LogLine[];
  /** A backtest step's fault: the lines past the run's log limit. */
  logsDropped?: number;
}

export type SandboxOutcome<T> = { ok: true; value: T } | { ok: false; fault: SandboxFault };

/**
 * The user's module, as the loaded worker names it: frames in it carry its line numbers.
 * (Not exported: every export of a worker's main module must be an entrypoint.)
 */
const STRATEGY_MODULE = "strategy.js";

/** The user's strategy as the runtime sees it (sandbox/callbacks.ts). */
const strategy: Strategy = withLoopBudget(userStrategy);
const invoke = strategyInvoker(strategy);

// A backtest runs in an isolate loaded for it alone (the host uses LOADER.load), so the
// one run in progress can live at module scope between the host's calls.
// Its bars arrive a chunk per call (a million would not fit one call), into `chunk`.
let running: { bt: Backtest<Record<string, unknown>>; maxSeriesPoints: number } | null = null;
const chunk = { from: 0, bars: [] as StrategyBar[] };

export default class StrategySandbox extends WorkerEntrypoint {
  backtestStart(request: SandboxBacktestRequest): SandboxOutcome<{ total: number }> {
    return guard(() => {
      const { total, first, maxSeriesPoints, ...terms } = request;
      chunk.from = 0;
      chunk.bars = [first];
      const bars = { length: total, at: (i: number) => chunk.bars[i - chunk.from] };
      running = { bt: new Backtest({ ...terms, bars, strategy }), maxSeriesPoints };
      return { total };
    });
  }

  /**
   * Plays the next bars of the run; answers the bars done so far and the total, and with
   * `take` the orders settled and fills made meanwhile (Backtest.take), which the run forgets.
   */
  async backtestStep(bars: StrategyBar[], take: boolean): Promise<SandboxOutcome<{ done: number; total: number; finished: boolean; settled: BacktestPart | null }>> {
    const outcome = await guardAsync(async () => {
      const { bt } = current();
      chunk.from = bt.barsDone;
      chunk.bars = bars;
      // At most STEP_LOOP_BUDGET iterations and STEP_COMMAND_BUDGET orders a call: the host sends the bars not played again.
      resetStepWork();
      const sent = bt.commandsSent;
      await bt.step(bars.length, () => stepWork() > STEP_LOOP_BUDGET || bt.commandsSent - sent > STEP_COMMAND_BUDGET);
      return { done: bt.barsDone, total: bt.total, finished: bt.done, settled: take ? bt.take() : null };
    });
    // A failed run's progress is where it failed, not its last report (a chunk's start), and
    // its log is what it logged until then: its owner reads it to see what led there.
    if (!outcome.ok && running) {
      outcome.fault.barsDone = running.bt.barsDone;
      const { logs, logsDropped } = running.bt.logsSoFar(outcome.fault.logs);
      outcome.fault.logs = logs;
      outcome.fault.logsDropped = logsDropped;
    }
    return outcome;
  }

  /** The finished run, its curve thinned (a full curve of a long run would not fit one call). */
  backtestResult(): SandboxOutcome<BacktestReport> {
    return guard(() => {
      const { bt, maxSeriesPoints } = current();
      return backtestReport(bt.result(), maxSeriesPoints);
    });
  }

  /** The callbacks the user's strategy defines: the host calls only these. */
  callbacks(): SandboxOutcome<string[]> {
    return guard(() => CALLBACKS.filter((name) => typeof strategy[name] === "function"));
  }

  /** One live callback against the request's snapshot of the account. */
  invoke(request: InvokeRequest): SandboxOutcome<InvokeResult> {
    return guard(() => invoke(request));
  }
}

function current(): NonNullable<typeof running> {
  if (!running) throw new SandboxStateError("no backtest is running in this sandbox (it was never started, or the isolate was replaced)");
  return running;
}

/** The sandbox's own misuse, not the user's: reported without a line. */
class SandboxStateError extends Error {
  override name = "SandboxStateError";
}

function guard<T>(run: () => T): SandboxOutcome<T> {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, fault: fault(error) };
  }
}

async function guardAsync<T>(run: () => Promise<T>): Promise<SandboxOutcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, fault: fault(error) };
  }
}

/** The thrown value as a fault: its message, and the innermost frame in the user's module. */
function fault(error: unknown): SandboxFault {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : safeString(error);
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
  const at = new RegExp(`${STRATEGY_MODULE.replace(".", "\\.")}:(\\d+):(\\d+)`).exec(stack);
  const logs = failedCallbackLogs(error);
  return { name, message, line: at ? Number(at[1]) : null, column: at ? Number(at[2]) : null, ...(logs.length > 0 && { logs }) };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "a value that cannot be printed was thrown";
  }
}
