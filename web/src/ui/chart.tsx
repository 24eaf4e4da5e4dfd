import type { IChartApi, ISeriesApi, UTCTimestamp } from "lightweight-charts";
import type { AlpacaBar } from "../../../shared/market/format";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { market, type MarketMsg } from "../streams";
import { useStore } from "../store";
import { selected } from "../trading";

// Candles for the selected symbol: history over REST, then the live candle kept current
// from the stream (every trade updates the bucket it falls in, so every timeframe moves
// live, not only the minute). Volume in a pane below. Prices here are only drawn, never
// added up, so the chart's floats are fine. The charting library is most of the app's
// JavaScript, so it loads after the first paint.
const TIMEFRAMES = [
  { label: "1m", api: "1Min", seconds: 60 },
  { label: "5m", api: "5Min", seconds: 300 },
  { label: "15m", api: "15Min", seconds: 900 },
  { label: "1h", api: "1Hour", seconds: 3600 },
  { label: "1d", api: "1Day", seconds: 86_400 },
] as const;
type Timeframe = (typeof TIMEFRAMES)[number];

// The API's own bar shape (type only: nothing from shared/ is bundled for it).
type Bar = Pick<AlpacaBar, "t" | "o" | "h" | "l" | "c" | "v">;
interface Candle {
  time: UTCTimestamp;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

async function history(symbol: string, tf: Timeframe): Promise<Candle[]> {
  const start = new Date(Date.now() - tf.seconds * 1000 * 300).toISOString();
  const q = `timeframe=${tf.api}&start=${encodeURIComponent(start)}&limit=1000`;
  const bars = symbol.includes("/")
    ? (await api<{ bars: Record<string, Bar[]> }>("GET", `/v1beta3/crypto/us/bars?symbols=${encodeURIComponent(symbol)}&${q}`)).bars[symbol] ?? []
    : (await api<{ bars: Bar[] }>("GET", `/v2/stocks/${encodeURIComponent(symbol)}/bars?${q}`)).bars;
  return bars.map((b) => ({ time: (Date.parse(b.t) / 1000) as UTCTimestamp, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v }));
}

export function Chart() {
  const symbol = useStore(selected);
  const [tf, setTf] = useState<Timeframe>(TIMEFRAMES[0]);
  const [status, setStatus] = useState<"loading" | "ready" | "empty" | "error">("loading");
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<{ api: IChartApi; candles: ISeriesApi<"Candlestick">; volume: ISeriesApi<"Histogram"> } | null>(null);

  const [ready, setReady] = useState(false);
  useEffect(() => {
    let api: IChartApi | undefined;
    let gone = false;
    void import("lightweight-charts").then(({ createChart, CandlestickSeries, HistogramSeries }) => {
      if (gone || !box.current) return;
      api = createChart(box.current, {
        autoSize: true,
        layout: { background: { color: "transparent" }, textColor: "#9aa4b2", fontFamily: "inherit", panes: { separatorColor: "#232a36" } },
        grid: { vertLines: { color: "#1a2029" }, horzLines: { color: "#1a2029" } },
        // A few empty bars of room on the right: the forming bar is not pressed against the
        // price scale, and its time label is not cut by it.
        timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#232a36", rightOffset: 4 },
        rightPriceScale: { borderColor: "#232a36" },
      });
      const candles = api.addSeries(CandlestickSeries, { upColor: "#3fb950", downColor: "#f85149", borderVisible: false, wickUpColor: "#3fb950", wickDownColor: "#f85149" });
      // The volume pane keeps its last-value tag but draws no line across itself at it: the
      // price pane's line is the one a trader reads.
      const volume = api.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, color: "#30363d", priceLineVisible: false }, 1);
      api.panes()[1]?.setHeight(90);
      chart.current = { api, candles, volume };
      setReady(true);
    });
    return () => {
      gone = true;
      api?.remove();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    if (!ready) return;
    let live = true;
    let last: Candle | undefined;
    setStatus("loading");
    // The previous symbol's candles must not linger while this one loads.
    chart.current?.candles.setData([]);
    chart.current?.volume.setData([]);
    const draw = (c: Candle) => {
      chart.current?.candles.update(c);
      chart.current?.volume.update({ time: c.time, value: c.volume, color: c.close >= c.open ? "#23863655" : "#da363355" });
    };
    history(symbol, tf).then(
      (candles) => {
        if (!live || !chart.current) return;
        chart.current.candles.setData(candles);
        chart.current.volume.setData(candles.map((c) => ({ time: c.time, value: c.volume, color: c.close >= c.open ? "#23863655" : "#da363355" })));
        chart.current.api.timeScale().scrollToRealTime();
        last = candles.at(-1);
        setStatus(candles.length ? "ready" : "empty");
      },
      () => live && setStatus("error"),
    );
    const off = market.on((m: MarketMsg) => {
      if (m.S !== symbol || m.T !== "t") return;
      const at = Date.parse(m.t) / 1000;
      // The day bucket starts where the server's last daily bar does (New York midnight).
      const bucket = (last && at >= last.time && at < last.time + tf.seconds ? last.time : Math.floor(at / tf.seconds) * tf.seconds) as UTCTimestamp;
      if (last && bucket < last.time) return; // a late print; the server's bars have it
      last =
        last && last.time === bucket
          ? { ...last, high: Math.max(last.high, m.p), low: Math.min(last.low, m.p), close: m.p, volume: last.volume + m.s }
          : { time: bucket, open: m.p, high: m.p, low: m.p, close: m.p, volume: m.s };
      draw(last);
      setStatus("ready");
    });
    return () => {
      live = false;
      off();
    };
  }, [symbol, tf, ready]);

  return (
    <section class="panel chart" aria-label={`Chart of ${symbol}`}>
      <div class="chart-head">
        <h2>{symbol}</h2>
        <div class="segmented" role="group" aria-label="Timeframe">
          {TIMEFRAMES.map((t) => (
            <button key={t.label} aria-pressed={t === tf} onClick={() => setTf(t)}>
              {t.label}
            </button>
          ))}
        </div>
        <span class="muted small" data-testid="chart-status">
          {status === "loading" ? "Loading…" : status === "empty" ? "No bars yet" : status === "error" ? "History unavailable" : ""}
        </span>
      </div>
      <div class="chart-box" ref={box} data-testid="chart" />
    </section>
  );
}
