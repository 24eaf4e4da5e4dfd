import type { IChartApi, ISeriesApi, Time, UTCTimestamp } from "lightweight-charts";
import type { AlpacaBar } from "../../../shared/market/format";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { attributionOutOfTabOrder } from "../chart-logo";
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
const DAY_SECONDS = 86_400;
// The chart's times are UTC (the library's), so its day labels are too.
const dayLabel = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });

// A history load that fails for a reason that passes (429 under the per-user rate limit,
// a 5xx, a dropped connection) is tried again after about 1, 2, 4, 8 and 16 s, jittered so
// that tabs refused together do not come back together; then the chart offers a button.
const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000];
const passing = (e: unknown) => !(e instanceof ApiError) || e.status === 408 || e.status === 429 || e.status >= 500;

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
  const [status, setStatus] = useState<"loading" | "ready" | "empty" | "retrying" | "error">("loading");
  const [attempt, setAttempt] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<{ api: IChartApi; candles: ISeriesApi<"Candlestick">; volume: ISeriesApi<"Histogram"> } | null>(null);

  const [ready, setReady] = useState(false);
  useEffect(() => {
    let api: IChartApi | undefined;
    let gone = false;
    let untab = () => {};
    void import("lightweight-charts").then(({ createChart, CandlestickSeries, HistogramSeries, TickMarkType }) => {
      if (gone || !box.current) return;
      api = createChart(box.current, {
        autoSize: true,
        layout: { background: { color: "transparent" }, textColor: "#9aa4b2", fontFamily: "inherit", panes: { separatorColor: "#232a36" } },
        grid: { vertLines: { color: "#1a2029" }, horzLines: { color: "#1a2029" } },
        // A few empty bars of room on the right: the forming bar is not pressed against the
        // price scale, and its time label is not cut by it.
        // A day's tick says which day ("5 Dec"), not only its number.
        timeScale: {
          timeVisible: true,
          secondsVisible: false,
          borderColor: "#232a36",
          rightOffset: 4,
          tickMarkFormatter: (time: Time, type: number) => (type === TickMarkType.DayOfMonth && typeof time === "number" ? dayLabel.format(time * 1000) : null),
        },
        rightPriceScale: { borderColor: "#232a36" },
      });
      const candles = api.addSeries(CandlestickSeries, { upColor: "#3fb950", downColor: "#f85149", borderVisible: false, wickUpColor: "#3fb950", wickDownColor: "#f85149" });
      // The volume pane keeps its last-value tag but draws no line across itself at it: the
      // price pane's line is the one a trader reads.
      const volume = api.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, color: "#30363d", priceLineVisible: false }, 1);
      api.panes()[1]?.setHeight(90);
      untab = attributionOutOfTabOrder(box.current);
      chart.current = { api, candles, volume };
      setReady(true);
    });
    return () => {
      gone = true;
      untab();
      api?.remove();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!ready || !c) return;
    let live = true;
    let last: Candle | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    setStatus("loading");
    // Daily bars start at New York midnight (05:00 UTC): their axis shows dates, not that hour.
    c.api.applyOptions({ timeScale: { timeVisible: tf.seconds < DAY_SECONDS } });
    // The previous symbol's candles must not linger while this one loads, nor its price
    // scale: a scale keeps its last range when its series empty, so it is hidden until
    // this symbol has something to draw.
    c.candles.setData([]);
    c.volume.setData([]);
    let scaled = false;
    const showScale = (on: boolean) => {
      if (scaled === on) return;
      scaled = on;
      c.api.applyOptions({ rightPriceScale: { visible: on } });
    };
    showScale(false);
    const draw = (candle: Candle) => {
      c.candles.update(candle);
      c.volume.update({ time: candle.time, value: candle.volume, color: candle.close >= candle.open ? "#23863655" : "#da363355" });
      showScale(true);
    };
    const load = (failures: number) =>
      history(symbol, tf).then(
        (candles) => {
          if (!live) return;
          // Trades may have drawn a candle while the history was loading (or retrying):
          // one newer than the history's last bar is drawn again over it.
          const forming = last;
          if (candles.length) {
            c.candles.setData(candles);
            c.volume.setData(candles.map((k) => ({ time: k.time, value: k.volume, color: k.close >= k.open ? "#23863655" : "#da363355" })));
            last = candles.at(-1);
            if (forming && last && forming.time > last.time) last = forming;
            if (last) draw(last);
          }
          c.api.timeScale().scrollToRealTime();
          setStatus(last ? "ready" : "empty");
        },
        (e: unknown) => {
          if (!live) return;
          const delay = RETRY_DELAYS_MS[failures];
          if (delay === undefined || !passing(e)) return setStatus("error");
          setStatus("retrying");
          retry = setTimeout(() => void load(failures + 1), delay * (0.75 + Math.random() / 2));
        },
      );
    void load(0);
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
      // Live candles answer "no bars yet", not a history that is still missing.
      setStatus((s) => (s === "empty" ? "ready" : s));
    });
    return () => {
      live = false;
      clearTimeout(retry);
      off();
    };
  }, [symbol, tf, ready, attempt]);

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
          {status === "loading" ? "Loading…" : status === "empty" ? "No bars yet" : status === "retrying" ? "History unavailable, retrying…" : status === "error" ? "History unavailable" : ""}
        </span>
        {status === "error" && (
          <button class="link-button" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        )}
      </div>
      <div class="chart-box" ref={box} data-testid="chart" />
    </section>
  );
}
