import { describe, expect, it } from "vitest";
import { bucketOf, families, FlushGate, MetricsBuffer, type MetricsDelta } from "../shared/observability/registry";
import { exposition } from "../shared/observability/prometheus";
import { answeredRoute, HTTP_DURATION, HTTP_REQUESTS, routeLabel, UNMATCHED_ROUTE } from "../shared/observability/catalog";

// The pure registry behind the gateway's request metrics: buckets, merging deltas, the flush
// interval. (The store and GET /metrics: test/metrics.test.ts.)

const labels = { route: "/v2/orders", method: "POST", status: "200" };

describe("the metrics registry", () => {
  it("puts an observation in the first bucket whose bound it does not exceed, past the last in +Inf", () => {
    const bounds = [0.005, 0.01, 1];
    expect(bucketOf(bounds, 0)).toBe(0);
    expect(bucketOf(bounds, 0.005)).toBe(0);
    expect(bucketOf(bounds, 0.0051)).toBe(1);
    expect(bucketOf(bounds, 1)).toBe(2);
    expect(bucketOf(bounds, 1.5)).toBe(3);
  });

  it("renders cumulative buckets ending in +Inf equal to the count, whatever order the labels came in", () => {
    const buffer = new MetricsBuffer();
    for (const seconds of [0.001, 0.02, 0.02, 3, 60]) buffer.observe(HTTP_DURATION, labels, seconds);
    buffer.inc(HTTP_REQUESTS, labels);
    buffer.inc(HTTP_REQUESTS, { status: "200", method: "POST", route: "/v2/orders" }, 4);
    const [requests, duration] = families([HTTP_REQUESTS, HTTP_DURATION], buffer.take());
    expect(requests!.samples).toEqual([{ labels, value: 5 }]);
    const buckets = duration!.samples.filter((s) => s.suffix === "_bucket");
    expect(buckets.map((b) => [b.labels!.le, b.value])).toEqual([
      ["0.005", 1], ["0.01", 1], ["0.025", 3], ["0.05", 3], ["0.1", 3], ["0.25", 3], ["0.5", 3], ["1", 3], ["2.5", 3], ["5", 4], ["10", 4], ["+Inf", 5],
    ]);
    expect(duration!.samples.find((s) => s.suffix === "_count")!.value).toBe(5);
    expect(duration!.samples.find((s) => s.suffix === "_sum")!.value).toBeCloseTo(63.041, 9);
    const text = exposition([duration!]);
    expect(text).toContain('redfire_http_request_duration_seconds_bucket{route="/v2/orders",method="POST",status="200",le="+Inf"} 5\n');
    expect(text).toContain("# TYPE redfire_http_request_duration_seconds histogram\n");
  });

  it("a flush that failed goes back into the buffer and adds to what was counted meanwhile", () => {
    const buffer = new MetricsBuffer();
    buffer.inc(HTTP_REQUESTS, labels, 2);
    buffer.observe(HTTP_DURATION, labels, 0.2);
    const failed: MetricsDelta = buffer.take();
    expect(buffer.empty).toBe(true);
    buffer.inc(HTTP_REQUESTS, labels);
    buffer.observe(HTTP_DURATION, labels, 0.3);
    buffer.restore(failed);
    const [requests, duration] = families([HTTP_REQUESTS, HTTP_DURATION], buffer.take());
    expect(requests!.samples[0]!.value).toBe(3);
    expect(duration!.samples.find((s) => s.suffix === "_count")!.value).toBe(2);
    expect(duration!.samples.find((s) => s.suffix === "_bucket" && s.labels!.le === "0.25")!.value).toBe(1);
  });

  it("the flush gate lets one flush through per interval and says how long until the next", () => {
    const gate = new FlushGate(1000);
    expect(gate.wait(5_000)).toBe(0);
    gate.mark(5_000);
    expect(gate.wait(5_000)).toBe(1000);
    expect(gate.wait(5_400)).toBe(600);
    expect(gate.wait(6_000)).toBe(0);
    gate.mark(6_000);
    expect(gate.wait(6_999)).toBe(1);
  });

  it("labels a request no route matched with one fixed route, and a matched one with its pattern", () => {
    expect(routeLabel("/v2/orders/:order_id", "GET")).toBe("/v2/orders/:order_id");
    expect(routeLabel("*", "ALL")).toBe(UNMATCHED_ROUTE);
    expect(routeLabel("/api/*", "ALL")).toBe(UNMATCHED_ROUTE);
    expect(routeLabel(undefined, undefined)).toBe(UNMATCHED_ROUTE);
  });

  it("labels a request middleware answered (a 429, 413 or 415) with the route it was for, and one no handler matched as unmatched", () => {
    const middleware = [{ path: "*", method: "ALL" }, { path: "/api/*", method: "ALL" }];
    const handler = { path: "/api/webhooks", method: "POST" };
    expect(answeredRoute([...middleware, handler], 0)).toBe("/api/webhooks");
    expect(answeredRoute([...middleware, handler], 2)).toBe("/api/webhooks");
    expect(answeredRoute(middleware, 1)).toBe(UNMATCHED_ROUTE);
    expect(answeredRoute([], 0)).toBe(UNMATCHED_ROUTE);
  });
});
