import { z } from "zod";
import { ticksToDecimal, type InstrumentSpec } from "../../market/instrument";
import { roundPrice, type OrderUpdate, type Strategy, type StrategyContext } from "../runtime";
import { checkParams, startState, type StrategyTemplate } from "./common";

// A long-only grid. `levels` price lines from `lower` to `upper`, evenly spaced in ticks
// (level i = lower + round(i·(upper − lower)/(levels − 1)), half up), make levels − 1 cells.
// A cell holds one resting limit order of `qty`:
// - a buy at its lower line while it holds nothing; when that buy fills, a sell of the
//   filled quantity at its upper line; when the sell fills, a buy at the lower line again.
// - At each bar's close, every idle cell whose lower line is below the close gets its buy
//   (so the grid opens with buys under the price; cells above it wait for the price to come
//   down to them, having nothing to sell).
// An order canceled, expired or refused leaves its cell idle (re-armed at a later close); a
// partial fill waits for the rest. Stopping cancels the grid's resting orders. The cash
// needed is about qty × the sum of the lines below the price (each resting buy reserves it).

export const gridParams = z
  .object({
    lower: z.number().positive().max(1e12).default(90).describe("Lowest grid line (price)"),
    upper: z.number().positive().max(1e12).default(110).describe("Highest grid line (price)"),
    levels: z.number().int().min(2).max(200).default(11).describe("Number of grid lines, both ends included (levels − 1 cells)"),
    qty: z.number().positive().max(1e12).default(1).describe("Quantity bought at each line and sold one line higher"),
  })
  .refine((p) => p.lower < p.upper, { message: "lower must be below upper", path: ["lower"] });

export type GridParams = z.output<typeof gridParams>;

type Cell = { side: "buy" | "sell"; id: string } | null;
/** The lines in ticks (ascending) and each cell's resting order. */
type GridState = { lines: number[]; cells: Cell[] };

/** The grid lines in ticks, or null when they are not at least one tick apart (or the lowest is not above zero). */
function linesOn(p: GridParams, spec: InstrumentSpec): number[] | null {
  const low = roundPrice(p.lower, spec);
  const span = roundPrice(p.upper, spec) - low;
  const n = p.levels - 1;
  // round(i·span/n) half up, in integers.
  const lines = Array.from({ length: p.levels }, (_, i) => low + Math.floor((2 * i * span + n) / (2 * n)));
  return low <= 0 || lines.some((x, i) => i > 0 && x <= lines[i - 1]!) ? null : lines;
}

const tooClose = (p: GridParams, spec: InstrumentSpec) => `${p.levels} lines from ${p.lower} to ${p.upper} are not one tick ${spec.tickSize} apart`;

/** The grid lines in ticks; refuses a grid whose lines are not at least one tick apart. */
export function gridLines(p: GridParams, ctx: StrategyContext<GridParams>): number[] {
  const lines = linesOn(p, ctx.instrument);
  if (!lines) throw new RangeError(`grid: ${tooClose(p, ctx.instrument)}`);
  return lines;
}

/** The grid's lines must be a tick apart on the instrument: asked before a run, as its start would fail. */
export function gridProblems(p: GridParams, spec: InstrumentSpec): { path: string; message: string }[] {
  if (linesOn(p, spec)) return [];
  const low = roundPrice(p.lower, spec);
  if (low <= 0) return [{ path: "lower", message: `rounds to zero on the tick ${spec.tickSize}` }];
  // One line a tick fits span + 1 of them.
  const fit = roundPrice(p.upper, spec) - low + 1;
  return [{ path: "levels", message: `${tooClose(p, spec)}: at most ${fit} line${fit === 1 ? "" : "s"} fit between them` }];
}

function place(ctx: StrategyContext<GridParams>, s: GridState, cell: number, side: "buy" | "sell", qty: number | string): void {
  const line = side === "buy" ? cell : cell + 1;
  const id = ctx[side]({ qty, type: "limit", limit: ticksToDecimal(s.lines[line]!, ctx.instrument), tif: "gtc", tag: `grid_${side}_${line}` });
  s.cells[cell] = { side, id };
}

const grid: Strategy<GridParams> = {
  params: gridParams.parse({}),

  onStart(ctx) {
    const p = checkParams("grid", gridParams, ctx.params);
    startState(ctx, (): GridState => ({ lines: gridLines(p, ctx), cells: new Array<Cell>(p.levels - 1).fill(null) }));
  },

  onBar(bar, ctx) {
    const s = ctx.state as GridState;
    const close = roundPrice(bar.close, ctx.instrument);
    s.cells.forEach((cell, i) => {
      if (cell === null && s.lines[i]! < close) place(ctx, s, i, "buy", ctx.params.qty);
    });
  },

  onOrderUpdate(update: OrderUpdate, ctx) {
    const s = ctx.state as GridState;
    const i = s.cells.findIndex((cell) => cell?.id === update.id);
    if (i < 0) return;
    if (update.event === "fill") {
      if (update.side === "buy") place(ctx, s, i, "sell", update.filledQty);
      else place(ctx, s, i, "buy", ctx.params.qty);
    } else if (update.event === "canceled" || update.event === "expired" || update.event === "rejected") {
      s.cells[i] = null;
    }
  },

  onStop(ctx) {
    ctx.cancelAll();
  },
};

export const gridTemplate: StrategyTemplate<GridParams> = {
  name: "grid",
  title: "Grid",
  description: "Rests a limit buy at each grid line below the price and, once it fills, a limit sell one line higher, then buys again at the line below: it earns the spacing on every swing between lower and upper. Long only.",
  params: gridParams,
  instrumentProblems: gridProblems,
  create: () => ({ ...grid }),
};
