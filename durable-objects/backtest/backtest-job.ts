import { DurableObject } from "cloudflare:workers";

// One backtest job per object (named by the backtest's id): it holds the request, runs the
// backtest in steps from its alarm, reports progress, and keeps the results.
export class BacktestJob extends DurableObject<Env> {}
