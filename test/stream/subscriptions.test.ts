import { describe, expect, it } from "vitest";
import { bookSnapshotSymbols, changeSubscriptions, namedSymbols, registrationChanges, SubscriptionIndex, type Listener } from "../../shared/stream/subscriptions";
import { subscriptionMessage, type StreamKind } from "../../shared/stream/protocol";

const classes: Record<string, StreamKind> = { AAPL: "stocks", MSFT: "stocks", "BTC/USD": "crypto" };
const classOf = (s: string) => classes[s];

describe("the subscription index", () => {
  it("routes each event to the subscribers of its channel and symbol, once, in order", () => {
    const index = new SubscriptionIndex<string>();
    index.set("a", { kind: "stocks", subs: { trades: ["AAPL"], quotes: ["AAPL"] } });
    index.set("b", { kind: "stocks", subs: { quotes: ["MSFT"] } });
    index.set("c", { kind: "stocks", subs: { quotes: ["*"], trades: ["AAPL"] } });
    const routes = index.route("stocks", "AAPL", ["trades", "quotes", "trades", "bars"]);
    expect(Object.fromEntries(routes)).toEqual({ a: [0, 1, 2], c: [0, 1, 2] });
    expect(Object.fromEntries(index.route("stocks", "MSFT", ["quotes"]))).toEqual({ b: [0], c: [0] });
    expect(index.route("crypto", "AAPL", ["quotes"]).size).toBe(0);
  });

  it("wants a symbol while someone listens to it by name or by wildcard, and forgets it after", () => {
    const index = new SubscriptionIndex<string>();
    index.set("a", { kind: "stocks", subs: { trades: ["AAPL"], quotes: ["AAPL"] } });
    index.set("b", { kind: "stocks", subs: { trades: ["AAPL"] } });
    expect(index.wants("stocks", "AAPL")).toBe(true);
    expect(index.wants("stocks", "MSFT")).toBe(false);
    index.delete("a");
    expect(index.wants("stocks", "AAPL")).toBe(true);
    index.set("b", { kind: "stocks", subs: { trades: [] } });
    expect(index.wants("stocks", "AAPL")).toBe(false);
    expect(index.keyCount).toBe(0);
    index.set("w", { kind: "crypto", subs: { quotes: ["*"] } });
    expect(index.wants("crypto", "ETH/USD")).toBe(true);
    expect(index.wants("stocks", "AAPL")).toBe(false);
    expect([...index.neededSymbols("crypto")]).toEqual(["*"]);
  });

  it("an all-socket listens to each symbol on its own class, and to both classes by wildcard", () => {
    const index = new SubscriptionIndex<string>();
    index.set("x", { kind: "all", subs: { quotes: ["AAPL", "BTC/USD"], orderbooks: ["*"] }, classes: { AAPL: "stocks", "BTC/USD": "crypto" } });
    expect([...index.neededSymbols("stocks")]).toEqual(["AAPL"]);
    expect([...index.neededSymbols("crypto")].sort()).toEqual(["*", "BTC/USD"]);
    // Stocks have no order books: the wildcard there carries nothing.
    expect(index.route("stocks", "MSFT", ["orderbooks"]).size).toBe(0);
    expect(Object.fromEntries(index.route("crypto", "ETH/USD", ["orderbooks"]))).toEqual({ x: [0] });
  });

  it("counts symbols and keys consistently through any sequence of changes", () => {
    const index = new SubscriptionIndex<number>();
    const symbols = ["AAPL", "MSFT", "*"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const current = new Map<number, Listener>();
    for (let i = 0; i < 500; i++) {
      const who = next() % 5;
      if (next() % 4 === 0) {
        index.delete(who);
        current.delete(who);
        continue;
      }
      const listener: Listener = { kind: "stocks", subs: { trades: symbols.filter(() => next() % 2 === 0), quotes: symbols.filter(() => next() % 2 === 0) } };
      index.set(who, listener);
      current.set(who, listener);
    }
    const expected = new Set([...current.values()].flatMap((l) => [...(l.subs.trades ?? []), ...(l.subs.quotes ?? [])]));
    expect(index.neededSymbols("stocks")).toEqual(expected);
    expect(index.subscriberCount).toBe(current.size);
  });
});

describe("a subscription change", () => {
  it("refuses unknown symbols and symbols of the other class, and applies the rest", () => {
    const change = changeSubscriptions({ kind: "stocks", subs: {} }, "subscribe", { trades: ["aapl", "NOPE", "BTC/USD"], quotes: ["*"] }, classOf, 10);
    expect(change.ok).toBe(true);
    if (!change.ok) return;
    expect(change.listener.subs).toEqual({ trades: ["AAPL"], quotes: ["*"] });
    expect(change.errors.map((e) => e.T === "error" && e.msg)).toEqual(["invalid syntax: unknown symbol NOPE", "invalid syntax: unknown symbol BTC/USD"]);
  });

  it("on an all-socket, refuses a channel the symbol's class lacks and remembers classes", () => {
    const change = changeSubscriptions({ kind: "all", subs: {} }, "subscribe", { quotes: ["AAPL", "BTC/USD"], orderbooks: ["AAPL", "BTC/USD"] }, classOf, 10);
    if (!change.ok) throw new Error("expected a change");
    expect(change.listener).toEqual({ kind: "all", subs: { quotes: ["AAPL", "BTC/USD"], orderbooks: ["BTC/USD"] }, classes: { AAPL: "stocks", "BTC/USD": "crypto" } });
    expect(change.errors).toHaveLength(1);
  });

  it("changes nothing past the symbol limit", () => {
    const change = changeSubscriptions({ kind: "stocks", subs: { trades: ["AAPL"] } }, "subscribe", { quotes: ["MSFT"] }, classOf, 1);
    expect(change).toEqual({ ok: false, errors: [{ T: "error", code: 405, msg: "symbol limit exceeded" }] });
  });

  it("unsubscribes without looking symbols up", () => {
    const change = changeSubscriptions({ kind: "stocks", subs: { trades: ["AAPL", "GONE"] } }, "unsubscribe", { trades: ["gone"] }, () => undefined, 10);
    expect(change).toMatchObject({ ok: true, listener: { subs: { trades: ["AAPL"] } }, errors: [] });
  });

  it("names the symbols a message mentions, upper-cased, without wildcards", () => {
    expect(namedSymbols({ action: "subscribe", trades: ["aapl", "*"], quotes: ["AAPL", 3], bogus: ["X"] })).toEqual(["AAPL"]);
  });
});

it("registration attaches what is newly wanted and detaches what no longer is", () => {
  expect(registrationChanges(new Set(["A", "B"]), new Set(["B", "C"]))).toEqual({ attach: ["A"], detach: ["C"] });
});

it("a subscribe starts the order books it named and was granted; * starts every pair's", () => {
  const pairs = () => ["BTC/USD", "ETH/USD"];
  expect(bookSnapshotSymbols({ orderbooks: ["btc/usd", "NOPE/USD"], trades: ["ETH/USD"] }, "crypto", { orderbooks: ["BTC/USD"], trades: ["ETH/USD"] }, pairs)).toEqual(["BTC/USD"]);
  expect(bookSnapshotSymbols({ orderbooks: ["*"] }, "crypto", { orderbooks: ["*"] }, pairs)).toEqual(pairs());
  expect(bookSnapshotSymbols({ orderbooks: ["BTC/USD"] }, "crypto", { orderbooks: ["*"] }, pairs)).toEqual(["BTC/USD"]);
  // A stock socket has no order books, whatever the message asks.
  expect(bookSnapshotSymbols({ orderbooks: ["BTC/USD"] }, "stocks", {}, pairs)).toEqual([]);
});

describe("the subscription echo", () => {
  it("lists corrections and cancel errors for stock trades only, and none on a crypto socket", () => {
    const subs = { trades: ["AAPL", "BTC/USD", "*"], quotes: ["BTC/USD"] };
    expect(subscriptionMessage("all", subs, classOf)).toMatchObject({ T: "subscription", trades: ["AAPL", "BTC/USD", "*"], corrections: ["AAPL", "*"], cancelErrors: ["AAPL", "*"], quotes: ["BTC/USD"] });
    expect(subscriptionMessage("stocks", { trades: ["AAPL", "MSFT"] })).toMatchObject({ corrections: ["AAPL", "MSFT"], cancelErrors: ["AAPL", "MSFT"] });
    const crypto = subscriptionMessage("crypto", { trades: ["BTC/USD"] });
    expect(crypto).not.toHaveProperty("corrections");
    expect(crypto).not.toHaveProperty("cancelErrors");
  });
});
