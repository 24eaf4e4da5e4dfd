// Streaming indicators for strategies (ctx.indicators) and backtests: pure, deterministic,
// O(1) per update. Each class documents its seeding and conventions.
import { ATR } from "./atr";
import { Bollinger } from "./bollinger";
import { Donchian } from "./donchian";
import { EMA } from "./ema";
import { Highest, Lowest } from "./extremes";
import { MACD } from "./macd";
import { RSI } from "./rsi";
import { SMA } from "./sma";
import { Stochastic } from "./stochastic";
import { VWAP } from "./vwap";

export type { Indicator, IndicatorJson, IndicatorState } from "./indicator";
export type { ATRState } from "./atr";
export type { BollingerState, BollingerValue } from "./bollinger";
export type { DonchianState, DonchianValue } from "./donchian";
export type { EMAState } from "./ema";
export type { ExtremeState } from "./extremes";
export type { MACDState, MACDValue } from "./macd";
export type { RSIState } from "./rsi";
export type { SMAState } from "./sma";
export type { StochasticState, StochasticValue } from "./stochastic";
export type { VWAPState } from "./vwap";
export { ATR, Bollinger, Donchian, EMA, Highest, Lowest, MACD, RSI, SMA, Stochastic, VWAP };
export { WilderAverage } from "./wilder";

/** What a strategy context hands out as `ctx.indicators`: one fresh object per call. */
export const indicators = {
  sma: (period: number) => new SMA(period),
  ema: (period: number) => new EMA(period),
  rsi: (period = 14) => new RSI(period),
  macd: (fast = 12, slow = 26, signal = 9) => new MACD(fast, slow, signal),
  bollinger: (period = 20, multiplier = 2) => new Bollinger(period, multiplier),
  atr: (period = 14) => new ATR(period),
  stochastic: (kPeriod = 14, dPeriod = 3) => new Stochastic(kPeriod, dPeriod),
  donchian: (period = 20) => new Donchian(period),
  vwap: () => new VWAP(),
  highest: (period: number) => new Highest(period),
  lowest: (period: number) => new Lowest(period),
  /** Indicators continued from `save()`d state: what a strategy keeps in ctx.state survives a restart. */
  restore: {
    sma: SMA.restore,
    ema: EMA.restore,
    rsi: RSI.restore,
    macd: MACD.restore,
    bollinger: Bollinger.restore,
    atr: ATR.restore,
    stochastic: Stochastic.restore,
    donchian: Donchian.restore,
    vwap: VWAP.restore,
    highest: Highest.restore,
    lowest: Lowest.restore,
  },
} as const;

export type Indicators = typeof indicators;
