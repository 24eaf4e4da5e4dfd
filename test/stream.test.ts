import { decode, decodeTimestampToTimeSpec, EXT_TIMESTAMP, ExtensionCodec } from "@msgpack/msgpack";
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, signUp, type TestUser } from "./helpers";
import { createInstrument, step } from "./market-helpers";
import { StreamClient, type StreamMessage } from "./stream-client";

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

/**
 * Lets the runtime take a frame before the next is sent. Frames sent in one synchronous run
 * can reach the hub's webSocketMessage out of order in the local runtime, whatever the hub
 * does; a turn between them is still far shorter than an auth's credential check.
 */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

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

  it("closes a socket that has not authenticated within 10 s (Alpaca's auth timeout), market data and trade updates alike, and keeps one that has", async () => {
    const opened = Date.now();
    const [idle, trades, signedIn] = await Promise.all([StreamClient.open("/v2/iex"), StreamClient.open("/stream"), StreamClient.open("/v2/iex")]);
    signedIn.send({ action: "auth", token: trader.access });
    await signedIn.waitFor((m) => m.msg === "authenticated");
    await idle.waitFor((m) => m.T === "error" && m.code === 404 && m.msg === "auth timeout", 20_000);
    // Not before its time: a client has the whole 10 s to authenticate.
    expect(Date.now() - opened).toBeGreaterThanOrEqual(10_000);
    expect(await idle.waitForClose(15_000)).toMatchObject({ code: 1008 });
    const refused = await trades.waitFor((m) => m.stream === "authorization", 20_000);
    expect(refused.data).toEqual({ status: "unauthorized", action: "authenticate", message: "authentication timed out" });
    expect(await trades.waitForClose(15_000)).toMatchObject({ code: 1008 });
    expect(signedIn.closed).toBeUndefined();
    signedIn.close();
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

  it("takes a subscribe sent right behind the auth after it, never answering 401 (20 connections)", async () => {
    const a = await createInstrument(admin);
    // A user of its own: 20 sockets at once would pass the per-user connection limit, so 4 rounds of 5.
    const owner = await signUp();
    const own = await createKey(owner, ["read"]);
    for (let round = 0; round < 4; round++) {
      const clients = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          const client = await StreamClient.open("/v2/iex", i % 2 ? { "content-type": "application/msgpack" } : {});
          // As the SDKs do: the greeting first, then auth and subscribe without waiting between them.
          await client.waitFor((m) => m.msg === "connected");
          client.send({ action: "auth", key: own.key_id, secret: own.secret });
          await nextTurn();
          client.send({ action: "subscribe", trades: [a.symbol] });
          return client;
        }),
      );
      for (const client of clients) {
        await client.waitFor((m) => m.T === "subscription");
        // In order: connected, authenticated, then the subscription's echo.
        expect(client.messages.map((m) => [m.T, m.msg ?? null])).toEqual([
          ["success", "connected"],
          ["success", "authenticated"],
          ["subscription", null],
        ]);
        expect(client.messages[2]).toMatchObject({ trades: [a.symbol], quotes: [] });
      }
      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client.waitForClose().catch(() => undefined)));
    }
  });

  it("answers a second auth sent right behind the first with 403 once the first succeeds", async () => {
    for (let i = 0; i < 5; i++) {
      const client = await StreamClient.open("/v2/iex");
      await client.waitFor((m) => m.msg === "connected");
      client.send({ action: "auth", key: key.key_id, secret: key.secret });
      await nextTurn();
      client.send({ action: "auth", key: key.key_id, secret: key.secret });
      await nextTurn();
      client.send({ action: "auth", token: trader.access });
      await client.waitFor((m) => m.T === "error" && m.code === 403 && client.messages.filter((x) => x.code === 403).length === 2);
      expect(client.messages).toEqual([
        { T: "success", msg: "connected" },
        { T: "success", msg: "authenticated" },
        { T: "error", code: 403, msg: "already authenticated" },
        { T: "error", code: 403, msg: "already authenticated" },
      ]);
      expect(client.closed).toBeUndefined();
      client.close();
    }
  });

  it("after a failed auth, the frames sent behind it get what an unauthenticated socket gets", async () => {
    const refused = await StreamClient.open("/v2/iex");
    await refused.waitFor((m) => m.msg === "connected");
    refused.send({ action: "auth", key: key.key_id, secret: "wrong-secret" });
    await nextTurn();
    refused.send({ action: "subscribe", trades: ["AAPL"] });
    await nextTurn();
    refused.send({ action: "unsubscribe", trades: ["AAPL"] });
    expect((await refused.waitForClose()).code).toBe(1008);
    // Closed at the 402: nothing after it, and no success.
    expect(refused.messages).toEqual([
      { T: "success", msg: "connected" },
      { T: "error", code: 402, msg: "auth failed" },
    ]);
    // Refused unchecked (both credentials): the socket stays unauthenticated (each answer
    // awaited: the local runtime may hand the hub a socket's first frame after later ones).
    const both = await StreamClient.open("/v2/iex");
    await both.waitFor((m) => m.msg === "connected");
    for (const [message, answered] of [
      [{ action: "auth", key: key.key_id, secret: key.secret, token: trader.access }, 2],
      [{ action: "subscribe", trades: ["AAPL"] }, 3],
      [{ action: "auth", key: key.key_id, secret: key.secret }, 4],
      [{ action: "subscribe", trades: ["AAPL"] }, 5],
    ] as const) {
      both.send(message);
      await both.waitFor(() => both.messages.length >= answered);
    }
    expect(both.messages.map((m) => m.code ?? m.msg ?? m.T)).toEqual(["connected", 400, 401, "authenticated", "subscription"]);
    both.close();
  });

  it("holds at most 16 frames behind an auth being checked: past them, error 429 and a close", async () => {
    const client = await StreamClient.open("/v2/iex");
    await client.waitFor((m) => m.msg === "connected");
    client.send({ action: "auth", key: key.key_id, secret: key.secret });
    await nextTurn();
    for (let i = 0; i < 40; i++) client.send({ action: "subscribe", trades: ["AAPL"] });
    const error = await client.waitFor((m) => m.T === "error");
    expect(error).toEqual({ T: "error", code: 429, msg: "too many messages: at most 16 before the authentication is answered" });
    expect((await client.waitForClose()).code).toBe(1008);
    expect(client.messages.some((m) => m.msg === "authenticated" || m.T === "subscription")).toBe(false);
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

  it("a wildcard subscription takes a symbol listed after it (found in QA: it kept the symbols of when it was made)", async () => {
    const client = await authed();
    client.send({ action: "subscribe", quotes: ["*"] });
    await client.waitFor((m) => m.T === "subscription");
    const later = await createInstrument(admin);
    await step(later.symbol);
    await client.waitFor((m) => m.T === "q" && m.S === later.symbol);
    client.close();
  });

  it("symbols named beside \"*\" stay subscribed when \"*\" is dropped (found in QA: the wildcard swallowed them)", async () => {
    const named = await createInstrument(admin);
    const client = await authed();
    client.send({ action: "subscribe", trades: [named.symbol] });
    await client.waitFor((m) => m.T === "subscription");
    client.send({ action: "subscribe", trades: ["*"] });
    const both = await client.waitFor((m) => m.T === "subscription" && Array.isArray(m.trades) && m.trades.includes("*"));
    expect(both.trades).toEqual([named.symbol, "*"]);
    client.send({ action: "unsubscribe", trades: ["*"] });
    const left = await client.waitFor((m) => m.T === "subscription" && Array.isArray(m.trades) && !m.trades.includes("*"));
    expect(left.trades).toEqual([named.symbol]);
    await step(named.symbol);
    await client.waitFor((m) => m.T === "t" && m.S === named.symbol);
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

  it("sends each data message's t as msgpack's timestamp extension (-1) in msgpack, as an RFC-3339 string in JSON", async () => {
    const a = await createInstrument(admin);
    const [json, packed] = await Promise.all([authed("/v2/iex"), authed("/v2/iex", { "content-type": "application/msgpack" })]);
    for (const client of [json, packed]) {
      client.send({ action: "subscribe", trades: [a.symbol], quotes: [a.symbol] });
      await client.waitFor((m) => m.T === "subscription");
    }
    await step(a.symbol, 2);
    const trade = await json.waitFor((m) => m.T === "t" && m.S === a.symbol);
    const quote = await json.waitFor((m) => m.T === "q" && m.S === a.symbol);
    // JSON keeps the string.
    for (const m of [trade, quote]) expect(m.t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // The same trade and quote on the msgpack socket (the default decoder reads the extension as a Date).
    await packed.waitFor((m) => m.T === "t" && m.S === a.symbol && m.i === trade.i);
    await packed.waitFor((m) => m.T === "q" && m.S === a.symbol && m.t instanceof Date && m.t.getTime() === Date.parse(quote.t as string));

    // Decoded again with a codec that records the extension itself, as alpaca-py's
    // `msg["t"].to_datetime()` needs it: type -1, with the message's instant.
    const codec = new ExtensionCodec();
    codec.register({ type: EXT_TIMESTAMP, encode: () => null, decode: (data: Uint8Array) => ({ extension: EXT_TIMESTAMP, ...decodeTimestampToTimeSpec(data) }) });
    const raw = packed.rawFrames.flatMap((bytes) => decode(bytes, { extensionCodec: codec }) as StreamMessage[]);
    const instant = (m: StreamMessage | undefined) => {
      const t = m?.t as { extension?: number; sec: number; nsec: number } | undefined;
      expect(t?.extension, JSON.stringify(m)).toBe(EXT_TIMESTAMP);
      return t!.sec * 1000 + t!.nsec / 1e6;
    };
    expect(instant(raw.find((m) => m.T === "t" && m.i === trade.i))).toBe(Date.parse(trade.t as string));
    expect(instant(raw.find((m) => m.T === "q" && (m.t as { sec: number; nsec: number }).sec * 1000 + (m.t as { nsec: number }).nsec / 1e6 === Date.parse(quote.t as string)))).toBe(Date.parse(quote.t as string));
    // Every data message carries the extension, and no control message a `t`.
    for (const m of raw) {
      if (["t", "q", "b", "u", "d", "o"].includes(m.T)) expect((m.t as { extension?: number }).extension).toBe(EXT_TIMESTAMP);
      else expect(m).not.toHaveProperty("t");
    }
    json.close();
    packed.close();
  });

  it("sends the order book and bar t of a crypto pair as the timestamp extension in msgpack", async () => {
    const pair = await createInstrument(admin, { class: "crypto" });
    const client = await authed("/v1beta3/crypto/us", { "content-type": "application/msgpack" });
    client.send({ action: "subscribe", orderbooks: [pair.symbol], updatedBars: [pair.symbol], trades: [pair.symbol] });
    await client.waitFor((m) => m.T === "subscription");
    await step(pair.symbol, 2);
    for (const T of ["o", "t"]) {
      const m = await client.waitFor((x) => x.T === T && x.S === pair.symbol);
      expect(m.t, T).toBeInstanceOf(Date);
      expect(Number.isFinite((m.t as Date).getTime())).toBe(true);
    }
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

  it("says a stock has no order book, rather than that it is unknown, and takes it on the channels it has", async () => {
    const [stock, pair] = await Promise.all([createInstrument(admin), createInstrument(admin, { class: "crypto" })]);
    const client = await authed("/v2/all");
    client.send({ action: "subscribe", trades: [pair.symbol, stock.symbol], orderbooks: [pair.symbol, stock.symbol, "NOPE1"] });
    const echo = await client.waitFor((m) => m.T === "subscription");
    expect(echo).toMatchObject({ trades: [pair.symbol, stock.symbol], orderbooks: [pair.symbol] });
    expect(client.messages.filter((m) => m.T === "error").map((m) => m.msg)).toEqual([`invalid syntax: no orderbooks for ${stock.symbol}`, "invalid syntax: unknown symbol NOPE1"]);
    client.close();
  });
});

