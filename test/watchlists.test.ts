import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createKey, expectError, json, restartObject, signUp, type TestUser } from "./helpers";
import { instrument, quiet, type CallLog } from "./instrumented";

// Watchlists through the Alpaca-compatible API: by id and by name, symbols in any of the
// spellings the rest of /v2 takes, the account's rules as 4xx that change nothing, and
// concurrent changes that all land once.

interface Watchlist {
  id: string;
  account_id: string;
  name: string;
  created_at: string;
  updated_at: string;
  assets: { id: string; symbol: string; class: string }[];
}

const as = (user: TestUser) => ({
  get: (path: string) => call(path, { token: user.access, ip: user.ip }),
  send: (method: string, path: string, body?: unknown) => call(path, { method, body, token: user.access, ip: user.ip }),
});
const symbolsOf = (w: Watchlist) => w.assets.map((a) => a.symbol);

describe("watchlists", () => {
  it("creates, reads, renames, fills, empties and deletes a list, by id and by name", async () => {
    const user = await signUp();
    const api = as(user);
    const account = await json<{ id: string }>(await api.get("/v2/account"));

    const created = await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Tech", symbols: ["aapl", "MSFT", "BTCUSD"] }));
    expect(created).toMatchObject({ name: "Tech", account_id: account.id });
    expect(symbolsOf(created)).toEqual(["AAPL", "MSFT", "BTC/USD"]);
    expect(created.assets[2]!.class).toBe("crypto");
    expect(created.created_at).toBe(created.updated_at);

    expect(await json<Watchlist>(await api.get(`/v2/watchlists/${created.id}`))).toEqual(created);
    expect(await json<Watchlist>(await api.get(`/v2/watchlists:by_name?name=${encodeURIComponent("Tech")}`))).toEqual(created);
    // The list answers each watchlist without its assets, oldest first.
    const second = await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Empty" }));
    expect(second.assets).toEqual([]);
    const listed = await json<Omit<Watchlist, "assets">[]>(await api.get("/v2/watchlists"));
    expect(listed.map((w) => w.name)).toEqual(["Tech", "Empty"]);
    expect(listed[0]).toEqual({ id: created.id, account_id: account.id, name: "Tech", created_at: created.created_at, updated_at: created.updated_at });

    // Append (at the end), by id and by name.
    expect(symbolsOf(await json<Watchlist>(await api.send("POST", `/v2/watchlists/${created.id}`, { symbol: "SPY" })))).toEqual(["AAPL", "MSFT", "BTC/USD", "SPY"]);
    expect(symbolsOf(await json<Watchlist>(await api.send("POST", "/v2/watchlists:by_name?name=Tech", { symbol: "ETH/USD" })))).toEqual(["AAPL", "MSFT", "BTC/USD", "SPY", "ETH/USD"]);
    // Remove: a pair encoded, with its slash, or without it.
    expect(symbolsOf(await json<Watchlist>(await api.send("DELETE", `/v2/watchlists/${created.id}/BTC%2FUSD`)))).toEqual(["AAPL", "MSFT", "SPY", "ETH/USD"]);
    expect(symbolsOf(await json<Watchlist>(await api.send("DELETE", `/v2/watchlists/${created.id}/ETH/USD`)))).toEqual(["AAPL", "MSFT", "SPY"]);
    expect(symbolsOf(await json<Watchlist>(await api.send("DELETE", `/v2/watchlists/${created.id}/msft`)))).toEqual(["AAPL", "SPY"]);

    // Rename, replace the contents in the order given, or both.
    const renamed = await json<Watchlist>(await api.send("PUT", `/v2/watchlists/${created.id}`, { name: "Growth" }));
    expect(renamed).toMatchObject({ id: created.id, name: "Growth", created_at: created.created_at });
    expect(symbolsOf(renamed)).toEqual(["AAPL", "SPY"]);
    const replaced = await json<Watchlist>(await api.send("PUT", "/v2/watchlists:by_name?name=Growth", { symbols: ["TSLA", "AAPL"] }));
    expect(symbolsOf(replaced)).toEqual(["TSLA", "AAPL"]);
    expect(replaced.name).toBe("Growth");
    await expectError(await api.get("/v2/watchlists:by_name?name=Tech"), 404);

    // Kept by the account object: a restart changes nothing.
    await restartObject(env.ACCOUNT.getByName(user.id));
    expect(await json<Watchlist>(await api.get(`/v2/watchlists/${created.id}`))).toEqual(replaced);

    expect((await api.send("DELETE", `/v2/watchlists/${created.id}`)).status).toBe(204);
    expect((await api.send("DELETE", "/v2/watchlists:by_name?name=Empty")).status).toBe(204);
    expect(await json(await api.get("/v2/watchlists"))).toEqual([]);
    await expectError(await api.get(`/v2/watchlists/${created.id}`), 404);
  });

  it("refuses what the rules do not allow with a 4xx that names it, and changes nothing", async () => {
    const user = await signUp();
    const api = as(user);
    const list = await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Main", symbols: ["AAPL"] }));
    // Stored composed: the same name typed with a combining accent is taken, and finds the list (QA).
    expect((await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Cafe\u0301" }))).name).toBe("Caf\u00e9");
    expect((await json<Watchlist>(await api.get("/v2/watchlists:by_name?name=Cafe%CC%81"))).name).toBe("Caf\u00e9");
    const refusals: [string, string, unknown, number, string | RegExp, string?][] = [
      ["POST", "/v2/watchlists", { name: "Main" }, 422, 'a watchlist named "Main" already exists', "name"],
      ["POST", "/v2/watchlists", { name: "Caf\u00e9" }, 422, 'a watchlist named "Caf\u00e9" already exists', "name"],
      ["POST", "/v2/watchlists", { name: "Other", symbols: ["AAPL", "NOPE"] }, 422, "unknown symbol NOPE", "symbols[1]"],
      ["POST", "/v2/watchlists", { name: "Other", symbols: ["BTC/USD", "BTCUSD"] }, 422, "BTC/USD is given twice", "symbols[1]"],
      ["POST", "/v2/watchlists", { name: "  " }, 422, /name/, "name"],
      ["POST", "/v2/watchlists", { name: "x".repeat(65) }, 422, /name/, "name"],
      // Names that show as nothing, or carry a noncharacter (QA).
      ["POST", "/v2/watchlists", { name: "\u3164" }, 422, /visible character/, "name"],
      ["POST", "/v2/watchlists", { name: "\u00ad\u0301\u2800" }, 422, /visible character/, "name"],
      ["POST", "/v2/watchlists", { name: "x\uffff" }, 422, /control characters/, "name"],
      ["POST", "/v2/watchlists", { name: "Other", symbol: "AAPL" }, 422, /symbol/],
      ["POST", `/v2/watchlists/${list.id}`, { symbol: "AAPL" }, 422, "AAPL is already on the watchlist", "symbol"],
      ["POST", `/v2/watchlists/${list.id}`, { symbol: "NOPE" }, 422, "unknown symbol NOPE", "symbol"],
      ["PUT", `/v2/watchlists/${list.id}`, {}, 422, /give a new name, new symbols, or both/],
      ["PUT", `/v2/watchlists/${list.id}`, { symbols: ["MSFT", "MSFT"] }, 422, "MSFT is given twice", "symbols[1]"],
      ["DELETE", `/v2/watchlists/${list.id}/TSLA`, undefined, 404, "TSLA is not on the watchlist"],
      ["DELETE", `/v2/watchlists/${list.id}/NOPE`, undefined, 404, "NOPE is not on the watchlist"],
      ["GET", `/v2/watchlists/${crypto.randomUUID()}`, undefined, 404, /not found/],
      ["PUT", "/v2/watchlists:by_name?name=Nope", { name: "x" }, 404, 'watchlist named "Nope" not found'],
      ["GET", "/v2/watchlists:by_name", undefined, 422, /name/],
    ];
    for (const [method, path, body, status, message, field] of refusals) {
      const error = await expectError(await api.send(method, path, body), status);
      if (typeof message === "string") expect(error.message, `${method} ${path}`).toBe(message);
      else expect(error.message, `${method} ${path}`).toMatch(message);
      if (field) expect(error.details.map((d) => d.path), `${method} ${path}`).toContain(field);
    }
    const after = await json<Watchlist>(await api.get(`/v2/watchlists/${list.id}`));
    expect(after).toEqual(list);
    expect((await json<unknown[]>(await api.get("/v2/watchlists"))).length).toBe(2);
  });

  it("looks up a request's symbols together: 1,000 unknown ones cost one registry read, not one each (QA)", async () => {
    const user = await signUp();
    const api = as(user);
    await api.get("/v2/watchlists");
    await quiet(env);
    const log: CallLog = [];
    const restore = instrument(env, log);
    let refused;
    try {
      refused = await expectError(await api.send("POST", "/v2/watchlists", { name: "Many", symbols: Array.from({ length: 1000 }, (_, i) => `Q${String(i).padStart(3, "0")}USD`) }), 422);
    } finally {
      restore();
    }
    expect(refused.details[0]).toEqual({ path: "symbols[0]", message: "unknown symbol Q000USD" });
    // One fresh read of the table for the names the snapshot lacks, and one more when the
    // isolate's snapshot (3 s) expired while the test waited for quiet: never one a name.
    expect(log.filter((c) => c.startsWith("DB")).length).toBeLessThanOrEqual(2);
    // A symbol written with spaces around it, or a pair without its slash, is the listed asset; an upper-case list id is the list.
    const list = await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Spaced", symbols: [" btcusd ", "AAPL "] }));
    expect(symbolsOf(list)).toEqual(["BTC/USD", "AAPL"]);
    expect(symbolsOf(await json<Watchlist>(await api.send("DELETE", `/v2/watchlists/${list.id.toUpperCase()}/%20BTCUSD`)))).toEqual(["AAPL"]);
    // An unknown symbol is on no list; a missing list is said to be missing first.
    expect((await expectError(await api.send("DELETE", `/v2/watchlists/${list.id}/NOPE`), 404)).message).toBe("NOPE is not on the watchlist");
    const missing = crypto.randomUUID();
    expect((await expectError(await api.send("DELETE", `/v2/watchlists/${missing}/NOPE`), 404)).message).toBe(`watchlist ${missing} not found`);
    expect((await expectError(await api.get("/v2/watchlists:by_name?name=%20"), 422)).details[0]?.path).toBe("name");
  });

  it("takes concurrent changes one at a time: every append lands once, one create of a name wins", async () => {
    const user = await signUp();
    const api = as(user);
    const list = await json<Watchlist>(await api.send("POST", "/v2/watchlists", { name: "Busy" }));
    const symbols = ["AAPL", "MSFT", "SPY", "TSLA", "BTC/USD", "ETH/USD"];
    // Each symbol appended three times at once: one append of each wins, the others are refused.
    const answers = await Promise.all([...symbols, ...symbols, ...symbols].map((symbol) => api.send("POST", `/v2/watchlists/${list.id}`, { symbol })));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(symbols.length);
    expect(answers.filter((r) => r.status === 422)).toHaveLength(symbols.length * 2);
    const after = await json<Watchlist>(await api.get(`/v2/watchlists/${list.id}`));
    expect([...symbolsOf(after)].sort()).toEqual([...symbols].sort());

    const creates = await Promise.all(Array.from({ length: 8 }, () => api.send("POST", "/v2/watchlists", { name: "Same" })));
    expect(creates.map((r) => r.status).sort()).toEqual([200, 422, 422, 422, 422, 422, 422, 422]);
    expect((await json<{ name: string }[]>(await api.get("/v2/watchlists"))).map((w) => w.name)).toEqual(["Busy", "Same"]);
  });

  it("works with Alpaca's key headers; a read-only key reads but does not change, and another user's list is not found", async () => {
    const owner = await signUp();
    const other = await signUp();
    const [trade, read] = await Promise.all([createKey(owner, ["trade"]), createKey(owner, ["read"])]);
    const created = await call("/v2/watchlists", { body: { name: "Keyed", symbols: ["AAPL"] }, apiKey: trade });
    expect(created.status).toBe(200);
    const list = await json<Watchlist>(created);
    expect(symbolsOf(await json<Watchlist>(await call(`/v2/watchlists/${list.id}`, { apiKey: read })))).toEqual(["AAPL"]);
    await expectError(await call(`/v2/watchlists/${list.id}`, { method: "POST", body: { symbol: "MSFT" }, apiKey: read }), 403);
    await expectError(await call(`/v2/watchlists/${list.id}`, { token: other.access, ip: other.ip }), 404);
    await expectError(await call(`/v2/watchlists/${list.id}`, { method: "DELETE", token: other.access, ip: other.ip }), 404);
    await expectError(await call("/v2/watchlists"), 401);
    // A body sent without a Content-Type, as some Alpaca clients do, is read as JSON (as on /v2/orders).
    const untyped = await call(`/v2/watchlists/${list.id}`, { method: "POST", rawBody: JSON.stringify({ symbol: "MSFT" }), apiKey: trade });
    expect(symbolsOf(await json<Watchlist>(untyped))).toEqual(["AAPL", "MSFT"]);
  });
});
