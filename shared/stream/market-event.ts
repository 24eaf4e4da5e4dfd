import type { Channel } from "../stream-protocol";

/** One market-data message a symbol's object publishes for the subscribers of (channel, symbol). */
export interface MarketEvent {
  channel: Channel;
  msg: Record<string, unknown>;
}
