import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, json, signUp, type TestUser } from "./helpers";
import { createInstrument, step } from "./market-helpers";
import { StreamClient, type StreamMessage } from "./stream-client";

// The crypto order-book stream as ccxt pro's watchOrderBook reads it: a message with
// `r: true` replaces the client's book, any other is merged level by level (size 0
// removes a level). The book must never cross and must end as REST's latest book.

let admin: TestUser;
let key: { key_id: string; secret: string };

beforeAll(async () => {
  let trader: TestUser;
  [admin, trader] = await Promise.all([signUp("admin"), signUp()]);
  key = await createKey(trader, ["read"]);
});

type Level = { p: number; s: number };
type Book = { t: string; b: Level[]; a: Level[] };

/** A message's `t` as RFC-3339: msgpack carries it as the timestamp extension, decoded to a Date. */
const timeOf = (m: StreamMessage): unknown => (m.t instanceof Date ? m.t.toISOString() : m.t);

/** A client-side book kept the way ccxt pro keeps it. */
class ClientBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  t = "";

  apply(m: StreamMessage): void {
    if (m.r === true) {
      this.bids.clear();
      this.asks.clear();
    }
    for (const [side, levels] of [[this.bids, m.b], [this.asks, m.a]] as const) {
      for (const { p, s } of levels as Level[]) {
        if (s === 0) side.delete(p);
        else side.set(p, s);
      }
    }
    this.t = timeOf(m) as string;
  }

  get crossed(): boolean {
    if (this.bids.size === 0 || this.asks.size === 0) return false;
    return Math.max(...this.bids.keys()) >= Math.min(...this.asks.keys());
  }

  toBook(): Book {
    const levels = (side: Map<number, number>, order: 1 | -1) => [...side].map(([p, s]) => ({ p, s })).sort((x, y) => order * (x.p - y.p));
    return { t: this.t, b: levels(this.bids, -1), a: levels(this.asks, 1) };
  }
}

async function latestBook(symbol: string): Promise<Book> {
  const res = await call(`/v1beta3/crypto/us/latest/orderbooks?symbols=${encodeURIComponent(symbol)}`);
  expect(res.status).toBe(200);
  return (await json<{ orderbooks: Record<string, Book> }>(res)).orderbooks[symbol]!;
}

const sameBook = (m: StreamMessage, book: Book) => timeOf(m) === book.t && JSON.stringify(m.b) === JSON.stringify(book.b) && JSON.stringify(m.a) === JSON.stringify(book.a);

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe("the crypto order-book stream", () => {
  it.each([
    ["JSON", {}],
    ["msgpack", { "content-type": "application/msgpack" }],
  ])("starts each subscriber with a whole book and never lets a ccxt-style book cross (%s)", async (_, encoding: Record<string, string>) => {
    // A fine tick and a wild simulator: the quote moves hundreds of ticks a step, so levels
    // left behind by an update that did not remove them would cross the book at once.
    const pair = await createInstrument(admin, {
      class: "crypto",
      tick_size: "0.0001",
      feed: { kind: "sim", params: { seed: 11, startPrice: "100.00", volatility: 10, tradeProbability: 0, tickIntervalMs: 3_600_000 } },
    });
    const client = await StreamClient.open("/v1beta3/crypto/us", { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret, ...encoding });
    await client.waitFor((m) => m.T === "success" && m.msg === "authenticated");
    client.send({ action: "subscribe", orderbooks: [pair.symbol] });
    await client.waitFor((m) => m.T === "subscription");

    // Before the pair has printed anything more: the book as it stands, marked a reset.
    const first = await client.waitFor((m) => m.T === "o" && m.S === pair.symbol);
    expect(first.r).toBe(true);
    expect(sameBook(first, await latestBook(pair.symbol))).toBe(true);

    await step(pair.symbol, 25);
    const rest = await latestBook(pair.symbol);
    await client.waitFor((m) => m.T === "o" && sameBook(m, rest));
    const frames = client.messages.filter((m) => m.T === "o" && m.S === pair.symbol);
    expect(frames.length).toBeGreaterThan(20);
    const book = new ClientBook();
    for (const frame of frames) {
      // JSON carries an RFC-3339 string, msgpack the timestamp extension (as Alpaca does).
      if (encoding["content-type"]) expect(frame.t).toBeInstanceOf(Date);
      expect(timeOf(frame)).toMatch(RFC3339);
      expect(Number.isFinite(Date.parse(timeOf(frame) as string))).toBe(true);
      book.apply(frame);
      expect(book.crossed, JSON.stringify(book.toBook())).toBe(false);
    }
    expect(book.toBook()).toEqual(rest);
    if (encoding["content-type"]) expect(client.binaryFrames).toBe(client.frames.length);
    client.close();
  });

  it("a second subscriber to a pair already streaming gets the current book at once", async () => {
    const pair = await createInstrument(admin, { class: "crypto" });
    const open = async () => {
      const client = await StreamClient.open("/v1beta3/crypto/us", { "apca-api-key-id": key.key_id, "apca-api-secret-key": key.secret });
      await client.waitFor((m) => m.T === "success" && m.msg === "authenticated");
      client.send({ action: "subscribe", orderbooks: [pair.symbol] });
      return client;
    };
    const early = await open();
    await early.waitFor((m) => m.T === "o");
    await step(pair.symbol, 3);
    const late = await open();
    const rest = await latestBook(pair.symbol);
    const first = await late.waitFor((m) => m.T === "o");
    expect(first.r).toBe(true);
    expect(sameBook(first, rest)).toBe(true);
    early.close();
    late.close();
  });
});
