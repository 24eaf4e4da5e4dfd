import { DurableObject } from "cloudflare:workers";
import { hit, type Decision, type WindowState } from "../../shared/sliding-window";

interface StoredWindow extends WindowState {
  windowMs: number;
}

// One object per client (an IP or a user id, or an account's email for login failures),
// so every isolate and every colo sees the same counts. Counts live in the object's
// SQLite-backed KV: a local object is evicted after ~10 s idle and a 15-minute login
// lockout must survive that.
export class RateLimiter extends DurableObject<Env> {
  /** Count one request in `bucket` and say whether it is admitted. */
  hit(bucket: string, limit: number, windowMs: number): Decision {
    return this.#apply(bucket, limit, windowMs, true);
  }

  /** The decision a request would get, without counting it. */
  peek(bucket: string, limit: number, windowMs: number): Decision {
    return this.#apply(bucket, limit, windowMs, false);
  }

  clear(bucket: string): void {
    this.ctx.storage.kv.delete(bucket);
  }

  #apply(bucket: string, limit: number, windowMs: number, consume: boolean): Decision {
    const now = Date.now();
    const stored = this.ctx.storage.kv.get<StoredWindow>(bucket);
    const prior = stored && stored.windowMs === windowMs ? stored : undefined;
    const { state, decision } = hit(prior, now, windowMs, limit);
    if (consume && decision.allowed) {
      this.ctx.storage.kv.put<StoredWindow>(bucket, { ...state, windowMs });
      void this.#scheduleCleanup(now + 2 * windowMs, windowMs);
    }
    return decision;
  }

  // One alarm write per window at most, not one per request: the cleanup may run up to a
  // window late, which only delays deleting counts that no longer matter.
  async #scheduleCleanup(at: number, windowMs: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < at - windowMs) await this.ctx.storage.setAlarm(at);
  }

  // Alarms are at-least-once: deleting expired windows twice is harmless.
  override async alarm(): Promise<void> {
    const now = Date.now();
    let latest = 0;
    for (const [bucket, w] of this.ctx.storage.kv.list<StoredWindow>()) {
      const expiresAt = w.windowStart + 2 * w.windowMs;
      if (expiresAt <= now) this.ctx.storage.kv.delete(bucket);
      else latest = Math.max(latest, expiresAt);
    }
    if (latest > 0) await this.ctx.storage.setAlarm(latest);
  }
}
