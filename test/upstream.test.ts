import { env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { call, createKey, json, signUp, type TestUser } from "./helpers";
import { createInstrument, freshSymbol, step } from "./market-helpers";
import { StreamClient } from "./stream-client";

// The adapter against a fake upstream feed that the test run starts (test/fake-upstream.ts).
const upstream = inject("upstream");
let admin: TestUser;

beforeAll(async () => {
  admin = await signUp("admin");
});

const control = (command: Record<string, unknown>) => fetch(upstream.control, { method: "POST", body: JSON.stringify(command) });
const upstreamState = async () => (await (await fetch(upstream.control)).json()) as { connections: number; open: number; received: { action?: string; trades?: string[] }[] };
const status = (symbol: string) => env.MARKET.getByName(symbol).status();

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function connectedFeed(staleAfterMs = 10_000) {
  const symbol = freshSymbol("U");
  const before = (await upstreamState()).connections;
  await createInstrument(admin, { symbol, feed: { kind: "upstream", url: upstream.url, symbol, key: "upstream-key", secret: "upstream-secret", staleAfterMs } });
  await step(symbol);
  await until(async () => (await upstreamState()).connections > before && (await status(symbol)).upstream?.connected, "the adapter to connect");
  return symbol;
}

const trade = (symbol: string, t: string, p: number | string, s: number | string, i: number) => ({ T: "t", S: symbol, t, p, s, i, x: "V", c: [], z: "C" });

describe("upstream feed adapter", () => {
  it("connects, authenticates, subscribes, and maps trades and quotes onto the grid", async () => {
    const symbol = await connectedFeed();
    const received = (await upstreamState()).received;
    expect(received).toContainEqual({ action: "auth", key: "upstream-key", secret: "upstream-secret" });
    expect(received.some((m) => m.action === "subscribe" && m.trades?.includes(symbol))).toBe(true);
    await control({
      action: "send",
      frames: [trade(symbol, "2026-01-05T15:00:01.000Z", 101.25, 10, 1), { T: "q", S: symbol, t: "2026-01-05T15:00:01.500Z", bp: 101.2, bs: 3, ap: 101.3, as: 4 }, trade("OTHER", "2026-01-05T15:00:02.000Z", 5, 1, 9)],
    });
    const user = await signUp();
    const trades = await until(async () => {
      const body = await json<{ trades: { p: number; s: number }[] }>(await call(`/v2/stocks/${symbol}/trades?start=2026-01-01`, { token: user.access }));
      return body.trades.length > 0 && body.trades;
    }, "the trade to be stored");
    expect(trades).toEqual([expect.objectContaining({ p: 101.25, s: 10 })]);
    const snap = await json<{ latestQuote: { bp: number; ap: number } }>(await call(`/v2/stocks/${symbol}/snapshot`, { token: user.access }));
    expect(snap.latestQuote).toMatchObject({ bp: 101.2, ap: 101.3 });
  });

  it("counts and skips malformed messages, and keeps going", async () => {
    const symbol = await connectedFeed();
    await control({ action: "raw", raw: "this is not json" });
    await control({ action: "send", frames: [{ T: "t", S: symbol, t: "yesterday", p: 1, s: 1 }, { T: "q", S: symbol, t: "2026-01-05T15:00:00Z", bp: 10, ap: 9, bs: 1, as: 1 }, { T: "zz" }] });
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T15:00:03.000Z", 100, 1, 2)] });
    const s = await until(async () => {
      const st = await status(symbol);
      return st.upstream && st.upstream.malformed >= 4 && st.lastTradeAt !== null ? st : undefined;
    }, "malformed messages to be counted");
    expect(s.upstream?.malformed).toBe(4);
    expect(s.lastTradeAt).toBe("2026-01-05T15:00:03.000Z");
  });

  it("reconnects after the upstream drops, with back-off, and resumes", async () => {
    const symbol = await connectedFeed();
    const connections = (await upstreamState()).connections;
    await control({ action: "drop" });
    await until(async () => (await status(symbol)).upstream?.connected === false, "the drop to be noticed");
    await until(async () => {
      await step(symbol);
      return (await status(symbol)).upstream?.connected;
    }, "a reconnection", 10_000);
    expect((await upstreamState()).connections).toBeGreaterThan(connections);
    expect((await status(symbol)).upstream?.reconnects).toBeGreaterThanOrEqual(1);
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T16:00:00.000Z", 99, 1, 3)] });
    await until(async () => (await status(symbol)).lastTradeAt === "2026-01-05T16:00:00.000Z", "data after reconnecting");
  });

  it("flags a feed that has gone quiet as stale, and clears it when data returns", async () => {
    const symbol = await connectedFeed(300);
    await new Promise((r) => setTimeout(r, 500));
    await step(symbol);
    expect((await status(symbol)).upstream?.stale).toBe(true);
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T17:00:00.000Z", 98, 1, 4)] });
    await until(async () => (await status(symbol)).lastTradeAt === "2026-01-05T17:00:00.000Z", "the trade");
    await step(symbol);
    expect((await status(symbol)).upstream?.stale).toBe(false);
  });

  it("streams a closed minute bar, and an updated bar when a late trade amends it", async () => {
    const symbol = await connectedFeed();
    const user = await signUp();
    const key = await createKey(user, ["read"]);
    const client = await StreamClient.open("/v2/iex");
    client.send({ action: "auth", key: key.key_id, secret: key.secret });
    await client.waitFor((m) => m.msg === "authenticated");
    client.send({ action: "subscribe", bars: [symbol], updatedBars: [symbol], dailyBars: [symbol] });
    await client.waitFor((m) => m.T === "subscription");
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T15:00:10.000Z", 100, 1, 1), trade(symbol, "2026-01-05T15:00:50.000Z", 101, 2, 2)] });
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T15:01:05.000Z", 102, 3, 3)] });
    const bar = await client.waitFor((m) => m.T === "b" && m.S === symbol);
    expect(bar).toMatchObject({ t: "2026-01-05T15:00:00.000Z", o: 100, h: 101, l: 100, c: 101, v: 3, n: 2 });
    await client.waitFor((m) => m.T === "d" && m.S === symbol);
    // Arrives after the 15:00 bar was sent, but belongs to it.
    await control({ action: "send", frames: [trade(symbol, "2026-01-05T15:00:30.000Z", 99, 4, 4)] });
    const updated = await client.waitFor((m) => m.T === "u" && m.S === symbol);
    expect(updated).toMatchObject({ t: "2026-01-05T15:00:00.000Z", o: 100, h: 101, l: 99, c: 101, v: 7, n: 3 });
    client.close();
  });
});
