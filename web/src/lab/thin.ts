// A long series thinned for a chart (no imports, so the tests can run it as it is).

/**
 * At most about `max` points of a time-ordered series: every k-th point (k = ⌈n / max⌉)
 * from the first, the last, and every point whose time is in `keep` (the bars the trades
 * were made on, so each trade marker has its bar). Nothing is averaged: every point kept is
 * a real one. A series within `max` comes back as it is.
 */
export function thinned<T extends { time: number }>(points: readonly T[], max: number, keep: ReadonlySet<number> = new Set()): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / Math.max(1, max - 1));
  return points.filter((p, i) => i % stride === 0 || i === points.length - 1 || keep.has(p.time));
}
