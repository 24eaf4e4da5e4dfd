import { thinnedIndices } from "../../../shared/strategy/series";

// A long series thinned for a chart, by the rule the API thins a report's series with.

/**
 * At most about `max` points of a time-ordered series: the points `thinnedIndices` keeps
 * (every k-th from the first, and the last) and every point whose time is in `keep` (the
 * bars the trades were made on, so each trade marker has its bar). Nothing is averaged:
 * every point kept is a real one. A series within `max` comes back as it is.
 */
export function thinned<T extends { time: number }>(points: readonly T[], max: number, keep: ReadonlySet<number> = new Set()): T[] {
  if (points.length <= max) return [...points];
  const kept = new Set(thinnedIndices(points.length, max));
  return points.filter((p, i) => kept.has(i) || keep.has(p.time));
}
