import type { BacktestPart, BacktestReport, BarFeed } from "../shared/strategy/backtest";
import type { InvokeRequest, InvokeResult, StrategyCallback } from "../shared/strategy/invoke";
import type { LogLine, StrategyBar } from "../shared/strategy/runtime";
import type StrategySandbox from "../sandbox/entry";
import type { SandboxBacktestRequest, SandboxFault, SandboxOutcome } from "../sandbox/entry";
import { SANDBOX_ENTRY, SANDBOX_LOOP_BUDGET } from "../sandbox/entry.generated.js";
import { guardLoops, LOOP_BUDGET_MODULE, userColumn } from "../sandbox/instrument";

// User strategy code runs in a Worker Loader isolate (docs/strategies.md, "Sandboxing"):
// the entry bundled from sandbox/entry.ts plus the user's compiled module as
// "strategy.js" (its loops wired to a budget, sandbox/instrument.ts), with no network
// (globalOutbound: null), no bindings (env: {}) and a CPU limit per call. A backtest's whole loop runs inside the sandbox, one call per chunk of
// bars; a live strategy makes one call per callback.

/** The main worker's compatibility date (wrangler.toml), so the sandbox runs the same JavaScript. */
const COMPATIBILITY_DATE = "2026-04-20";
/** CPU per live callback: a callback is a few indicator updates and an order or two. */
export const CALLBACK_CPU_MS = 50;
/** CPU per backtest call: a chunk of bars (about 10,000 bars/s in workerd). */
export const CHUNK_CPU_MS = 30_000;
/**
 * Wall time per call, a guard beside the CPU limit for a sandbox that never answers (an
 * isolate lost or stuck in the platform). It cannot stop a synchronous loop under local
 * workerd, which runs every isolate on one thread and enforces no CPU limit: the loop
 * budget (sandbox/loop-budget.ts) is what stops those there.
 */
export const CALLBACK_WALL_MS = 2_000;
export const CHUNK_WALL_MS = 60_000;

/**
 * threw: the user's code threw; loop_budget: a callback ran more loop iterations than the
 * budget (sandbox/loop-budget.ts); cpu_limit: the loader's CPU limit stopped it;
 * timeout: no answer in the wall time; crashed: the module failed to load (a top-level
 * throw) or the isolate died.
 */
/**
 * The entry's methods as the host calls them over RPC: the same parameters, each answer a
 * promise. (Workers' own Rpc.Provider type of the stub is too deep for the result types.)
 */
type SandboxMethods = "backtestStart" | "backtestStep" | "backtestResult" | "invoke" | "callbacks";
type SandboxStub = { [M in SandboxMethods]: (...args: Parameters<StrategySandbox[M]>) => Promise<Awaited<ReturnType<StrategySandbox[M]>>> };

function entrypoint(worker: WorkerStub): SandboxStub {
  return worker.getEntrypoint() as unknown as SandboxStub;
}

export type StrategyFaultReason = "threw" | "loop_budget" | "cpu_limit" | "timeout" | "crashed";

/** The user's code failed: what it threw (or the limit it hit), and where in the user's source, when known. */
const STRATEGY_CALLBACKS = ["onStart", "onBar", "onTrade", "onQuote", "onOrderUpdate", "onStop"];

export class StrategyCodeError extends Error {
  override name = "StrategyCodeError";
  constructor(
    message: string,
    readonly reason: StrategyFaultReason,
    /** Line and column in the user's module; the compiler keeps TypeScript's lines, so they are the source's. */
    readonly line: number | null = null,
    readonly column: number | null = null,
    /** A backtest's failure: the bars played before the one that failed, when the sandbox said. */
    readonly barsDone: number | null = null,
    /** What the failed callback logged before it threw; a backtest's, the run's log until then. */
    readonly logs: LogLine[] = [],
    /** A backtest's: the lines past its log limit. */
    readonly logsDropped = 0,
  ) {
    super(message);
  }
}

/** What the sandbox's backtest takes, and the compiled code to run it with; the bars are sent a chunk per call. */
export interface CodeBacktestRequest extends Omit<SandboxBacktestRequest, "total" | "first"> {
  code: string;
  bars: BarFeed;
}

export interface CodeBacktestOptions {
  chunkBars: number;
  /** Called after every chunk with the orders settled and fills made in it (the last, the rest); absent, they all come with the result. */
  onSettled?(part: BacktestPart): void;
  /** Called after every chunk; answering false cancels the backtest. */
  onProgress(done: number, total: number): Promise<boolean>;
  /** Overrides for tests: the wall-time guard per call. */
  wallMs?: number;
}

/**
 * Backtests user code in a sandbox loaded for this run alone (LOADER.load, not a cached
 * isolate): the user's module may keep state at module scope, and a backtest must start
 * from a fresh one to be deterministic.
 */
export async function runCodeBacktest(env: { LOADER: WorkerLoader }, request: CodeBacktestRequest, options: CodeBacktestOptions): Promise<BacktestReport | { cancelled: true }> {
  const { code, bars, ...backtest } = request;
  const first = bars.at(0);
  if (!first) throw new Error("a backtest needs at least one bar");
  const worker = env.LOADER.load(workerCode(code, CHUNK_CPU_MS));
  const entry = entrypoint(worker);
  const wallMs = options.wallMs ?? CHUNK_WALL_MS;
  try {
    await call(entry.backtestStart({ ...backtest, total: bars.length, first }), wallMs, code);
    const chunk = Math.max(1, Math.floor(options.chunkBars));
    // A step may play fewer bars than it was sent (its loop work budget,
    // sandbox/loop-budget.ts): the next one starts where it stopped.
    for (let from = 0; ; ) {
      const sent: StrategyBar[] = [];
      for (let i = from; i < Math.min(bars.length, from + chunk); i++) sent.push(bars.at(i)!);
      const step = await call(entry.backtestStep(sent, options.onSettled !== undefined), wallMs, code);
      from = step.done;
      if (step.settled) options.onSettled?.(step.settled);
      // A macrotask between chunks. Without it, under local workerd, the chain of sandbox
      // calls (and the caller's D1 reads in onProgress) never let the host's isolate serve
      // anything else: its timers, calls into it (a job's status and cancel) and the
      // gateway's requests waited until the whole run had ended (measured). onProgress
      // comes after, so it sees a cancel that arrived in this turn.
      await scheduler.wait(0);
      if (!(await options.onProgress(step.done, step.total))) return { cancelled: true };
      if (step.finished) break;
    }
    return await call(entry.backtestResult(), wallMs, code);
  } finally {
    disposeQuietly(entry);
    disposeQuietly(worker);
  }
}

export interface StrategySandboxHandle {
  /** Runs one callback in the sandbox; a failure of the user's code is a StrategyCodeError. */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /** The callbacks the strategy defines (a module that fails to load is a StrategyCodeError). */
  callbacks(): Promise<StrategyCallback[]>;
  /** Releases the host's handles (the isolate itself is the loader's to keep or evict). */
  dispose(): void;
  [Symbol.dispose](): void;
}

/**
 * A live strategy's sandbox. The isolate's id is the caller's `key` (one live run) and a
 * hash of the code and of the sandbox's entry, so every callback of one code version
 * reuses one warm isolate, and a new version (or a new deployment of the runtime) gets a
 * new one. Module-scope state in the user's code lives as long as the isolate, which the
 * loader may evict at any time: persisted state belongs in ctx.state.
 */
export function openStrategySandbox(env: { LOADER: WorkerLoader }, key: string, code: string, options: { wallMs?: number } = {}): StrategySandboxHandle {
  const wallMs = options.wallMs ?? CALLBACK_WALL_MS;
  let disposed = false;
  const opened = isolateId(key, code).then((id) => {
    const worker = env.LOADER.get(id, () => workerCode(code, CALLBACK_CPU_MS));
    return { worker, entry: entrypoint(worker) };
  });
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    void opened.then(({ worker, entry }) => {
      disposeQuietly(entry);
      disposeQuietly(worker);
    }, () => undefined);
  };
  return {
    async invoke(request) {
      if (disposed) throw new Error("the strategy sandbox was disposed");
      const { entry } = await opened;
      return call(entry.invoke(request), wallMs, code);
    },
    async callbacks() {
      if (disposed) throw new Error("the strategy sandbox was disposed");
      const { entry } = await opened;
      return (await call(entry.callbacks(), wallMs, code)) as StrategyCallback[];
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}

/**
 * Whether the module loads, checked by the runtime that will run it: sucrase compiles
 * without V8's early errors (a `let` declared twice, `await` outside an async function,
 * `break` outside a loop), and a module that does not load fails every callback. Answers
 * the failure, with the line and column in the user's source when the runtime says them,
 * or null. Loads one isolate per distinct code (the loader keeps it for a later check).
 */
export async function moduleLoadError(env: { LOADER: WorkerLoader }, code: string): Promise<StrategyCodeError | null> {
  using sandbox = openStrategySandbox(env, "check", code);
  try {
    // A module whose default export has no callback (42, a bare function, { onBar: 5 }) would
    // save and then do nothing; the backtest command refuses such a file too (found in QA).
    if ((await sandbox.callbacks()).length === 0) return new StrategyCodeError(`its default export has none of the callbacks (${STRATEGY_CALLBACKS.join(", ")}): export default { onBar(bar, ctx) { … } }`, "crashed");
    return null;
  } catch (error) {
    if (!(error instanceof StrategyCodeError)) throw error;
    if (error.line !== null) return error;
    // A module that fails to compile or evaluate names its place in the message:
    // "Failed to start Worker:\nUncaught SyntaxError: …\n  at strategy.js:LINE:COLUMN".
    const at = /strategy\.js:(\d+):(\d+)/.exec(error.message);
    if (!at) return error;
    const line = Number(at[1]);
    // V8 counts a syntax error's column from 0 and a stack frame's (a throw as the module
    // runs) from 1; the compiler's errors count from 1 (found in QA: one off for these).
    const column = userColumn(code, line, Number(at[2]) + (/Uncaught SyntaxError/.test(error.message) ? 1 : 0));
    // The error in the user's terms, not the runtime's "Failed to start Worker".
    const what = /Uncaught ([^\n]+)/.exec(error.message)?.[1] ?? error.message;
    return new StrategyCodeError(`${what} (line ${line}, column ${column})`, error.reason, line, column);
  }
}

function workerCode(code: string, cpuMs: number): WorkerLoaderWorkerCode {
  return {
    compatibilityDate: COMPATIBILITY_DATE,
    mainModule: "entry.js",
    modules: { "entry.js": SANDBOX_ENTRY, [LOOP_BUDGET_MODULE]: SANDBOX_LOOP_BUDGET, "strategy.js": guardLoops(code) },
    env: {},
    globalOutbound: null,
    limits: { cpuMs },
  };
}

/** One call into the sandbox: its outcome unwrapped, its faults (and the runtime's) as StrategyCodeError. */
async function call<T>(pending: Promise<SandboxOutcome<T>>, wallMs: number, code: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StrategyCodeError(`the strategy did not answer within ${wallMs} ms`, "timeout")), wallMs);
  });
  let outcome: SandboxOutcome<T>;
  try {
    outcome = await Promise.race([pending, timeout]);
  } catch (error) {
    if (error instanceof StrategyCodeError) throw error;
    throw runtimeFault(error);
  } finally {
    clearTimeout(timer);
  }
  if (!outcome.ok) throw codeError(outcome.fault, code);
  return outcome.value;
}

function codeError(fault: SandboxFault, code: string): StrategyCodeError {
  // The runtime counts columns of the guarded module; the user wrote the code without the guards.
  const column = fault.line === null || fault.column === null ? fault.column : userColumn(code, fault.line, fault.column);
  const where = fault.line === null ? "" : ` (line ${fault.line}, column ${column})`;
  // The entry's own SandboxStateError means the isolate lost its run (replaced), not a bug in the user's code.
  const reason = fault.name === "LoopBudgetError" ? "loop_budget" : fault.name === "SandboxStateError" ? "crashed" : "threw";
  return new StrategyCodeError(`${fault.name}: ${fault.message}${where}`, reason, fault.line, column, fault.barsDone ?? null, fault.logs ?? [], fault.logsDropped ?? 0);
}

/**
 * An exception from the call itself rather than a fault the entry caught: the CPU limit,
 * or a module that failed to load (a top-level throw in the user's code).
 */
function runtimeFault(error: unknown): StrategyCodeError {
  const message = error instanceof Error ? error.message : String(error);
  if (/cpu/i.test(message) && /limit|exceeded/i.test(message)) return new StrategyCodeError(`the strategy exceeded its CPU limit: ${message}`, "cpu_limit");
  return new StrategyCodeError(message, "crashed");
}

let entryHash: Promise<string> | undefined;

async function isolateId(key: string, code: string): Promise<string> {
  entryHash ??= sha256(SANDBOX_ENTRY + SANDBOX_LOOP_BUDGET);
  return `strategy:${key}:${await sha256(code)}:${(await entryHash).slice(0, 16)}`;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Loaded workers and their entrypoint stubs hold native handles; left to the garbage
 * collector they may be finalized while the isolate shuts down, which workerd treats as
 * fatal (seen under the vitest pool). Released eagerly instead; a failure to release must
 * not mask the call's outcome.
 */
function disposeQuietly(resource: unknown): void {
  if ((typeof resource !== "object" && typeof resource !== "function") || resource === null || !(Symbol.dispose in resource)) return;
  try {
    (resource as Disposable)[Symbol.dispose]();
  } catch {
    // already released
  }
}
