import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { call, json, signUp, until, type TestUser } from "./helpers";
import { SLOW_REQUEST_MS } from "../platform/trace";
import { order, placed, quotedMarket, steeredMarket, type Market } from "./trading/helpers";

// One order's path read back from the log lines, as an operator would (docs/tracing.md):
// the gateway's request line, then one span per hop, all in the trace the client's
// traceparent named, each span the child of the hop before. The gateway, the objects and
// the queue consumer run in this isolate, so their console lines are the test's to read.

interface Line {
  message: string;
  service: string;
  name?: string;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string | null;
  durationMs?: number;
  [field: string]: unknown;
}

const lines: Line[] = [];
const capture = (...args: unknown[]) => {
  const text = args.map(String).join(" ");
  if (!text.startsWith("{")) return;
  try {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    // The spans of the calls a request waited on ride in its line (docs/tracing.md): read
    // them as the lines they stand for, marked with the line that carried them.
    for (const span of (line.spans as Line[] | undefined) ?? []) lines.push({ ...span, message: "span", carriedBy: line.service });
  } catch {
    // not one of ours
  }
};
// The real console still prints (the test config hides the per-request lines).
const spies = (["log", "warn", "error"] as const).map((level) => {
  const real = console[level].bind(console);
  return vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
    capture(...args);
    real(...args);
  });
});
afterAll(() => spies.forEach((s) => s.mockRestore()));

const receiver = inject("webhooks").url;
const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** A traceparent as a client would send it: a fresh trace, the client's own span. */
const clientTrace = () => ({ traceId: hex(16), clientSpan: hex(8) });
const header = (t: { traceId: string; clientSpan: string }) => `00-${t.traceId}-${t.clientSpan}-01`;

const inTrace = (traceId: string) => lines.filter((l) => l.traceId === traceId);
const spans = (traceId: string, name: string) => inTrace(traceId).filter((l) => l.message === "span" && l.name === name);
const one = (traceId: string, name: string): Line => {
  const found = spans(traceId, name);
  expect(found, `one ${name} span in ${traceId}`).toHaveLength(1);
  return found[0]!;
};
const requestLine = (traceId: string): Line => {
  const found = inTrace(traceId).filter((l) => l.message === "request");
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** A webhook for `user`'s fills at the test receiver; `delivered()` waits for its first delivery and answers what the receiver got. */
async function fillHook(user: TestUser) {
  const name = crypto.randomUUID();
  const registered = await call("/api/webhooks", { body: { url: `${receiver}/${name}`, events: ["order.filled"] }, token: user.access, ip: user.ip });
  expect(registered.status).toBe(201);
  return () =>
    until(async () => {
      const got = (await (await fetch(`${receiver}/${name}`)).json()) as { headers: Record<string, string> }[];
      return got.length > 0 ? got : undefined;
    }, "the fill's webhook delivery", 15_000);
}

let admin: TestUser;
let market: Market;
beforeAll(async () => {
  admin = await signUp("admin");
  market = await quotedMarket(admin);
});

describe("one order's path in the logs", () => {
  it("gateway, account, symbol, events consumer and webhook delivery share the client's trace, each the child of the hop before", async () => {
    const user = await signUp();
    const delivered = await fillHook(user);

    const trace = clientTrace();
    const res = await call("/v2/orders", {
      token: user.access,
      ip: user.ip,
      headers: { traceparent: header(trace) },
      body: { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" },
    });
    expect(res.status).toBe(200);
    const order = await json<{ id: string; status: string }>(res);
    expect(order.status).toBe("filled");

    // The receiver is handed the delivery span's traceparent, so its own spans join the trace.
    const received = await delivered();
    await until(async () => spans(trace.traceId, "webhook.delivery").length > 0, "the delivery's span");

    // Hop 0: the gateway's request line, a child of the client's span (its traceparent answers it).
    const gateway = requestLine(trace.traceId);
    expect(gateway).toMatchObject({ service: "gateway", path: "/v2/orders", status: 200, parentSpanId: trace.clientSpan });
    expect(res.headers.get("traceparent")).toBe(`00-${trace.traceId}-${gateway.spanId}-01`);

    // Hop 1: the account object.
    const account = one(trace.traceId, "account.placeOrder");
    expect(account).toMatchObject({ service: "account", parentSpanId: gateway.spanId, account: user.id, admitted: true, orderId: order.id, orderStatus: "filled" });

    // Hops 2 and 3: the symbol object, price then venue, both children of the account's span.
    const price = one(trace.traceId, "symbol.marketPrice");
    const venue = one(trace.traceId, "symbol.venueSubmit");
    expect(price).toMatchObject({ service: "market-symbol", parentSpanId: account.spanId, symbol: market.symbol });
    expect(venue).toMatchObject({ service: "market-symbol", parentSpanId: account.spanId, symbol: market.symbol, orderId: order.id });

    // The hops the request waited on ride in its one line instead of logging their own
    // (the price asked first is logged by the symbol: its method answers a bare price).
    expect((gateway.spans as Line[]).map((s) => [s.name, s.service])).toEqual([
      ["account.placeOrder", "account"],
      ["symbol.venueSubmit", "market-symbol"],
    ]);
    expect([account.carriedBy, venue.carriedBy, price.carriedBy]).toEqual(["gateway", "gateway", undefined]);

    // The queue: one span per batch that took the order's events (usually one), children of
    // the account's span (the events carry its traceparent), naming every event it projected.
    const events = spans(trace.traceId, "queue.events");
    expect(events.flatMap((e) => e.types as string[]).sort()).toEqual(["order.filled", "order.new", "order.submitted"]);
    for (const e of events) expect(e).toMatchObject({ service: "queue", parentSpanId: account.spanId, subjects: [`account:${user.id}`], attempt: 1, carriedBy: "queue" });
    const filled = events.find((e) => (e.types as string[]).includes("order.filled"))!;

    // The webhook delivery: a child of the fill event's span, and the receiver got its traceparent.
    const delivery = one(trace.traceId, "webhook.delivery");
    expect(delivery).toMatchObject({ service: "queue", parentSpanId: filled.spanId, host: new URL(receiver).host, status: 200, attempt: 1 });
    expect(received[0]!.headers.traceparent).toBe(`00-${trace.traceId}-${delivery.spanId}-01`);

    // The lines of their own: the request, the price asked first, the delivery (nobody waits
    // on it); the events' spans ride in the consumer's batch line, which names the trace.
    expect(inTrace(trace.traceId).filter((l) => l.carriedBy === undefined).map((l) => l.name ?? l.message)).toEqual(["symbol.marketPrice", "request", "webhook.delivery"]);
    expect(lines.filter((l) => l.message === "batch" && ((l.traceIds as string[] | undefined) ?? []).includes(trace.traceId))).toHaveLength(events.length);

    // Every hop logged one span with a duration, and no span of this trace names a parent outside it.
    const all = inTrace(trace.traceId).filter((l) => l.message === "span");
    for (const span of all) expect(span.durationMs).toBeGreaterThanOrEqual(0);
    const known = new Set([gateway.spanId, ...all.map((s) => s.spanId)]);
    for (const span of all) expect(known.has(span.parentSpanId!)).toBe(true);
  });

  it("a trace the caller did not sample logs only its request line: no hop's span, in the request's line or in the consumer's, and the decision travels on to the webhook", async () => {
    const user = await signUp();
    const delivered = await fillHook(user);
    const trace = clientTrace();
    const unsampled = `00-${trace.traceId}-${trace.clientSpan}-00`;

    // A one-hop read, well under the slow-request bound: its line without the account's span.
    const read = await call("/v2/account", { token: user.access, ip: user.ip, headers: { traceparent: unsampled } });
    expect(read.status).toBe(200);
    const readLine = requestLine(trace.traceId);
    expect(read.headers.get("traceparent")).toBe(`00-${trace.traceId}-${readLine.spanId}-00`);
    expect(readLine.durationMs).toBeLessThan(SLOW_REQUEST_MS);
    expect(readLine.spans).toBeUndefined();

    const order = await call("/v2/orders", { token: user.access, ip: user.ip, headers: { traceparent: unsampled }, body: { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" } });
    expect(order.status).toBe(200);
    expect(((await json<{ status: string }>(order)).status)).toBe("filled");
    // The delivery still happens, handed the trace with its decision.
    const received = await delivered();
    expect(received[0]!.headers.traceparent).toMatch(new RegExp(`^00-${trace.traceId}-[0-9a-f]{16}-00$`));
    // Two request lines (a slow order would carry its spans: that is the rule), no span line
    // of this trace, and no batch line names it.
    const requests = inTrace(trace.traceId).filter((l) => l.message === "request");
    expect(requests).toHaveLength(2);
    for (const request of requests) if (request.durationMs! < SLOW_REQUEST_MS) expect(request.spans).toBeUndefined();
    expect(inTrace(trace.traceId).filter((l) => l.carriedBy === undefined && l.message !== "request")).toEqual([]);
    expect(lines.filter((l) => l.message === "batch" && ((l.traceIds as string[] | undefined) ?? []).includes(trace.traceId))).toEqual([]);
  });

  it("a fill's notification pushed to a listening socket is the account's span under the events' span; one that reaches nobody logs none", async () => {
    const listening = await signUp();
    const res = await call("/stream", { headers: { upgrade: "websocket" }, token: listening.access, ip: listening.ip });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const frames: { stream: string }[] = [];
    ws.addEventListener("message", (e) => {
      frames.push(JSON.parse(e.data as string) as { stream: string });
    });
    ws.send(JSON.stringify({ action: "listen", data: { streams: ["notifications"] } }));
    await until(async () => frames.some((f) => f.stream === "listening"), "listening");
    const silent = await signUp();

    const traces = await Promise.all(
      [listening, silent].map(async (user) => {
        const trace = clientTrace();
        const placed = await call("/v2/orders", { token: user.access, ip: user.ip, headers: { traceparent: header(trace) }, body: { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" } });
        expect(placed.status).toBe(200);
        return trace.traceId;
      }),
    );
    await until(async () => frames.some((f) => f.stream === "notifications"), "the fill's notification on the socket");
    const filled = await until(async () => spans(traces[0]!, "queue.events").find((e) => (e.types as string[]).includes("order.filled")), "the fill's events span");
    expect(one(traces[0]!, "account.notify")).toMatchObject({ service: "account", parentSpanId: filled.spanId, account: listening.id, stream: "notifications", sockets: 1 });
    await until(async () => spans(traces[1]!, "queue.events").some((e) => (e.types as string[]).includes("order.filled")), "the other fill's events span");
    expect(spans(traces[1]!, "account.notify")).toEqual([]);
    ws.close();
  });

  it("a cancel and a read are spans of their own requests, and the cancel continues into the venue", async () => {
    const user = await signUp();
    const resting = await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "90.00", time_in_force: "day" });

    const read = clientTrace();
    expect((await call(`/v2/orders/${resting.id}`, { token: user.access, ip: user.ip, headers: { traceparent: header(read) } })).status).toBe(200);
    const readRequest = requestLine(read.traceId);
    expect(one(read.traceId, "account.order")).toMatchObject({ service: "account", parentSpanId: readRequest.spanId, admitted: true });

    const cancel = clientTrace();
    expect((await call(`/v2/orders/${resting.id}`, { method: "DELETE", token: user.access, ip: user.ip, headers: { traceparent: header(cancel) } })).status).toBe(204);
    const cancelRequest = requestLine(cancel.traceId);
    const accountSpan = one(cancel.traceId, "account.cancelOrder");
    expect(accountSpan).toMatchObject({ parentSpanId: cancelRequest.spanId, admitted: true });
    expect(one(cancel.traceId, "symbol.venueCancel")).toMatchObject({ service: "market-symbol", parentSpanId: accountSpan.spanId, orderId: resting.id });
  });

  it("a route admitted by the user's object logs the admission as a span of the request", async () => {
    const user = await signUp();
    const trace = clientTrace();
    const res = await call("/api/notifications", { token: user.access, ip: user.ip, headers: { traceparent: header(trace) } });
    expect(res.status).toBe(200);
    const request = requestLine(trace.traceId);
    expect(one(trace.traceId, "account.admit")).toMatchObject({ service: "account", parentSpanId: request.spanId, admitted: true, carriedBy: "gateway" });
    // One line for the whole request, as for /health.
    expect(inTrace(trace.traceId).filter((l) => l.carriedBy === undefined)).toEqual([request]);
  });

  it("a request without a traceparent still gets one trace across its hops", async () => {
    const user = await signUp();
    const res = await call("/v2/orders", { token: user.access, ip: user.ip, body: { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "90.00", time_in_force: "day" } });
    expect(res.status).toBe(200);
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(res.headers.get("traceparent") ?? "")!;
    const account = one(traceId!, "account.placeOrder");
    expect(account.parentSpanId).toBe(spanId);
    expect(one(traceId!, "symbol.venueSubmit").parentSpanId).toBe(account.spanId);
  });

  it("a live strategy's callback that sends an order starts a trace, which the account and the venue continue", async () => {
    const user = await signUp();
    const source = ["export default {", "  onStart(ctx) {", "    ctx.buy({ qty: 1, tag: 'traced' });", "  },", "};"].join("\n");
    const created = await call("/api/strategies", { token: user.access, ip: user.ip, body: { name: `traced-${hex(3)}`, symbol: market.symbol, timeframe: "1Min", kind: "code", language: "ts", source } });
    expect(created.status).toBe(201);
    const { id } = await json<{ id: string }>(created);
    const trace = clientTrace();
    expect((await call(`/api/strategies/${id}/start`, { method: "POST", token: user.access, ip: user.ip, headers: { traceparent: header(trace) } })).status).toBe(200);
    // The start itself is the gateway's call into the symbol object, a span of the request.
    expect(one(trace.traceId, "call.symbol.strategyStart")).toMatchObject({ service: "gateway", parentSpanId: requestLine(trace.traceId).spanId, symbol: market.symbol, client: true });

    // The order the callback sends is a trace of its own, rooted at the callback's span.
    const callback = await until(async () => lines.find((l) => l.name === "symbol.strategy" && l.strategy === id), "the callback's span");
    expect(callback).toMatchObject({ service: "market-symbol", parentSpanId: null, account: user.id, commands: 1 });
    const send = one(callback.traceId!, "account.strategySend");
    expect(send).toMatchObject({ service: "account", parentSpanId: callback.spanId, command: "place" });
    expect(one(callback.traceId!, "symbol.marketPrice").parentSpanId).toBe(send.spanId);
    // No request waits on these calls: each hop logs its own line (the account logs the venue's, which its answer carried).
    expect(one(callback.traceId!, "symbol.venueSubmit")).toMatchObject({ parentSpanId: send.spanId, service: "market-symbol" });
    expect(inTrace(callback.traceId!).filter((l) => l.carriedBy !== undefined)).toEqual([]);
  });

  it("a call whose method takes no traceparent is the gateway's span of the request", async () => {
    const trace = clientTrace();
    const user = await signUp();
    const res = await call(`/v2/stocks/${market.symbol}/snapshot`, { token: user.access, ip: user.ip, headers: { traceparent: header(trace) } });
    expect(res.status).toBe(200);
    expect(one(trace.traceId, "call.symbol.snapshot")).toMatchObject({ service: "gateway", parentSpanId: requestLine(trace.traceId).spanId, symbol: market.symbol, client: true });
  });

  it("a fill the venue pushes later is a trace of its own: the symbol's push, the account's span, the fill's event", async () => {
    const user = await signUp();
    const own = await steeredMarket(admin);
    await own.quote("100.00", "100.05");
    await own.trade("100.02");
    const resting = await placed(user, { symbol: own.symbol, qty: "1", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "day" });
    await own.quote("98.90", "98.95");
    const push = await until(async () => lines.find((l) => l.name === "symbol.deliverReports" && l.account === user.id), "the venue's push of the fill");
    expect(push).toMatchObject({ service: "market-symbol", parentSpanId: null, symbol: own.symbol });
    const account = one(push.traceId!, "account.venueReports");
    // The push waited on the account: its span rides in the push's line.
    expect(account).toMatchObject({ service: "account", parentSpanId: push.spanId, symbol: own.symbol, carriedBy: "market-symbol" });
    const filled = await until(async () => spans(push.traceId!, "queue.events").find((e) => (e.types as string[]).includes("order.filled")), "the fill's event span");
    expect(filled.parentSpanId).toBe(account.spanId);
    expect((await order(user, resting.id)).status).toBe("filled");
  });
});
