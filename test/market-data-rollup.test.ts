import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, json, signUp, type TestUser } from "./helpers";
import { createInstrument } from "./market-helpers";

// Timeframes that are not stored (2Min, 30Min, …) are rolled up from 1Min bars page by
// page. Past 200,000 source bars they used to stop: this imports a little more than that.

let admin: TestUser;
let trader: TestUser;

beforeAll(async () => {
  [admin, trader] = await Promise.all([signUp("admin"), signUp()]);
});

const MINUTES = 210_000;
const FIRST = Date.parse("2024-01-01T00:00:00Z");
const ROWS_PER_IMPORT = 70_000;

/** Minute i of the history, in ticks of 0.01: a price path that wanders and never breaks OHLC. */
function minute(i: number) {
  const o = 10_000 + ((i * 7) % 300);
  const c = 10_000 + ((i * 13) % 300);
  return { t: FIRST + i * 60_000, o, h: Math.max(o, c) + (i % 5), l: Math.min(o, c) - (i % 3), c, v: 1 + (i % 97), n: 1 + (i % 11) };
}

const price = (ticks: number) => (ticks / 100).toFixed(2);

function csv(from: number, to: number): string {
  const rows = ["timestamp,open,high,low,close,volume,trade_count,vwap"];
  // The close as the VWAP: on the tick grid, so Σ price·size is exact and the roll-up's VWAP known.
  for (let i = from; i < to; i++) {
    const m = minute(i);
    rows.push(`${new Date(m.t).toISOString()},${price(m.o)},${price(m.h)},${price(m.l)},${price(m.c)},${m.v},${m.n},${price(m.c)}`);
  }
  return rows.join("\n");
}

type ApiBar = { t: string; o: number; h: number; l: number; c: number; v: number; n: number; vw: number };

/** The minutes rolled up by hand into buckets of `minutes`, oldest first. */
function rolledUp(minutes: number): ApiBar[] {
  const out: ApiBar[] = [];
  for (let start = 0; start < MINUTES; start += minutes) {
    const ms = Array.from({ length: Math.min(minutes, MINUTES - start) }, (_, k) => minute(start + k));
    const v = ms.reduce((sum, m) => sum + m.v, 0);
    const pv = ms.reduce((sum, m) => sum + m.c * m.v, 0);
    out.push({
      t: new Date(ms[0]!.t).toISOString(),
      o: ms[0]!.o / 100,
      h: Math.max(...ms.map((m) => m.h)) / 100,
      l: Math.min(...ms.map((m) => m.l)) / 100,
      c: ms[ms.length - 1]!.c / 100,
      v,
      n: ms.reduce((sum, m) => sum + m.n, 0),
      vw: pv / v / 100,
    });
  }
  return out;
}

async function walk(symbol: string, timeframe: string, sort: "asc" | "desc"): Promise<ApiBar[]> {
  const bars: ApiBar[] = [];
  let token: string | null = null;
  do {
    const res = await call(`/v2/stocks/${symbol}/bars?timeframe=${timeframe}&start=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&limit=10000&sort=${sort}${token ? `&page_token=${token}` : ""}`, { token: trader.access });
    expect(res.status).toBe(200);
    const page = await json<{ bars: ApiBar[]; next_page_token: string | null }>(res);
    bars.push(...page.bars);
    token = page.next_page_token;
  } while (token);
  return bars;
}

/** Compares walked bars with the expected ones: exact prices, sizes and counts; the VWAP to its printed digits. */
function expectBars(actual: ApiBar[], expected: ApiBar[]): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.map(({ vw, ...rest }) => rest)).toEqual(expected.map(({ vw, ...rest }) => rest));
  actual.forEach((bar, i) => expect(bar.vw).toBeCloseTo(expected[i]!.vw, 5));
}

describe("rolled-up timeframes over more than 200,000 source bars", () => {
  it("page completely, each bucket once, in both directions, equal to rolling up the 1Min bars by hand", { timeout: 180_000 }, async () => {
    const asset = await createInstrument(admin, { feed: { kind: "none" } });
    for (let from = 0; from < MINUTES; from += ROWS_PER_IMPORT) {
      const res = await call(`/api/admin/assets/${asset.id}/history?timeframe=1Min`, { token: admin.access, rawBody: csv(from, from + ROWS_PER_IMPORT), headers: { "content-type": "text/csv" } });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const twoMin = rolledUp(2);

    const newest = await call(`/v2/stocks/${asset.symbol}/bars?timeframe=2Min&start=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&sort=desc&limit=2`, { token: trader.access });
    const newestPage = await json<{ bars: ApiBar[]; next_page_token: string | null }>(newest);
    expectBars(newestPage.bars, twoMin.slice(-2).reverse());
    expect(newestPage.next_page_token).not.toBeNull();
    // The token resumes that query only: on another timeframe it would be a position in other bars.
    const other = await call(`/v2/stocks/${asset.symbol}/bars?timeframe=1Day&start=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&sort=desc&limit=2&page_token=${newestPage.next_page_token}`, { token: trader.access });
    expect((await expectError(other, 422)).message).toMatch(/^Invalid format for parameter page_token: made for another query/);

    expectBars(await walk(asset.symbol, "2Min", "asc"), twoMin);
    expectBars(await walk(asset.symbol, "2Min", "desc"), [...twoMin].reverse());
    // One page of 7,000 buckets, read from 210,000 source bars in several reads.
    expectBars(await walk(asset.symbol, "30Min", "asc"), rolledUp(30));
  });
});
