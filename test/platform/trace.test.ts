import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { logger } from "../../platform/log";
import { childSpan, finishSpan, formatTraceparent, parseTraceparent, spanFields, spanned, SpanScopes, startSpan, type SpanLine } from "../../platform/trace";

// The pure part of tracing (platform/trace.ts): W3C traceparent in and out, and a child
// span from ids and a time that come in.

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const header = `00-${TRACE}-${PARENT}-01`;

describe("traceparent", () => {
  it("parses a version-00 header and formats it back unchanged", () => {
    const context = parseTraceparent(header);
    expect(context).toEqual({ traceId: TRACE, spanId: PARENT, flags: "01" });
    expect(formatTraceparent(context!)).toBe(header);
  });

  it("takes upper-case hex and surrounding blanks, as headers may carry them", () => {
    expect(parseTraceparent(`  ${header.toUpperCase()} `)).toEqual({ traceId: TRACE, spanId: PARENT, flags: "01" });
  });

  it.each([
    ["nothing", null],
    ["empty", ""],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${PARENT}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["another version", `01-${TRACE}-${PARENT}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${PARENT}-01`],
    ["not hex", `00-${TRACE.replace("4", "g")}-${PARENT}-01`],
    ["extra fields", `${header}-extra`],
  ])("refuses %s", (_, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });
});

describe("child spans", () => {
  it("a child keeps the parent's trace and flags, names the parent and hands on its own id", () => {
    const span = childSpan("account.placeOrder", `00-${TRACE}-${PARENT}-00`, { spanId: "b7ad6b7169203331", traceId: "ignored" }, 10);
    expect(span).toEqual({
      name: "account.placeOrder",
      traceId: TRACE,
      spanId: "b7ad6b7169203331",
      parentSpanId: PARENT,
      traceparent: `00-${TRACE}-b7ad6b7169203331-00`,
      startedAt: 10,
    });
  });

  it("without a valid parent, a span is the root of a new, sampled trace", () => {
    for (const parent of [null, undefined, "garbage"]) {
      const span = childSpan("symbol.strategy", parent, { spanId: "b7ad6b7169203331", traceId: TRACE }, 0);
      expect(span).toMatchObject({ traceId: TRACE, parentSpanId: null, traceparent: `00-${TRACE}-b7ad6b7169203331-01` });
    }
  });

  it("a chain of children stays in one trace, each naming the one before", () => {
    const gateway = childSpan("request", null, { spanId: "1111111111111111", traceId: TRACE }, 0);
    const account = childSpan("account.placeOrder", gateway.traceparent, { spanId: "2222222222222222", traceId: "x" }, 1);
    const symbol = childSpan("symbol.venueSubmit", account.traceparent, { spanId: "3333333333333333", traceId: "y" }, 2);
    expect([gateway, account, symbol].map((s) => [s.traceId, s.parentSpanId])).toEqual([
      [TRACE, null],
      [TRACE, "1111111111111111"],
      [TRACE, "2222222222222222"],
    ]);
  });

  it("the span's line: name, ids, parent, duration from the times given, then the caller's fields", () => {
    const span = childSpan("queue.event", header, { spanId: "b7ad6b7169203331", traceId: "x" }, 100.5);
    expect(spanFields(span, 103.256, { type: "order.filled" })).toEqual({
      name: "queue.event",
      traceId: TRACE,
      spanId: "b7ad6b7169203331",
      parentSpanId: PARENT,
      durationMs: 2.76,
      type: "order.filled",
    });
  });

  it("startSpan draws valid ids: a new trace without a parent, a fresh span id under one", () => {
    const root = startSpan("root", null);
    expect(parseTraceparent(root.traceparent)).toEqual({ traceId: root.traceId, spanId: root.spanId, flags: "01" });
    const child = startSpan("child", root.traceparent);
    expect(child.traceId).toBe(root.traceId);
    expect(child.parentSpanId).toBe(root.spanId);
    expect(child.spanId).not.toBe(root.spanId);
    expect(startSpan("other", null).traceId).not.toBe(root.traceId);
  });
});

// A call's span rides back in its answer; the object that made the call gathers it under the
// span that made it, for the request's one line, or logs it at once when no such span waits.
describe("span scopes", () => {
  const logged: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void logged.push(line));
  afterEach(() => {
    logged.length = 0;
  });
  afterAll(() => spy.mockRestore());
  const line = (name: string, parent: string): SpanLine => finishSpan(startSpan(name, parent), "market-symbol", { orderId: name });

  it("gathers the spans answered to an open span, and logs none of them", () => {
    const scopes = new SpanScopes();
    const account = startSpan("account.placeOrder", header);
    scopes.open(account.traceparent);
    const venue = line("symbol.venueSubmit", account.traceparent);
    scopes.add(account.traceparent, venue);
    expect(logged).toEqual([]);
    expect(scopes.close(account.traceparent)).toEqual([venue]);
    // Closed: a second close has nothing, and a late span is logged rather than lost.
    expect(scopes.close(account.traceparent)).toEqual([]);
    scopes.add(account.traceparent, line("symbol.venueCancel", account.traceparent));
    expect(logged.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([{ message: "span", service: "market-symbol", name: "symbol.venueCancel", parentSpanId: account.spanId, orderId: "symbol.venueCancel" }]);
  });

  it("keeps the spans of commands that interleave apart", () => {
    const scopes = new SpanScopes();
    const [a, b] = [startSpan("account.placeOrder", header), startSpan("account.cancelOrder", header)];
    scopes.open(a.traceparent);
    scopes.open(b.traceparent);
    const [forB, forA] = [line("symbol.venueCancel", b.traceparent), line("symbol.venueSubmit", a.traceparent)];
    scopes.add(b.traceparent, forB);
    scopes.add(a.traceparent, forA);
    expect(scopes.close(a.traceparent)).toEqual([forA]);
    expect(scopes.close(b.traceparent)).toEqual([forB]);
    expect(logged).toEqual([]);
  });

  it("gathers at most its bound for one span and logs the rest at once, so no line grows without bound", () => {
    const scopes = new SpanScopes(2);
    const account = startSpan("account.cancelAll", header);
    scopes.open(account.traceparent);
    const cancels = [1, 2, 3].map((i) => line(`symbol.venueCancel.${i}`, account.traceparent));
    for (const c of cancels) scopes.add(account.traceparent, c);
    expect(scopes.close(account.traceparent)).toEqual(cancels.slice(0, 2));
    expect(logged.map((l) => (JSON.parse(l) as { name: string }).name)).toEqual(["symbol.venueCancel.3"]);
  });

  it("spanned answers the call's span with its value and logs nothing; a failed call logs its span at error and throws", async () => {
    const log = logger("market-symbol");
    const ok = await spanned(log, "market-symbol", "symbol.venueSubmit", header, { orderId: "o-1" }, async () => ({ reports: 2 }), (v) => ({ reports: v.reports }));
    expect(ok.value).toEqual({ reports: 2 });
    expect(ok.span).toMatchObject({ service: "market-symbol", level: "info", name: "symbol.venueSubmit", traceId: TRACE, parentSpanId: PARENT, fields: { orderId: "o-1", reports: 2 } });
    expect(logged).toEqual([]);
    const errors: string[] = [];
    const errorSpy = vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    await expect(spanned(log, "market-symbol", "symbol.venueCancel", header, { orderId: "o-2" }, () => Promise.reject(new Error("venue down")), () => ({}))).rejects.toThrow("venue down");
    errorSpy.mockRestore();
    expect(errors.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([{ level: "error", message: "span", service: "market-symbol", name: "symbol.venueCancel", orderId: "o-2", error: "Error: venue down" }]);
  });

  it("logs a span made for no open span, under the service that ran it", () => {
    const scopes = new SpanScopes();
    scopes.add(null, line("symbol.venueSubmit", header));
    scopes.add(null, undefined);
    expect(logged).toHaveLength(1);
    expect(JSON.parse(logged[0]!)).toMatchObject({ level: "info", message: "span", service: "market-symbol", traceId: TRACE, parentSpanId: PARENT });
  });
});
