import { describe, expect, it } from "vitest";
import { parseMoney } from "../../shared/trading/money";
import { movesATrail } from "../../web/src/trailing";

// The terminal asks for its open orders again when a trade moves a trailing stop's mark: the
// venue moves the stop then, and sends no trade update for it (as Alpaca sends none).

const usd = (text: string) => parseMoney(text)!;
type Open = Parameters<typeof movesATrail>[0][number];
const sell: Open = { symbol: "BTC/USD", type: "trailing_stop", side: "sell", hwm: "67402.75" };
const buy: Open = { symbol: "AAPL", type: "trailing_stop", side: "buy", hwm: "187.50" };

describe("a trade that moves a trailing stop", () => {
  it("is a higher trade for a sell's mark, a lower one for a buy's, on the order's own symbol", () => {
    expect(movesATrail([sell], "BTC/USD", usd("67402.76"))).toBe(true);
    expect(movesATrail([sell], "BTC/USD", usd("67402.75"))).toBe(false);
    expect(movesATrail([sell], "BTC/USD", usd("60000"))).toBe(false);
    expect(movesATrail([sell], "ETH/USD", usd("99999"))).toBe(false);
    expect(movesATrail([buy], "AAPL", usd("187.49"))).toBe(true);
    expect(movesATrail([buy], "AAPL", usd("187.51"))).toBe(false);
  });

  it("is no trade for other orders, nor for a trailing stop without a mark", () => {
    expect(movesATrail([{ ...sell, type: "stop" }], "BTC/USD", usd("70000"))).toBe(false);
    expect(movesATrail([{ ...sell, hwm: null }], "BTC/USD", usd("70000"))).toBe(false);
    expect(movesATrail([], "BTC/USD", usd("70000"))).toBe(false);
    expect(movesATrail([{ ...sell, type: "stop" }, sell], "BTC/USD", usd("70000"))).toBe(true);
  });
});
