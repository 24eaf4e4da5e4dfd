import { beforeAll, describe, expect, it } from "vitest";
import { call, json, signUp, type TestUser } from "../helpers";
import { orderReaching, placeOrder, steeredMarket, until, type OrderJson } from "./helpers";

// Alpaca's trading stream with the credential at the handshake (the socket then lives in
// the account object and hibernates with it): every order event in order, as strings.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

interface Frame {
  stream: string;
  data: { event?: string; order?: { id: string; status: string }; price?: string; qty?: string; position_qty?: string; streams?: string[] };
}

async function listen(user: TestUser) {
  const res = await call("/stream", { headers: { upgrade: "websocket" }, token: user.access, ip: user.ip });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer)) as Frame);
  });
  const send = (message: unknown) => ws.send(JSON.stringify(message));
  send({ action: "listen", data: { streams: ["trade_updates"] } });
  await until(async () => frames.find((f) => f.stream === "listening"), "listening");
  const updates = () => frames.filter((f) => f.stream === "trade_updates");
  return { ws, frames, send, updates, events: () => updates().map((f) => `${f.data.event}:${f.data.order?.id}`) };
}

describe("trade_updates with the credential at the handshake", () => {
  it("streams new, partial_fill, replaced and canceled, with fill figures as strings", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const stream = await listen(user);
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type: "limit", limit_price: "99.50", time_in_force: "gtc" }));
    await market.quote("99.40", "99.50", "100", "4");
    await orderReaching(user, o.id, "partially_filled");
    const replaced = await json<OrderJson>(await call(`/v2/orders/${o.id}`, { method: "PATCH", body: { qty: "8", limit_price: "99.40" }, token: user.access, ip: user.ip }));
    expect(replaced.replaces).toBe(o.id);
    expect((await call(`/v2/orders/${replaced.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);
    await until(async () => stream.events().includes(`canceled:${replaced.id}`), "the cancel event");
    expect(stream.events()).toEqual([`new:${o.id}`, `partial_fill:${o.id}`, `replaced:${o.id}`, `new:${replaced.id}`, `canceled:${replaced.id}`]);
    const partial = stream.updates().find((f) => f.data.event === "partial_fill")!;
    expect(partial.data).toMatchObject({ price: "99.50", qty: "4", position_qty: "4", order: { status: "partially_filled" } });
    stream.ws.close();
  });

  it("stamps an order's new no later than its own fills at arrival", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05", "100", "4");
    await market.trade("100.02");
    const stream = await listen(user);
    // Marketable: it takes the 4 shown at the ask and the levels behind it as it arrives.
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "10", side: "buy", type: "market", time_in_force: "gtc" }));
    await until(async () => stream.events().includes(`fill:${o.id}`), "the fill event");
    const mine = stream.updates().filter((f) => f.data.order?.id === o.id) as (Frame & { data: { timestamp: string } })[];
    expect(mine[0]!.data.event).toBe("new");
    expect(mine.length).toBeGreaterThan(2);
    const times = mine.map((f) => Date.parse(f.data.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    stream.ws.close();
  });

  it("an empty listen list stops the updates", async () => {
    const [user, market] = await Promise.all([signUp(), steeredMarket(admin)]);
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const stream = await listen(user);
    // A list that is not a list is a mistake: an error, and the stream listened to stays.
    stream.send({ action: "listen", data: { streams: "trade_updates" } });
    stream.send({ action: "listen" });
    await until(async () => stream.frames.filter((f) => f.stream === "error").length === 2, "two error frames");
    expect(stream.frames.filter((f) => f.stream === "listening")).toHaveLength(1);
    stream.send({ action: "listen", data: { streams: [] } });
    await until(async () => stream.frames.filter((f) => f.stream === "listening").length === 2, "the second listening reply");
    expect(stream.frames.at(-1)).toEqual({ stream: "listening", data: { streams: [] } });
    const o = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" }));
    await orderReaching(user, o.id, "filled");
    // A second listener that did subscribe sees the fill, so the first had its chance.
    const other = await listen(user);
    const again = await json<OrderJson>(await placeOrder(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" }));
    await until(async () => other.events().includes(`fill:${again.id}`), "the second listener's fill");
    expect(stream.updates()).toEqual([]);
    stream.ws.close();
    other.ws.close();
  });

  it("refuses an upgrade from a caller without trading:read", async () => {
    const guest = await signUp("guest");
    const res = await call("/stream", { headers: { upgrade: "websocket" }, token: guest.access, ip: guest.ip });
    expect(res.status).toBe(403);
  });
});
