import type { IChartApi, SeriesMarker, UTCTimestamp } from "lightweight-charts";
import { useEffect, useRef } from "preact/hooks";
import { attributionOutOfTabOrder } from "../chart-logo";
import { minBarSpacingFor, precisionFor } from "./chart-scale";

// Line charts for backtest reports: equity (one run or several overlaid), drawdown, and
// the price with the run's trades as markers. The charting library loads on first use, as
// on the terminal. Values here are only drawn, never added up, so floats are fine.

export interface Point {
  time: UTCTimestamp;
  value: number;
}
export interface Line {
  name: string;
  color: string;
  points: Point[];
  area?: boolean;
}
export interface TradeMark {
  time: UTCTimestamp;
  side: "buy" | "sell";
  text: string;
}

export const PALETTE = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#f85149", "#e3b341", "#79c0ff", "#ff7b72"];

export const toTime = (iso: string) => Math.floor(Date.parse(iso) / 1000) as UTCTimestamp;

/** Points strictly increasing in time, as the library requires (the last value of a second wins). */
export function ordered(points: Point[]): Point[] {
  const out: Point[] = [];
  for (const p of [...points].sort((a, b) => a.time - b.time)) {
    if (out.at(-1)?.time === p.time) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

export function SeriesChart(props: { lines: Line[]; marks?: TradeMark[]; label: string; testid: string; height?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);

  useEffect(() => {
    let gone = false;
    let untab = () => {};
    void import("lightweight-charts").then(({ createChart, LineSeries, AreaSeries, createSeriesMarkers }) => {
      if (gone || !box.current) return;
      const el = box.current;
      const longest = Math.max(0, ...props.lines.map((l) => l.points.length));
      const api = createChart(el, {
        autoSize: true,
        layout: { background: { color: "transparent" }, textColor: "#9aa4b2", fontFamily: "inherit" },
        grid: { vertLines: { color: "#1a2029" }, horzLines: { color: "#1a2029" } },
        // The whole run fits (see minBarSpacingFor), and stays fitted when the box changes
        // width (the page settling after the first paint, a window resized).
        timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#232a36", minBarSpacing: minBarSpacingFor(longest), lockVisibleTimeRangeOnResize: true },
        rightPriceScale: { borderColor: "#232a36" },
      });
      chart.current = api;
      untab = attributionOutOfTabOrder(el);
      // The times of the first and last points in view, for the browser test (the canvas
      // says nothing a test can read).
      api.timeScale().subscribeVisibleTimeRangeChange((range) => {
        el.dataset.visibleFrom = range ? String(range.from) : "";
        el.dataset.visibleTo = range ? String(range.to) : "";
      });
      // One scale for every line: its labels must tell the smallest differences apart.
      const precision = precisionFor(props.lines.flatMap((l) => l.points.map((p) => p.value)));
      const priceFormat = { type: "price" as const, precision, minMove: 10 ** -precision };
      props.lines.forEach((line, i) => {
        const series = line.area
          ? api.addSeries(AreaSeries, { lineColor: line.color, topColor: `${line.color}55`, bottomColor: `${line.color}05`, lineWidth: 2, title: line.name, priceFormat })
          : api.addSeries(LineSeries, { color: line.color, lineWidth: 2, title: line.name, priceFormat });
        series.setData(ordered(line.points));
        if (i === 0 && props.marks?.length) {
          const marks: SeriesMarker<UTCTimestamp>[] = [...props.marks]
            .sort((a, b) => a.time - b.time)
            .map((m) => ({ time: m.time, position: m.side === "buy" ? "belowBar" : "aboveBar", shape: m.side === "buy" ? "arrowUp" : "arrowDown", color: m.side === "buy" ? "#3fb950" : "#f85149", text: m.text }));
          createSeriesMarkers(series, marks);
        }
      });
      api.timeScale().fitContent();
      el.dataset.ready = "true";
    });
    return () => {
      gone = true;
      untab();
      chart.current?.remove();
      chart.current = null;
    };
  }, [props.lines, props.marks]);

  return (
    <figure class="series-chart">
      <figcaption class="muted small">{props.label}</figcaption>
      <div class="chart-box small-chart" ref={box} data-testid={props.testid} />
    </figure>
  );
}
