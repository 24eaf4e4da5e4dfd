import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expectError, signUp, until } from "./helpers";
import { placed, quotedMarket } from "./trading/helpers";

// GET /metrics: the Prometheus text format, parsed by a small parser written here from the
// format's description (not the server's formatter), and its counts against D1's own.

interface Parsed {
  types: Map<string, string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

function parse(text: string): Parsed {
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Parsed["samples"] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(meta[3]!)) throw new Error(`bad type: ${line}`);
        types.set(meta[2]!, meta[3]!);
      } else helped.add(meta[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? "").match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf("=");
      labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1).replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch));
    }
    const value = Number(m[4]);
    if (Number.isNaN(value) && m[4] !== "NaN") throw new Error(`bad value: ${line}`);
    if (!types.has(m[1]!) || !helped.has(m[1]!)) throw new Error(`sample before its HELP and TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

const total = (p: Parsed, name: string) => p.samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
const d1Count = async (table: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;

describe("GET /metrics", () => {
  it("is for admins only", async () => {
    await expectError(await call("/metrics"), 401);
    const trader = await signUp();
    await expectError(await call("/metrics", { token: trader.access }), 403);
  });

  it("answers the text format, and its order and fill counts are D1's, including the orders just placed", async () => {
    const admin = await signUp("admin");
    const market = await quotedMarket(admin);
    const trader = await signUp();
    for (let i = 0; i < 3; i++) await placed(trader, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    // The projections are written by the queue consumer, a moment after the orders.
    await until(async () => ((await env.DB.prepare("SELECT count(*) AS n FROM fill_history WHERE user_id = ?").bind(trader.id).first<{ n: number }>())!.n >= 3 ? true : undefined), "the fills to be projected", 15_000);

    const fillsBefore = await d1Count("fill_history");
    const ordersBefore = await d1Count("order_history");
    const res = await call("/metrics", { token: admin.access });
    const fillsAfter = await d1Count("fill_history");
    const ordersAfter = await d1Count("order_history");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const metrics = parse(await res.text());

    expect(metrics.types.get("redfire_fills_total")).toBe("counter");
    expect(metrics.types.get("redfire_orders")).toBe("gauge");
    const fills = total(metrics, "redfire_fills_total");
    expect(fills).toBeGreaterThanOrEqual(fillsBefore);
    expect(fills).toBeLessThanOrEqual(fillsAfter);
    const orders = total(metrics, "redfire_orders");
    expect(orders).toBeGreaterThanOrEqual(ordersBefore);
    expect(orders).toBeLessThanOrEqual(ordersAfter);
    expect(metrics.samples.find((s) => s.name === "redfire_orders" && s.labels.status === "filled")?.value).toBeGreaterThanOrEqual(3);
    // One sample per hub, and the configuration's version.
    expect(metrics.samples.filter((s) => s.name === "redfire_market_sockets")).toHaveLength(Number(env.STREAM_HUBS));
    expect(metrics.samples.find((s) => s.name === "redfire_config_version")?.value).toBeGreaterThanOrEqual(0);
    expect(metrics.samples.find((s) => s.name === "redfire_event_lag_seconds")?.value).toBeGreaterThanOrEqual(0);
  });
});
