import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { instantAfter, parseInstant } from "../shared/instant";

describe("a query's time bound", () => {
  // Far enough inside years 0100–9999 that the same instant in any zone is too.
  const instant = fc.integer({ min: Date.parse("0100-01-02T00:00:00Z"), max: Date.parse("9999-12-30T23:59:59.999Z") });
  const offset = fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 });

  it("reads every RFC 3339 time Date writes, with any offset, to the millisecond it names", () => {
    fc.assert(
      fc.property(instant, offset, fc.integer({ min: 0, max: 999 }), (ms, minutes, micros) => {
        const iso = new Date(ms).toISOString();
        expect(parseInstant(iso)).toBe(ms);
        // The same instant written in another zone: local wall time plus the offset.
        const local = new Date(ms + minutes * 60_000).toISOString().slice(0, 23);
        const sign = minutes < 0 ? "-" : "+";
        const abs = Math.abs(minutes);
        const zoned = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
        expect(parseInstant(zoned), zoned).toBe(ms);
        // Digits past the millisecond are taken, not refused: rounded down for an upper
        // bound, up for a lower one (a lower bound never takes in a row before it).
        const finer = `${iso.slice(0, 23)}${String(micros).padStart(3, "0")}Z`;
        expect(parseInstant(finer)).toBe(ms);
        expect(parseInstant(finer, "ceil"), finer).toBe(micros === 0 ? ms : ms + 1);
        expect(parseInstant(iso, "ceil")).toBe(ms);
      }),
      { numRuns: 2_000 },
    );
  });

  it("reads a date as midnight UTC, and refuses days that do not exist rather than rolling them over", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), (year, month, day) => {
        const text = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
        const ms = Date.UTC(year, month - 1, day);
        const exists = new Date(ms).getUTCDate() === day && year >= 100;
        if (year < 100) return; // Date.UTC maps years 0–99 to 1900–1999.
        expect(parseInstant(text), text).toBe(exists ? ms : undefined);
        expect(parseInstant(`${text}T00:00:00Z`), text).toBe(exists ? ms : undefined);
      }),
      { numRuns: 3_000 },
    );
  });

  it("orders two bounds by their exact instants, digits past the millisecond and offsets included", () => {
    // Nanoseconds after an instant, written in a zone: the bound's text and its exact value (ns since the epoch).
    const written = fc.tuple(instant, fc.integer({ min: 0, max: 999_999 }), offset).map(([ms, ns, minutes]) => {
      const local = new Date(ms + minutes * 60_000).toISOString().slice(0, 23);
      const zone = `${minutes < 0 ? "-" : "+"}${String(Math.floor(Math.abs(minutes) / 60)).padStart(2, "0")}:${String(Math.abs(minutes) % 60).padStart(2, "0")}`;
      return { text: `${local}${String(ns).padStart(6, "0")}${zone}`, exact: BigInt(ms) * 1_000_000n + BigInt(ns) };
    });
    fc.assert(
      fc.property(written, written, (a, b) => {
        expect(instantAfter(a.text, b.text), `${a.text} ${b.text}`).toBe(a.exact > b.exact);
      }),
      { numRuns: 3_000 },
    );
    // Inside one millisecond, rounding as bounds do puts them past each other; the exact order does not.
    expect(parseInstant("2026-12-05T10:00:00.0001Z", "ceil")).toBeGreaterThan(parseInstant("2026-12-05T10:00:00.0009Z", "floor")!);
    expect(instantAfter("2026-12-05T10:00:00.0001Z", "2026-12-05T10:00:00.0009Z")).toBe(false);
    expect(instantAfter("2026-12-05T10:00:00.00090Z", "2026-12-05T10:00:00.0009Z")).toBe(false);
    expect(instantAfter("2026-12-05", "nonsense")).toBeUndefined();
  });

  it("refuses a time without an offset, an hour of 24, and what is not a time at all", () => {
    for (const text of ["2026-12-05T10:00:00", "2026-12-05T10:00", "2026-12-05T24:00:00Z", "2026-12-05T10:60:00Z", "2026-12-05T10:00:00+24:00", "2026-12-5", "yesterday", "", "1733400000000"])
      expect(parseInstant(text), text).toBeUndefined();
  });
});
