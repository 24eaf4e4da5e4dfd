import type { Point } from "./series-chart";
import { toTime } from "./series-chart";
import { parseTimestamp } from "../../../shared/market/csv";

// What the backtest pages read of a CSV the trader picked: its closes to draw, its rows as
// bars for a JSON body. The server parses and checks the file itself; these only prepare it.

/** Bars of an uploaded CSV (timestamp,open,high,low,close,volume) as close prices to draw. */
export function csvCloses(text: string): Point[] {
  const out: Point[] = [];
  for (const line of text.split(/\r?\n/).slice(1)) {
    const [t, , , , close] = line.split(",");
    if (!t || close === undefined) continue;
    const ms = parseTimestamp(t.trim());
    const time = typeof ms === "number" ? (Math.floor(ms / 1000) as Point["time"]) : toTime(t.trim());
    const value = Number(close);
    if (Number.isFinite(time) && Number.isFinite(value)) out.push({ time, value });
  }
  return out;
}

/** An uploaded CSV's rows as bars for a JSON body (the optimization takes no file upload). */
export function csvBars(text: string): { t: string | number; open: number; high: number; low: number; close: number; volume: number }[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split(",").map((h) => h.trim().toLowerCase()) ?? [];
  const at = (name: string) => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const n = (name: string) => Number(cells[at(name)]);
    // Epoch times go as numbers (a body's bars read a string as RFC 3339), read as the CSV
    // import reads them: seconds below 10^11, milliseconds above.
    const raw = (cells[at("timestamp")] ?? "").trim();
    const t = /^\d{1,16}$/.test(raw) ? (parseTimestamp(raw) as number) : raw;
    return { t, open: n("open"), high: n("high"), low: n("low"), close: n("close"), volume: at("volume") < 0 ? 0 : n("volume") };
  });
}
