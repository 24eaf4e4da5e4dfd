// Sliding-window counter (the approximation Cloudflare and nginx use): the previous fixed
// window's count weighted by how much of it still overlaps the sliding window, plus the
// current window's count. O(1) memory per key, never over-admits by more than the
// rounding of one request.
export interface WindowState {
  windowStart: number;
  current: number;
  previous: number;
}

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix ms when a request would next be admitted (when allowed: when the count fully resets). */
  resetAt: number;
  retryAfterMs: number;
}

export function advance(state: WindowState | undefined, now: number, windowMs: number): WindowState {
  const start = Math.floor(now / windowMs) * windowMs;
  if (!state) return { windowStart: start, current: 0, previous: 0 };
  if (start === state.windowStart) return state;
  if (start - state.windowStart === windowMs) return { windowStart: start, current: 0, previous: state.current };
  return { windowStart: start, current: 0, previous: 0 };
}

function weightedCount(s: WindowState, now: number, windowMs: number): number {
  const overlap = 1 - (now - s.windowStart) / windowMs;
  return s.previous * overlap + s.current;
}

export function hit(
  prior: WindowState | undefined,
  now: number,
  windowMs: number,
  limit: number,
): { state: WindowState; decision: Decision } {
  const state = advance(prior, now, windowMs);
  const count = weightedCount(state, now, windowMs);
  if (count + 1 <= limit) {
    const next = { ...state, current: state.current + 1 };
    const remaining = Math.max(0, Math.floor(limit - weightedCount(next, now, windowMs)));
    return {
      state: next,
      decision: { allowed: true, limit, remaining, resetAt: state.windowStart + windowMs, retryAfterMs: 0 },
    };
  }
  const retryAfterMs = Math.max(1, Math.ceil(nextAdmission(state, limit, windowMs) - now));
  return {
    state,
    decision: { allowed: false, limit, remaining: 0, resetAt: now + retryAfterMs, retryAfterMs },
  };
}

// Earliest time, absent further admissions, at which the weighted count is at most
// limit - 1. Within the current window only the previous window's share decays; once
// the current window's own count is too high, wait until it has decayed as "previous".
function nextAdmission(s: WindowState, limit: number, windowMs: number): number {
  const room = limit - 1;
  if (s.current <= room && s.previous > 0) {
    return s.windowStart + windowMs * (1 - (room - s.current) / s.previous);
  }
  return s.windowStart + windowMs + windowMs * (1 - room / Math.max(1, s.current));
}
