import { z } from "zod";
import { type InstrumentSpec, PositiveDecimalString } from "./instrument";
import { type Random, fromState, seededRandom } from "./random";
import type { Quote, Trade } from "./types";

// A deterministic market: the mid follows geometric Brownian motion with Poisson jumps
// (Merton 1976) and a quote is placed around it on the tick grid. The generator state
// travels inside SimState, so the same params and the same step times give the same
// quotes and trades in Node (backtests) and in a Durable Object that was evicted and
// restored between two steps.
//
// The model's log price is a float: it is the model, not money. What leaves the model is
// rounded to whole ticks and lots at once.

// The simulated venue trades around the clock, so annualised rates use calendar time.
const YEAR_MS = 365.25 * 24 * 60 * 60 * 1000;
// Keeps the mid inside [1 tick, 10^12 ticks]: below, the bid would stick at one tick;
// above, tick counts head for the end of exactly representable integers (2^53).
const MAX_MID_TICKS = 1e12;

const DisplayedLots = z
  .object({ min: z.number().int().min(1), max: z.number().int().min(1).max(1_000_000_000) })
  .refine((lots) => lots.min <= lots.max, "min must not exceed max");

export const SimParamsSchema = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff).default(1),
  /** Decimal string; need not be on the tick grid, the first quote brackets it. */
  startPrice: PositiveDecimalString.default("100.00"),
  /** Annualised drift μ of the price (jumps compensated, so E[price] grows at μ). */
  drift: z.number().min(-10).max(10).default(0),
  /** Annualised volatility σ of the diffusion. */
  volatility: z.number().min(0).max(10).default(0.3),
  /** Expected jumps per year. */
  jumpIntensity: z.number().min(0).max(100_000).default(0),
  /** Mean and standard deviation of one jump in log price. */
  jumpMean: z.number().min(-1).max(1).default(0),
  jumpStdDev: z.number().min(0).max(1).default(0.02),
  /** Minimum quoted spread in ticks; the quote doubles it on a step with a jump. */
  spreadTicks: z.number().int().min(1).max(1_000_000).default(1),
  /** Displayed size on each side, uniform in [min, max] lots. */
  displayedLots: DisplayedLots.default({ min: 1, max: 100 }),
  /** How often the owner steps the simulator. The model uses the actual step times, so a late alarm changes nothing but the sampling. */
  tickIntervalMs: z.number().int().min(10).max(3_600_000).default(1000),
  /** Chance that a step prints a trade. */
  tradeProbability: z.number().min(0).max(1).default(0.3),
});
export type SimParams = z.output<typeof SimParamsSchema>;

/** Plain JSON: a Durable Object can store it and resume exactly. */
export interface SimState {
  rng: number[];
  /** ln(mid) in currency units; in price rather than ticks so a tick-size change carries over. */
  logPrice: number;
  lastMs: number;
  nextTradeId: number;
  quote: Quote;
}

export const SimStateSchema = z.object({
  rng: z.array(z.number().int().min(0).max(0xffffffff)).length(4),
  logPrice: z.number(),
  lastMs: z.number().int(),
  nextTradeId: z.number().int().min(1),
  quote: z.object({
    t: z.number().int(),
    bidTicks: z.number().int().min(1),
    askTicks: z.number().int().min(2),
    bidLots: z.number().int().min(1),
    askLots: z.number().int().min(1),
  }),
}) satisfies z.ZodType<SimState>;

export interface SimStep {
  state: SimState;
  quote: Quote;
  trade?: Trade;
}

const tickOf = (spec: InstrumentSpec) => Number(spec.tickSize);

function clampLogPrice(logPrice: number, spec: InstrumentSpec): number {
  const tick = tickOf(spec);
  return Math.min(Math.max(logPrice, Math.log(tick)), Math.log(tick * MAX_MID_TICKS));
}

function quoteAround(logPrice: number, jumped: boolean, params: SimParams, spec: InstrumentSpec, rng: Random, t: number): Quote {
  // Liquidity providers back away right after a jump.
  const spread = jumped ? 2 * params.spreadTicks : params.spreadTicks;
  const midTicks = Math.exp(logPrice) / tickOf(spec);
  const bidTicks = Math.max(1, Math.round(midTicks - spread / 2));
  const { min, max } = params.displayedLots;
  return { t, bidTicks, askTicks: bidTicks + spread, bidLots: rng.int(min, max), askLots: rng.int(min, max) };
}

function printTrade(quote: Quote, id: number, rng: Random): Trade {
  const takerSide = rng.next() < 0.5 ? "B" : "S";
  // A buyer lifts the ask, a seller hits the bid, for at most what is displayed there.
  const priceTicks = takerSide === "B" ? quote.askTicks : quote.bidTicks;
  const sizeLots = rng.int(1, takerSide === "B" ? quote.askLots : quote.bidLots);
  return { t: quote.t, id, priceTicks, sizeLots, takerSide };
}

/**
 * A simulated market at `startMs`: at its start price, or at `fromLogPrice` (a feed given new
 * parameters carries on from where its market was rather than jumping back to its start).
 */
export function initialSimState(params: SimParams, spec: InstrumentSpec, startMs: number, fromLogPrice?: number): SimState {
  const rng = seededRandom(params.seed);
  const logPrice = clampLogPrice(fromLogPrice ?? Math.log(Number(params.startPrice)), spec);
  const quote = quoteAround(logPrice, false, params, spec, rng, startMs);
  return { rng: rng.state(), logPrice, lastMs: startMs, nextTradeId: 1, quote };
}

/**
 * Advances the market to nowMs. A step time before the last one is treated as the last
 * one (no time passes, the quote keeps its timestamp): quotes never go back in time.
 */
export function stepSimulator(state: SimState, params: SimParams, spec: InstrumentSpec, nowMs: number): SimStep {
  const rng = fromState(state.rng);
  const t = Math.max(nowMs, state.lastMs);
  const dt = (t - state.lastMs) / YEAR_MS;
  const { drift, volatility, jumpIntensity, jumpMean, jumpStdDev } = params;

  // Merton: E[e^J] - 1 per jump is taken out of the drift so jumps add variance, not trend.
  const jumpCompensation = jumpIntensity * (Math.exp(jumpMean + (jumpStdDev * jumpStdDev) / 2) - 1);
  let logPrice = state.logPrice + (drift - (volatility * volatility) / 2 - jumpCompensation) * dt + volatility * Math.sqrt(dt) * rng.normal();
  // N jumps of N(m, s²) each sum to N(N·m, N·s²): one draw however long the gap was.
  const jumps = rng.poisson(jumpIntensity * dt);
  if (jumps > 0) logPrice += jumps * jumpMean + Math.sqrt(jumps) * jumpStdDev * rng.normal();
  logPrice = clampLogPrice(logPrice, spec);

  const quote = quoteAround(logPrice, jumps > 0, params, spec, rng, t);
  const trade = rng.next() < params.tradeProbability ? printTrade(quote, state.nextTradeId, rng) : undefined;
  const next: SimState = { rng: rng.state(), logPrice, lastMs: t, nextTradeId: state.nextTradeId + (trade ? 1 : 0), quote };
  return trade ? { state: next, quote, trade } : { state: next, quote };
}
