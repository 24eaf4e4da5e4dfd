import { z } from "zod";

// Abuse limits on client sockets (market data and trade_updates), from the SOCKET_LIMITS
// var (wrangler.toml). Every field is optional in the var; a missing one takes its default,
// a value out of bounds fails loudly at the first socket instead of running unguarded.

export const SocketLimits = z
  .object({
    /** Open sockets per user on each stream (market data across every hub; trade_updates). */
    connectionsPerUser: z.number().int().min(1).max(100_000),
    /** Largest client frame, in bytes. */
    maxFrameBytes: z.number().int().min(1024).max(1024 * 1024),
    /** Client messages per socket within `windowSeconds`; one more is answered with an error and the socket closes. */
    messagesPerWindow: z.number().int().min(1).max(10_000),
    windowSeconds: z.number().int().min(1).max(3600),
    /** Distinct symbols one subscribe or unsubscribe may name (Alpaca's 405 beyond). */
    symbolsPerMessage: z.number().int().min(1).max(10_000),
    /** Distinct symbols one market-data socket may be subscribed to. */
    symbolsPerConnection: z.number().int().min(1).max(100_000),
  })
  .strict();
export type SocketLimits = z.infer<typeof SocketLimits>;

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  connectionsPerUser: 10,
  maxFrameBytes: 64 * 1024,
  messagesPerWindow: 100,
  windowSeconds: 10,
  symbolsPerMessage: 1000,
  symbolsPerConnection: 2000,
};

const cache = new WeakMap<object, SocketLimits>();

/** The limits of an environment, parsed once per isolate. */
export function socketLimits(env: { SOCKET_LIMITS?: string }): SocketLimits {
  const cached = cache.get(env);
  if (cached) return cached;
  const configured: unknown = env.SOCKET_LIMITS ? JSON.parse(env.SOCKET_LIMITS) : {};
  const limits = SocketLimits.parse({ ...DEFAULT_SOCKET_LIMITS, ...(typeof configured === "object" ? configured : {}) });
  cache.set(env, limits);
  return limits;
}

/**
 * Counts one socket's messages in fixed windows. In memory only: a hibernated object has
 * been idle for seconds, which ends any window anyway.
 */
export class MessageBudget {
  #windowStart = -Infinity;
  #count = 0;

  constructor(private readonly limits: Pick<SocketLimits, "messagesPerWindow" | "windowSeconds">) {}

  /** Counts a message received at `now` (ms); false once the window's budget is spent. */
  take(now: number): boolean {
    if (now - this.#windowStart >= this.limits.windowSeconds * 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    this.#count += 1;
    return this.#count <= this.limits.messagesPerWindow;
  }
}

/** At most `max` items of a list for an error message, with how many were left out. */
export function sample(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).map((s) => (s.length > 32 ? `${s.slice(0, 32)}…` : s));
  return items.length > max ? `${shown.join(", ")} and ${items.length - max} more` : shown.join(", ");
}
