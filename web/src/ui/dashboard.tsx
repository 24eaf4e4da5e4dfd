import type { AutoscaleInfo, IChartApi, ISeriesApi, LineData, LineSeries, UTCTimestamp, WhitespaceData } from "lightweight-charts";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { attributionOutOfTabOrder } from "../chart-logo";
import { addScrape, emptyWindow, METRIC, topRoutes, windowRoutes, type Gauges, type Interval, type RouteRow, type Window } from "../dashboard-model";
import { MetricsParseError, parseMetrics } from "../metrics-text";

// The operator's view of GET /metrics (admins; docs/observability.md): scraped every 5 s
// while the tab is visible, the last 15 minutes kept in the page, rates and latency
// quantiles derived from successive scrapes (dashboard-model.ts). A family the server does
// not report shows as "not reported" rather than as zero. Drawn with the charting library
// the terminal uses; it loads with this page.

const POLL_MS = 5000;
const KEEP_SECONDS = 15 * 60;
const TOP_ROUTES = 10;
const PALETTE = ["#58a6ff", "#3fb950", "#e3b341", "#f85149", "#d2a8ff", "#f0883e", "#79c0ff", "#ff7b72", "#a5d6ff", "#7ee787"];

interface ChartLine {
  name: string;
  points: (LineData<UTCTimestamp> | WhitespaceData<UTCTimestamp>)[];
}

/** One line per key found in any point; a point whose family was absent is a gap, a key absent from a reported family is 0. */
function keyedLines<P extends { time: number }>(points: P[], pick: (p: P) => Record<string, number> | number | undefined, name: (key: string) => string = (k) => k): ChartLine[] {
  const keys = new Set<string>();
  for (const p of points) {
    const v = pick(p);
    if (typeof v === "number") keys.add("");
    else if (v) for (const k of Object.keys(v)) keys.add(k);
  }
  return [...keys].sort().map((key) => ({
    name: name(key),
    points: points.map((p) => {
      const v = pick(p);
      const value = v === undefined ? undefined : typeof v === "number" ? v : (v[key] ?? 0);
      const time = p.time as UTCTimestamp;
      return value === undefined || !Number.isFinite(value) ? { time } : { time, value };
    }),
  }));
}

const hasData = (lines: ChartLine[]) => lines.some((l) => l.points.some((p) => "value" in p));

function lastValue(line: ChartLine): number | undefined {
  for (let i = line.points.length - 1; i >= 0; i--) {
    const p = line.points[i]!;
    if ("value" in p) return p.value;
  }
  return undefined;
}

const fixed = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const ms = (seconds: number | undefined) => (seconds === undefined || !Number.isFinite(seconds) ? "—" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 1 : 0)} ms`);
const percent = (share: number | undefined) => (share === undefined ? "—" : `${(share * 100).toFixed(1)}%`);
const span = (seconds: number) => (seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`);
const sum = (r: Record<string, number> | undefined) => (r ? Object.values(r).reduce((a, b) => a + b, 0) : undefined);

export function DashboardPage() {
  const [view, setView] = useState<Window>(emptyWindow);
  const [problem, setProblem] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let gone = false;
    let busy = false;
    const schedule = () => {
      clearTimeout(timer);
      if (!gone && !document.hidden) timer = setTimeout(() => void scrape(), POLL_MS);
    };
    const scrape = async () => {
      if (busy || gone) return;
      busy = true;
      try {
        const text = await api<unknown>("GET", "/metrics");
        const families = parseMetrics(typeof text === "string" ? text : "");
        if (gone) return;
        setView((w) => addScrape(w, { at: Date.now(), families }, KEEP_SECONDS));
        setProblem(null);
      } catch (e) {
        if (gone) return;
        setProblem(e instanceof ApiError ? e.message : e instanceof MetricsParseError ? `The metrics could not be read (${e.message}).` : "The metrics could not be loaded.");
      } finally {
        busy = false;
        schedule();
      }
    };
    // A hidden tab does not scrape; coming back scrapes at once (the first rate then spans the pause).
    const onVisibility = () => {
      setPaused(document.hidden);
      if (document.hidden) clearTimeout(timer);
      else void scrape();
    };
    document.addEventListener("visibilitychange", onVisibility);
    void scrape();
    return () => {
      gone = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, []);

  const { intervals, gauges } = view;
  const collecting = intervals.length === 0;
  // A family the server sends without samples has seen nothing yet; one it does not send is not reported.
  const has = (...names: string[]) => names.some((n) => view.last?.families.has(n) ?? false);
  const empty = (rate: boolean, ...names: string[]) => (rate && collecting ? "Collecting: rates need two scrapes." : has(...names) ? "None yet." : "Not reported.");
  const latest = intervals.at(-1);
  const now = gauges.at(-1);
  const seconds = intervals.reduce((a, i) => a + i.seconds, 0);

  return (
    <main class="page dashboard">
      <div class="row">
        <h1>Dashboard</h1>
        <span class="muted small" role="status" data-testid="dashboard-status">
          {paused ? "Paused while the tab is hidden" : gauges.length === 0 ? "Loading…" : `Every ${POLL_MS / 1000} s · ${span(seconds)} of ${KEEP_SECONDS / 60} min kept`}
        </span>
      </div>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      <Figures latest={latest} now={now} collecting={collecting} lagReported={has(METRIC.eventLag)} />
      <section class="panel" aria-labelledby="dash-requests">
        <h2 id="dash-requests">Requests</h2>
        <div class="report-charts">
          <LiveChart label="Requests per second" testid="chart-requests" empty={empty(true, METRIC.requests)} lines={requestLines(intervals)} />
          <LiveChart label="Latency (ms)" testid="chart-latency" empty={empty(true, METRIC.duration)} digits={1} lines={latencyLines(intervals)} />
        </div>
        <RoutesTable rows={windowRoutes(intervals)} collecting={collecting} over={span(seconds)} />
      </section>
      <section class="panel" aria-labelledby="dash-orders">
        <h2 id="dash-orders">Order flow</h2>
        <div class="report-charts">
          <LiveChart label="Orders per second by status, fills per second" testid="chart-orders" empty={empty(true, METRIC.orders, METRIC.fills)} lines={orderLines(intervals)} />
          <LiveChart label="Rejections per second by rule" testid="chart-rejections" empty={empty(true, METRIC.rejections)} lines={keyedLines(intervals, (i) => i.rejections)} />
        </div>
      </section>
      <section class="panel" aria-labelledby="dash-sockets">
        <h2 id="dash-sockets">Sockets</h2>
        <div class="report-charts">
          <LiveChart label="Open sockets by kind" testid="chart-sockets" empty={empty(false, METRIC.sockets, METRIC.marketSockets)} digits={0} lines={keyedLines(gauges, (g) => g.sockets)} />
          <LiveChart label="Messages sent per second by kind" testid="chart-messages" empty={empty(true, METRIC.messages)} lines={keyedLines(intervals, (i) => i.messages)} />
        </div>
      </section>
      <section class="panel" aria-labelledby="dash-queues">
        <h2 id="dash-queues">Queue health</h2>
        <div class="report-charts">
          <LiveChart label="Event lag (s)" testid="chart-lag" empty={empty(false, METRIC.eventLag)} digits={3} lines={keyedLines(gauges, (g) => g.eventLagSeconds, () => "lag")} />
          <LiveChart label="Webhook deliveries by status, dead letters by queue (totals)" testid="chart-queues" empty={empty(false, METRIC.deliveries, METRIC.deadLetters)} digits={0} lines={queueLines(gauges)} />
        </div>
      </section>
    </main>
  );
}

function requestLines(intervals: Interval[]): ChartLine[] {
  return [...keyedLines(intervals, (i) => i.requests?.total, () => "all"), ...keyedLines(intervals, (i) => i.requests?.byClass)];
}

function latencyLines(intervals: Interval[]): ChartLine[] {
  const inMs = (v: number) => v * 1000;
  return [...keyedLines(intervals, (i) => i.latency && inMs(i.latency.p50), () => "p50"), ...keyedLines(intervals, (i) => i.latency && inMs(i.latency.p99), () => "p99")];
}

function orderLines(intervals: Interval[]): ChartLine[] {
  return [
    ...keyedLines(intervals, (i) => i.orders?.placed, () => "placed"),
    ...keyedLines(intervals, (i) => i.orders?.byStatus),
    ...keyedLines(intervals, (i) => i.fills, () => "fills"),
  ];
}

function queueLines(gauges: Gauges[]): ChartLine[] {
  return [...keyedLines(gauges, (g) => g.deliveries, (k) => `webhooks ${k}`), ...keyedLines(gauges, (g) => g.deadLetters, (k) => `dead ${k}`)];
}

function Figure(props: { label: string; id: string; value: number | undefined; text: string }) {
  return (
    <div class="stat" data-testid={`figure-${props.id}`} data-value={props.value === undefined ? undefined : String(props.value)}>
      <span class="label">{props.label}</span>
      <span class="value num">{props.text}</span>
    </div>
  );
}

function Figures({ latest, now, collecting, lagReported }: { latest: Interval | undefined; now: Gauges | undefined; collecting: boolean; lagReported: boolean }) {
  // A rate needs two scrapes: "…" until then; "not reported" once the server has answered without the family.
  const rate = (v: number | undefined, text: string) => (collecting ? "…" : v === undefined ? "not reported" : text);
  const gauge = (v: number | undefined, text: string) => (!now ? "…" : v === undefined ? "not reported" : text);
  const sockets = sum(now?.sockets);
  return (
    <section class="panel" aria-label="Current figures">
      <div class="stats-row dash-figures">
        <Figure label="Requests/s" id="requests" value={latest?.requests?.total} text={rate(latest?.requests?.total, fixed(latest?.requests?.total))} />
        <Figure label="Errors 5xx / 4xx" id="errors" value={latest?.errors?.server} text={rate(latest?.requests?.total, latest?.errors ? `${percent(latest.errors.server)} / ${percent(latest.errors.client)}` : "—")} />
        <Figure label="Latency p50 / p99" id="latency" value={latest?.latency?.p99} text={rate(latest?.latency?.p99, `${ms(latest?.latency?.p50)} / ${ms(latest?.latency?.p99)}`)} />
        <Figure label="Orders/s" id="orders" value={latest?.orders?.placed} text={rate(latest?.orders?.placed, fixed(latest?.orders?.placed))} />
        <Figure label="Fills/s" id="fills" value={latest?.fills} text={rate(latest?.fills, fixed(latest?.fills))} />
        <Figure label="Open sockets" id="sockets" value={sockets} text={gauge(sockets, Object.entries(now?.sockets ?? {}).map(([k, v]) => `${v} ${k}`).join(" · ") || "0")} />
        <Figure label="Event lag" id="lag" value={now?.eventLagSeconds} text={lagReported && now?.eventLagSeconds === undefined ? "no events yet" : gauge(now?.eventLagSeconds, `${fixed(now?.eventLagSeconds, 3)} s`)} />
        <Figure label="Dead letters" id="dead-letters" value={sum(now?.deadLetters)} text={gauge(sum(now?.deadLetters), String(sum(now?.deadLetters)))} />
        <Figure label="Config version" id="config" value={now?.configVersion} text={gauge(now?.configVersion, String(now?.configVersion))} />
      </div>
    </section>
  );
}

function RoutesTable({ rows, collecting, over }: { rows: RouteRow[] | undefined; collecting: boolean; over: string }) {
  const [by, setBy] = useState<"rate" | "p99">("rate");
  const shown = rows && topRoutes(rows, by, TOP_ROUTES);
  return (
    <div class="dash-routes">
      <div class="chart-head">
        <h3 class="muted small">Top routes over the last {over}</h3>
        <div class="segmented" role="group" aria-label="Order routes by">
          <button aria-pressed={by === "rate"} onClick={() => setBy("rate")}>
            By rate
          </button>
          <button aria-pressed={by === "p99"} onClick={() => setBy("p99")}>
            By p99
          </button>
        </div>
      </div>
      {collecting ? (
        <p class="empty">Collecting: rates need two scrapes.</p>
      ) : !shown ? (
        <p class="empty">Request metrics are not reported by this server.</p>
      ) : shown.length === 0 ? (
        <p class="empty">No requests yet.</p>
      ) : (
        <div class="table-scroll">
          <table data-testid="top-routes">
            <thead>
              <tr>
                <th>Route</th>
                <th class="r">Requests/s</th>
                <th class="r">p50</th>
                <th class="r">p99</th>
                <th class="r">Errors</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={`${r.method} ${r.route}`} data-route={`${r.method} ${r.route}`}>
                  <td class="mono">
                    {r.method} {r.route}
                  </td>
                  <td class="r num">{r.rate.toFixed(2)}</td>
                  <td class="r num">{ms(r.p50)}</td>
                  <td class="r num">{ms(r.p99)}</td>
                  <td class={`r num${r.errorShare > 0 ? " down" : ""}`}>{percent(r.errorShare)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** A chart of lines that grow with each scrape; series are added as new names appear. */
/** `empty`: what shows until a line has a value. */
function LiveChart(props: { label: string; testid: string; lines: ChartLine[]; empty: string; digits?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<{ api: IChartApi; series: Map<string, ISeriesApi<"Line">>; LineSeries: typeof LineSeries } | null>(null);
  const lines = useRef(props.lines);
  lines.current = props.lines;
  const drawn = hasData(props.lines);
  const digits = props.digits ?? 2;

  const draw = () => {
    const c = chart.current;
    if (!c) return;
    const names = new Set(lines.current.map((l) => l.name));
    for (const [name, s] of c.series) {
      if (names.has(name)) continue;
      c.api.removeSeries(s);
      c.series.delete(name);
    }
    lines.current.forEach((line) => {
      let s = c.series.get(line.name);
      if (!s) {
        s = c.api.addSeries(c.LineSeries, {
          color: PALETTE[c.series.size % PALETTE.length],
          lineWidth: 2,
          title: line.name,
          priceFormat: { type: "price", precision: digits, minMove: 10 ** -digits },
          // Every figure here is a count, a rate or a time: the axis starts at zero at most
          // (found in QA: open sockets and orders/s were drawn down to -5 and -0.05).
          autoscaleInfoProvider: (original: () => AutoscaleInfo | null) => {
            const info = original();
            if (info?.priceRange) info.priceRange.minValue = Math.max(0, info.priceRange.minValue);
            return info;
          },
        });
        c.series.set(line.name, s);
      }
      s.setData(line.points);
    });
    c.api.timeScale().fitContent();
  };

  useEffect(() => {
    if (!drawn) return;
    let gone = false;
    let untab = () => {};
    void import("lightweight-charts").then(({ createChart, LineSeries }) => {
      if (gone || !box.current) return;
      const api = createChart(box.current, {
        autoSize: true,
        layout: { background: { color: "transparent" }, textColor: "#9aa4b2", fontFamily: "inherit" },
        grid: { vertLines: { color: "#1a2029" }, horzLines: { color: "#1a2029" } },
        timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#232a36" },
        // No margin under the lowest value: with the range starting at zero, none below it.
        rightPriceScale: { borderColor: "#232a36", scaleMargins: { top: 0.1, bottom: 0 } },
      });
      chart.current = { api, series: new Map(), LineSeries };
      untab = attributionOutOfTabOrder(box.current);
      draw();
      box.current.dataset.ready = "true";
    });
    return () => {
      gone = true;
      untab();
      chart.current?.api.remove();
      chart.current = null;
    };
  }, [drawn]);

  useEffect(draw, [props.lines]);

  // What the canvas shows, in words, for screen readers: each line's latest value.
  const summary = props.lines.map((l) => `${l.name} ${fixed(lastValue(l), digits)}`).join(", ");
  return (
    <figure class="series-chart">
      <figcaption class="muted small">{props.label}</figcaption>
      {drawn ? (
        <div class="chart-box small-chart" ref={box} data-testid={props.testid} role="img" aria-label={`${props.label}: ${summary}`} />
      ) : (
        <p class="empty chart-empty" data-testid={props.testid}>
          {props.empty}
        </p>
      )}
    </figure>
  );
}
