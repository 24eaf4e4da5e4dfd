import { checkFinite, savedNumber, savedNumberOrNull, type Indicator } from "./indicator";

export type VWAPState = { priceVolume: number; volume: number; value: number | null };

/**
 * Cumulative volume-weighted average price of the typical price (high + low + close) / 3,
 * since construction or the last `reset()` (call it at the session boundary the strategy
 * wants: the platform knows nothing of sessions here). Null until some volume was seen;
 * a zero-volume bar leaves the value unchanged. Volume must be non-negative.
 */
export class VWAP implements Indicator<[high: number, low: number, close: number, volume: number], number> {
  #priceVolume = 0;
  #volume = 0;
  #value: number | null = null;

  update(high: number, low: number, close: number, volume: number): number | null {
    checkFinite("VWAP high", high);
    checkFinite("VWAP low", low);
    checkFinite("VWAP close", close);
    if (!(checkFinite("VWAP volume", volume) >= 0)) throw new RangeError(`VWAP: volume must be non-negative, got ${volume}`);
    this.#priceVolume += ((high + low + close) / 3) * volume;
    this.#volume += volume;
    if (this.#volume > 0) this.#value = this.#priceVolume / this.#volume;
    return this.#value;
  }

  /** Starts a new accumulation (a new session). */
  reset(): void {
    this.#priceVolume = 0;
    this.#volume = 0;
    this.#value = null;
  }

  get value(): number | null {
    return this.#value;
  }

  get ready(): boolean {
    return this.#value !== null;
  }

  save(): VWAPState {
    return { priceVolume: this.#priceVolume, volume: this.#volume, value: this.#value };
  }

  load(state: VWAPState): this {
    this.#priceVolume = savedNumber("VWAP priceVolume", state.priceVolume);
    this.#volume = savedNumber("VWAP volume", state.volume);
    this.#value = savedNumberOrNull("VWAP value", state.value);
    return this;
  }

  static restore(state: VWAPState): VWAP {
    return new VWAP().load(state);
  }
}
