import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { logger } from "../../platform/log";
import fc from "fast-check";
import { childSpan, endSpan, finishSpan, formatTraceparent, headSampled, keepsSpans, parseTraceparent, sampled, SLOW_REQUEST_MS, spanFields, spanned, SpanScopes, startSpan, type SpanLine } from "../../platform/trace";

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

  it("reads a later version as version 00, its extra fields ignored (W3C)", () => {
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01`)).toEqual({ traceId: TRACE, spanId: PARENT, flags: "01" });
    expect(parseTraceparent(`02-${TRACE}-${PARENT}-00-what-comes-next`)).toEqual({ traceId: TRACE, spanId: PARENT, flags: "00" });
  });

  it.each([
    ["nothing", null],
    ["empty", ""],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${PARENT}-01`],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["version ff", `ff-${TRACE}-${PARENT}-01`],
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

describe("sampling", () => {
  const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const traceIdArb = fc.stringMatching(/^[0-9a-f]{32}$/).filter((id) => !/^0+$/.test(id));

  it("keeps the caller's decision: its sampled flag, whatever the rate", () => {
    for (const rate of [0, 0.1, 1]) {
      expect(headSampled(parseTraceparent(`00-${TRACE}-${PARENT}-01`), TRACE, rate)).toBe(true);
      expect(headSampled(parseTraceparent(`00-${TRACE}-${PARENT}-00`), TRACE, rate)).toBe(false);
      // Only bit 0 is the sampled flag; the others are for later versions of the flags.
      expect(headSampled(parseTraceparent(`00-${TRACE}-${PARENT}-03`), TRACE, rate)).toBe(true);
      expect(headSampled(parseTraceparent(`00-${TRACE}-${PARENT}-02`), TRACE, rate)).toBe(false);
    }
    expect([sampled(`00-${TRACE}-${PARENT}-01`), sampled(`00-${TRACE}-${PARENT}-00`), sampled("garbage"), sampled(null)]).toEqual([true, false, false, false]);
  });

  it("without one, decides by trace id: never at 0, always at 1, the same id the same way, and a trace sampled at a rate is sampled at every higher rate", () => {
    fc.assert(
      fc.property(traceIdArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (traceId, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(headSampled(null, traceId, 0)).toBe(false);
        expect(headSampled(null, traceId, 1)).toBe(true);
        expect(headSampled(null, traceId, low)).toBe(headSampled(null, traceId, low));
        if (headSampled(null, traceId, low)) expect(headSampled(null, traceId, high)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("samples about the rate's share of random trace ids", () => {
    const ids = Array.from({ length: 20_000 }, () => hex(16));
    for (const rate of [0.01, 0.1, 0.5]) {
      const share = ids.filter((id) => headSampled(null, id, rate)).length / ids.length;
      // 20,000 draws: the share is within 1.5 points of the rate far beyond one run in a million.
      expect(Math.abs(share - rate)).toBeLessThan(0.015);
    }
  });

  it("a request's line carries its hops' spans when sampled, failed or slow, and otherwise not", () => {
    const ok = [{ level: "info" as const }, { level: "info" as const }];
    const base = { sampled: false, status: 200, durationMs: 12, spans: ok };
    expect(keepsSpans(base)).toBe(false);
    expect(keepsSpans({ ...base, status: 422 })).toBe(false);
    expect(keepsSpans({ ...base, sampled: true })).toBe(true);
    expect(keepsSpans({ ...base, status: 500 })).toBe(true);
    expect(keepsSpans({ ...base, durationMs: SLOW_REQUEST_MS - 0.01 })).toBe(false);
    expect(keepsSpans({ ...base, durationMs: SLOW_REQUEST_MS })).toBe(true);
    expect(keepsSpans({ ...base, spans: [{ level: "info" }, { level: "warn" }] })).toBe(true);
    expect(keepsSpans({ ...base, spans: [{ level: "error" }] })).toBe(true);
    // Nothing to carry: no `spans` field at all.
    expect(keepsSpans({ ...base, sampled: true, spans: [] })).toBe(false);
  });

  it("a span of a trace not sampled logs no line when it ends well, and its line when it fails", () => {
    const logged: string[] = [];
    const spies = (["log", "warn", "error"] as const).map((level) => vi.spyOn(console, level).mockImplementation((line: string) => void logged.push(line)));
    try {
      const log = logger("market-symbol");
      endSpan(startSpan("symbol.marketPrice", `00-${TRACE}-${PARENT}-00`), log);
      expect(logged).toEqual([]);
      endSpan(startSpan("symbol.marketPrice", `00-${TRACE}-${PARENT}-00`), log, { error: "boom" }, "error");
      endSpan(startSpan("webhook.delivery", `00-${TRACE}-${PARENT}-00`), log, { status: 502 }, "warn");
      endSpan(startSpan("symbol.marketPrice", `00-${TRACE}-${PARENT}-01`), log);
      expect(logged.map((l) => JSON.parse(l) as { level: string; name: string })).toMatchObject([
        { level: "error", name: "symbol.marketPrice" },
        { level: "warn", name: "webhook.delivery" },
        { level: "info", name: "symbol.marketPrice" },
      ]);
      // A span of its own trace (no parent) is sampled: a root span's flags are 01.
      logged.length = 0;
      endSpan(startSpan("symbol.deliverReports", null), log);
      expect(logged).toHaveLength(1);
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
  });
});
