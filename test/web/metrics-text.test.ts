import { describe, expect, it } from "vitest";
import { exposition } from "../../shared/observability/prometheus";
import { MetricsParseError, parseMetrics } from "../../web/src/metrics-text";
import { call, signUp } from "../helpers";

// The admin dashboard's reader of the Prometheus text format (web/src/metrics-text.ts),
// pure, so it runs here: the format's corners by hand, then what the Worker really serves.

describe("parseMetrics", () => {
  it("reads families with their HELP, TYPE, labels and values", () => {
    const families = parseMetrics(
      [
        "# HELP redfire_orders Orders by their latest status.",
        "# TYPE redfire_orders gauge",
        'redfire_orders{status="filled"} 12',
        'redfire_orders{status="new"} 3',
        "# HELP redfire_fills_total Fills.",
        "# TYPE redfire_fills_total counter",
        "redfire_fills_total 7",
        "",
      ].join("\n"),
    );
    expect([...families.keys()]).toEqual(["redfire_orders", "redfire_fills_total"]);
    const orders = families.get("redfire_orders")!;
    expect(orders.type).toBe("gauge");
    expect(orders.help).toBe("Orders by their latest status.");
    expect(orders.samples).toEqual([
      { name: "redfire_orders", labels: { status: "filled" }, value: 12 },
      { name: "redfire_orders", labels: { status: "new" }, value: 3 },
    ]);
    expect(families.get("redfire_fills_total")).toMatchObject({ type: "counter", samples: [{ name: "redfire_fills_total", labels: {}, value: 7 }] });
  });

  it("undoes the three label escapes and the two HELP escapes, and keeps other backslashes", () => {
    const families = parseMetrics(
      [
        "# HELP x A \\\\ backslash\\nand a new line",
        "# TYPE x gauge",
        'x{path="C:\\\\dir\\\\",quote="say \\"hi\\"",lines="one\\ntwo",odd="a\\tb",empty=""} 1',
      ].join("\n"),
    );
    const x = families.get("x")!;
    expect(x.help).toBe("A \\ backslash\nand a new line");
    expect(x.samples[0]!.labels).toEqual({ path: "C:\\dir\\", quote: 'say "hi"', lines: "one\ntwo", odd: "a\\tb", empty: "" });
  });

  it("takes label values holding braces, commas and #, spaces around tokens, a trailing comma and CRLF lines", () => {
    const families = parseMetrics('# TYPE y counter\r\ny { route = "/a/{id},b#c" , method="GET", }   4.5   1700000000000\r\n');
    expect(families.get("y")!.samples).toEqual([{ name: "y", labels: { route: "/a/{id},b#c", method: "GET" }, value: 4.5, timestamp: 1_700_000_000_000 }]);
  });

  it("reads Go's float forms: exponents, NaN and both infinities", () => {
    const families = parseMetrics(["a 1e+06", "b -2.5E-3", "c NaN", "d +Inf", "e -Inf", "f .5"].join("\n"));
    const v = (n: string) => families.get(n)!.samples[0]!.value;
    expect(v("a")).toBe(1_000_000);
    expect(v("b")).toBe(-0.0025);
    expect(v("c")).toBeNaN();
    expect(v("d")).toBe(Infinity);
    expect(v("e")).toBe(-Infinity);
    expect(v("f")).toBe(0.5);
    // Without a TYPE line a family is untyped, named after its samples.
    expect(families.get("a")!.type).toBe("untyped");
  });

  it("puts a histogram's _bucket, _sum and _count samples in its family, and a summary's _sum and _count in its", () => {
    const families = parseMetrics(
      [
        "# TYPE h histogram",
        'h_bucket{route="/x",le="0.1"} 1',
        'h_bucket{route="/x",le="+Inf"} 2',
        'h_sum{route="/x"} 0.35',
        'h_count{route="/x"} 2',
        "# TYPE s summary",
        's{quantile="0.5"} 0.2',
        "s_sum 3",
        "s_count 9",
        // A gauge that only looks like a part of one.
        "# TYPE g gauge",
        "g_count 5",
      ].join("\n"),
    );
    expect(families.get("h")!.samples.map((s) => s.name)).toEqual(["h_bucket", "h_bucket", "h_sum", "h_count"]);
    expect(families.get("h")!.samples[1]!.labels).toEqual({ route: "/x", le: "+Inf" });
    expect(families.get("s")!.samples.map((s) => s.name)).toEqual(["s", "s_sum", "s_count"]);
    expect(families.get("g")!.samples).toEqual([]);
    expect(families.get("g_count")!.samples[0]!.value).toBe(5);
  });

  it("ignores other comments and blank lines", () => {
    const families = parseMetrics("# a comment\n\n#another\nz 1\n\n");
    expect([...families.keys()]).toEqual(["z"]);
  });

  it("refuses a broken line, naming its line number", () => {
    const refusal = (text: string) => {
      try {
        parseMetrics(text);
      } catch (e) {
        expect(e).toBeInstanceOf(MetricsParseError);
        return (e as Error).message;
      }
      throw new Error(`accepted: ${text}`);
    };
    expect(refusal("ok 1\nnovalue")).toMatch(/^line 2: value expected/);
    expect(refusal('a{b="unterminated} 1')).toMatch(/^line 1: unterminated value of label b/);
    expect(refusal("a{b=1} 1")).toMatch(/^line 1: quoted value expected/);
    expect(refusal('a{b="1" c="2"} 1')).toMatch(/^line 1: "," or "}" expected/);
    expect(refusal('a{b="1",b="2"} 1')).toMatch(/label b given twice/);
    expect(refusal("a one")).toMatch(/bad value "one"/);
    expect(refusal("a 1 2 3")).toMatch(/value expected/);
    expect(refusal("a 1 later")).toMatch(/bad timestamp/);
    expect(refusal("# TYPE a meter")).toMatch(/unknown type "meter"/);
    expect(refusal("{x=\"1\"} 1")).toMatch(/no metric name/);
  });

  it("reads back what the server's formatter writes, label escapes included", () => {
    const text = exposition([
      { name: "redfire_orders", type: "gauge", help: "Orders\\by status\nper line", samples: [{ labels: { status: 'we"ird\\\n' }, value: 3 }] },
      { name: "redfire_fills_total", type: "counter", help: "Fills.", samples: [{ value: 42 }] },
    ]);
    const families = parseMetrics(text);
    expect(families.get("redfire_orders")).toEqual({ name: "redfire_orders", type: "gauge", help: "Orders\\by status\nper line", samples: [{ name: "redfire_orders", labels: { status: 'we"ird\\\n' }, value: 3 }] });
    expect(families.get("redfire_fills_total")!.samples[0]!.value).toBe(42);
  });

  it("reads the Worker's own GET /metrics: every family typed, histograms whole", async () => {
    const admin = await signUp("admin");
    const res = await call("/metrics", { token: admin.access });
    expect(res.status).toBe(200);
    const families = parseMetrics(await res.text());
    for (const name of ["redfire_orders", "redfire_fills_total", "redfire_market_sockets", "redfire_config_version"]) expect(families.get(name)?.type, name).toMatch(/^(counter|gauge)$/);
    for (const f of families.values()) expect(f.type, f.name).not.toBe("untyped");
    const histograms = [...families.values()].filter((f) => f.type === "histogram");
    // Request latency (when the gateway reports it): every series ends in a +Inf bucket.
    for (const h of histograms) {
      const infinite = h.samples.filter((s) => s.name === `${h.name}_bucket` && s.labels.le === "+Inf");
      expect(infinite.length).toBe(h.samples.filter((s) => s.name === `${h.name}_count`).length);
    }
  });
});
