import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, signUp, type TestUser } from "./helpers";
import { createInstrument, step } from "./market-helpers";
import { StreamClient } from "./stream-client";

let admin: TestUser;
let trader: TestUser;
let key: { key_id: string; secret: string };

beforeAll(async () => {
  [admin, trader] = await Promise.all([signUp("admin"), signUp()]);
  key = await createKey(trader, ["read"]);
});

/** The hub holding a user's (one) authenticated socket. */
async function hubOf(userId: string): Promise<string> {
  const hubs = Array.from({ length: Number(env.STREAM_HUBS) }, (_, i) => `hub-${i}`);
  const counts = await Promise.all(hubs.map(async (hub) => (await env.STREAM_HUB.getByName(hub).stats(userId)).ofUser));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
  return hubs[counts.findIndex((n) => n > 0)]!;
}

const authed = async (path = "/v2/iex", headers: Record<string, string> = {}) => {
  const client = await StreamClient.open(path, headers);
  await client.waitFor((m) => m.T === "success" && m.msg === "connected");
  if (!headers["apca-api-key-id"] && !headers.authorization) client.send({ action: "auth", key: key.key_id, secret: key.secret });
  await client.waitFor((m) => m.T === "success" && m.msg === "authenticated");
  return client;
};

describe("market-data stream protocol", () => {
  it("greets, refuses a subscription before auth, and closes after a failed auth", async () => {
    const client = await StreamClient.open("/v2/iex");
    await client.waitFor((m) => m.msg === "connected");
    client.send({ action: "subscribe", trades: ["AAPL"] });
    await client.waitFor((m) => m.T === "error" && m.code === 401);
    client.send({ action: "auth", key: key.key_id, secret: "wrong-secret" });
    await client.waitFor((m) => m.T === "error" && m.code === 402);
    expect((await client.waitForClose()).code).toBe(1008);
  });

  it("authenticates by message with an API key or a JWT, once", async () => {
    const byKey = await authed();
    byKey.send({ action: "auth", key: key.key_id, secret: key.secret });
    await byKey.waitFor((m) => m.T === "error" && m.code === 403);
    byKey.close();
    const byToken = await StreamClient.open("/v2/iex");
    byToken.send({ action: "auth", token: trader.access });
    await byToken.waitFor((m) => m.msg === "authenticated");
    byToken.close();
  });

  it("refuses an auth message carrying both a key and a token with error 400, authenticating neither (the token won)", async () => {
    for (const both of [
      { key: "AAAAAAAAAAAAAAAAAAAA", secret: "s", token: trader.access },
      { key: key.key_id, secret: key.secret, token: trader.access },
      { secret: key.secret, token: trader.access },
    ]) {
      const client = await StreamClient.open("/v2/iex");
      await client.waitFor((m) => m.msg === "connected");
      client.send({ action: "auth", ...both });
      await client.waitFor((m) => m.T === "error" && m.code === 400 && m.msg === "invalid syntax: give either key and secret or a token, not both");
      // Not authenticated, and the socket stays for a message with one credential.
      client.send({ action: "subscribe", trades: ["AAPL"] });
      await client.waitFor((m) => m.T === "error" && m.code === 401);
      expect(client.messages.some((m) => m.msg === "authenticated")).toBe(false);
      client.send({ action: "auth", token: trader.access });
      await client.waitFor((m) => m.msg === "authenticated");
      client.close();
    }
  });

  it("authenticates at the handshake with Alpaca's key headers, and refuses bad ones", async () => {
    const client = await authed("/v2/sip", { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret });
    client.close();
    const res = await call("/v2/sip", { apiKey: { key_id: key.key_id, secret: "nope" }, headers: { upgrade: "websocket" } });
    expect(res.status).toBe(401);
  });

  it("answers malformed messages with error 400 and keeps the socket", async () => {
    const client = await authed();
    client.ws.send("{not json");
    await client.waitFor((m) => m.T === "error" && m.code === 400);
    client.send({ action: "dance" });
    await client.waitFor((m) => m.T === "error" && m.code === 400 && m.msg === "invalid syntax");
    client.send({ action: "subscribe", quotes: ["NOPE", "AAPL"] });
    await client.waitFor((m) => m.T === "error" && String(m.msg).includes("NOPE"));
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo.quotes).toEqual(["AAPL"]);
    expect(client.closed).toBeUndefined();
    client.close();
  });

  it("refuses an oversized frame with error 400 before parsing it, and keeps the socket", async () => {
    const client = await authed();
    client.ws.send(JSON.stringify({ action: "subscribe", trades: ["X".repeat(300 * 1024)] }));
    const error = await client.waitFor((m) => m.T === "error" && m.code === 400);
    expect(error.msg).toMatch(/over the \d+-byte limit/);
    client.send({ action: "subscribe", trades: ["AAPL"] });
    await client.waitFor((m) => m.T === "subscription");
    expect(client.closed).toBeUndefined();
    client.close();
  });

  it("a hub answers a plain request with 426", async () => {
    const res = await env.STREAM_HUB.getByName("hub-plain-request").fetch("http://hub/");
    expect(res.status).toBe(426);
  });

  it("delivers only what was subscribed, echoes the full subscription, and stops after unsubscribe", async () => {
    const [a, b] = await Promise.all([createInstrument(admin), createInstrument(admin)]);
    const client = await authed();
    client.send({ action: "subscribe", trades: [a.symbol], quotes: [] });
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo).toMatchObject({ trades: [a.symbol], quotes: [], bars: [], updatedBars: [], dailyBars: [], statuses: [], lulds: [], corrections: [a.symbol], cancelErrors: [a.symbol] });
    await step(b.symbol, 2);
    await step(a.symbol, 2);
    const trade = await client.waitFor((m) => m.T === "t" && m.S === a.symbol && m.i === 2);
    expect(trade).toMatchObject({ x: "V", z: "C", c: [] });
    expect(typeof trade.p).toBe("number");
    expect(client.messages.filter((m) => m.S === b.symbol)).toEqual([]);
    expect(client.messages.filter((m) => m.T === "q")).toEqual([]);

    client.send({ action: "unsubscribe", trades: [a.symbol] });
    await client.waitFor((m) => m.T === "subscription" && Array.isArray(m.trades) && m.trades.length === 0);
    const before = client.messages.length;
    await step(a.symbol, 2);
    // Another client subscribed to the symbol proves the ticks were published.
    const witness = await authed();
    witness.send({ action: "subscribe", trades: [a.symbol] });
    await witness.waitFor((m) => m.T === "subscription");
    await step(a.symbol, 1);
    await witness.waitFor((m) => m.T === "t" && m.S === a.symbol);
    expect(client.messages.slice(before).filter((m) => m.S === a.symbol)).toEqual([]);
    client.close();
    witness.close();
  });

  it("a wildcard subscription gets every symbol of its kind", async () => {
    const [a, b] = await Promise.all([createInstrument(admin), createInstrument(admin)]);
    const client = await authed();
    client.send({ action: "subscribe", quotes: ["*"] });
    await client.waitFor((m) => m.T === "subscription");
    await step(a.symbol);
    await step(b.symbol);
    await client.waitFor((m) => m.T === "q" && m.S === a.symbol);
    await client.waitFor((m) => m.T === "q" && m.S === b.symbol);
    client.close();
  });

  it("speaks msgpack when the handshake asks for it", async () => {
    const a = await createInstrument(admin);
    const client = await authed("/v2/iex", { "content-type": "application/msgpack" });
    client.send({ action: "subscribe", trades: [a.symbol] });
    await client.waitFor((m) => m.T === "subscription");
    await step(a.symbol);
    const trade = await client.waitFor((m) => m.T === "t" && m.S === a.symbol);
    expect(typeof trade.p).toBe("number");
    expect(client.binaryFrames).toBe(client.frames.length);
    client.close();
  });

  it("reads a binary control frame as JSON on a JSON socket (it was decoded as msgpack and refused)", async () => {
    const a = await createInstrument(admin);
    const client = await authed("/v2/iex");
    client.ws.send(new TextEncoder().encode(JSON.stringify({ action: "subscribe", trades: [a.symbol] })));
    const subscription = await client.waitFor((m) => m.T === "subscription");
    expect(subscription.trades).toEqual([a.symbol]);
    expect(client.messages.filter((m) => m.T === "error")).toEqual([]);
    client.close();
  });

  it("the crypto stream serves pairs with orderbooks, and refuses stocks", async () => {
    const pair = await createInstrument(admin, { class: "crypto" });
    const client = await authed("/v1beta3/crypto/us");
    client.send({ action: "subscribe", trades: [pair.symbol], orderbooks: [pair.symbol], quotes: ["AAPL"] });
    await client.waitFor((m) => m.T === "error" && String(m.msg).includes("AAPL"));
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo).toMatchObject({ trades: [pair.symbol], orderbooks: [pair.symbol], quotes: [] });
    expect(echo).not.toHaveProperty("statuses");
    await step(pair.symbol);
    const book = await client.waitFor((m) => m.T === "o" && m.S === pair.symbol);
    expect((book.b as { p: number }[])[0]!.p).toBeLessThan((book.a as { p: number }[])[0]!.p);
    await client.waitFor((m) => m.T === "t" && m.S === pair.symbol && (m.tks === "B" || m.tks === "S"));
    client.close();
  });

  it("a reconnecting client resubscribes and receives data again", async () => {
    const a = await createInstrument(admin);
    const first = await authed();
    first.send({ action: "subscribe", trades: [a.symbol] });
    await first.waitFor((m) => m.T === "subscription");
    first.close();
    await first.waitForClose().catch(() => undefined);
    const second = await authed();
    second.send({ action: "subscribe", trades: [a.symbol] });
    await second.waitFor((m) => m.T === "subscription");
    await step(a.symbol);
    await second.waitFor((m) => m.T === "t" && m.S === a.symbol);
    second.close();
  });

  it.each(["/v2/iex", "/v2/all"])("keeps subscriptions when a hub is woken from hibernation with nothing in memory (%s)", async (path) => {
    const a = await createInstrument(admin);
    const owner = await signUp();
    const own = await createKey(owner, ["read"]);
    const client = await authed(path, { "apca-api-key-id": own.key_id, "apca-api-secret-key": own.secret });
    client.send({ action: "subscribe", trades: [a.symbol] });
    await client.waitFor((m) => m.T === "subscription");
    const hub = await hubOf(owner.id);
    const before = await env.STREAM_HUB.getByName(hub).stats();
    // Hibernation drops the hub's memory but keeps its sockets; a local hub hibernates
    // after ~10 s without events. Other test files' sockets may land on the same hub and
    // keep it awake, so wait in rounds until a fresh instance answers (each look wakes it,
    // which is what the test wants to see happen from nothing).
    let woken = before;
    for (let round = 0; round < 4 && woken.instance === before.instance; round++) {
      await new Promise((r) => setTimeout(r, 12_000));
      woken = await env.STREAM_HUB.getByName(hub).stats();
    }
    expect(woken.instance, "the hub never hibernated").not.toBe(before.instance);
    await step(a.symbol);
    await client.waitFor((m) => m.T === "t" && m.S === a.symbol, 10_000);
    // The trade went out through a fresh instance, which found the socket when it started:
    // the hub did hibernate, and rebuilt its index from the attachments.
    const after = await env.STREAM_HUB.getByName(hub).stats();
    expect(after.instance).not.toBe(before.instance);
    expect(after.restored).toBeGreaterThan(0);
    client.close();
  }, 90_000);

  it("closes a connection that does not authenticate within 10 seconds (error 404)", async () => {
    const client = await StreamClient.open("/v2/iex");
    await client.waitFor((m) => m.msg === "connected");
    await client.waitFor((m) => m.T === "error" && m.code === 404, 15_000);
    expect((await client.waitForClose()).code).toBe(1008);
  }, 30_000);

  it("applies the handshake's permission rule in-band: a guest gets no stock data, but may stream crypto (public on REST)", async () => {
    const guest = await signUp("guest");
    const stocks = await StreamClient.open("/v2/iex");
    stocks.send({ action: "auth", token: guest.access });
    await stocks.waitFor((m) => m.T === "error" && m.code === 409);
    expect((await stocks.waitForClose()).code).toBe(1008);
    expect(stocks.messages.some((m) => m.msg === "authenticated")).toBe(false);
    const both = await StreamClient.open("/v2/all");
    both.send({ action: "auth", token: guest.access });
    await both.waitFor((m) => m.T === "error" && m.code === 409);
    expect((await call("/v2/iex", { token: guest.access, headers: { upgrade: "websocket" } })).status).toBe(403);

    const crypto = await StreamClient.open("/v1beta3/crypto/us");
    crypto.send({ action: "auth", token: guest.access });
    await crypto.waitFor((m) => m.msg === "authenticated");
    crypto.close();
    const atHandshake = await authed("/v1beta3/crypto/us", { authorization: `Bearer ${guest.access}` });
    atHandshake.close();
  });

  it("refuses a revoked key", async () => {
    const own = await createKey(trader, ["read"]);
    await call(`/api/keys/${own.key_id}`, { method: "DELETE", token: trader.access });
    const client = await StreamClient.open("/v2/iex");
    client.send({ action: "auth", key: own.key_id, secret: own.secret });
    await client.waitFor((m) => m.T === "error" && m.code === 402);
  });
});

describe("RedFire's combined stream at /v2/all", () => {
  it("streams stocks and crypto on one socket, with each class's own channels", async () => {
    const [stock, pair] = await Promise.all([createInstrument(admin), createInstrument(admin, { class: "crypto" })]);
    const client = await authed("/v2/all");
    client.send({ action: "subscribe", quotes: [stock.symbol, pair.symbol], orderbooks: [pair.symbol, stock.symbol] });
    // An equity has no order book: refused on that channel only.
    await client.waitFor((m) => m.T === "error" && String(m.msg).includes(stock.symbol));
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo.quotes).toEqual([stock.symbol, pair.symbol]);
    expect(echo.orderbooks).toEqual([pair.symbol]);
    await Promise.all([step(stock.symbol), step(pair.symbol)]);
    await client.waitFor((m) => m.T === "q" && m.S === stock.symbol);
    await client.waitFor((m) => m.T === "q" && m.S === pair.symbol);
    await client.waitFor((m) => m.T === "o" && m.S === pair.symbol);
    client.send({ action: "unsubscribe", quotes: [pair.symbol] });
    const after = await client.waitFor((m) => m.T === "subscription" && Array.isArray(m.quotes) && m.quotes.length === 1);
    expect(after.quotes).toEqual([stock.symbol]);
    client.close();
  });

  it("lists stocks only on corrections and cancelErrors, which pairs do not have (a pair on trades was listed there)", async () => {
    const [stock, pair] = await Promise.all([createInstrument(admin), createInstrument(admin, { class: "crypto" })]);
    const client = await authed("/v2/all");
    client.send({ action: "subscribe", trades: [pair.symbol, stock.symbol] });
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo).toMatchObject({ trades: [pair.symbol, stock.symbol], corrections: [stock.symbol], cancelErrors: [stock.symbol] });
    client.send({ action: "unsubscribe", trades: [stock.symbol] });
    const after = await client.waitFor((m) => m.T === "subscription" && Array.isArray(m.trades) && m.trades.length === 1);
    expect(after).toMatchObject({ trades: [pair.symbol], corrections: [], cancelErrors: [] });
    client.close();
  });
});

