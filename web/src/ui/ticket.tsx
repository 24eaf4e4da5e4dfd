import { useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { dec, num, times, usd } from "../format";
import { useStore } from "../store";
import { account, applyOrder, quotes, reloadAccount, selected, type OrderJson } from "../trading";

// The order ticket. The estimate uses the price the order would pay at worst that the
// screen knows (its limit, else the ask for a buy / the bid for a sell), exactly; the
// server's risk checks have the last word, and their refusal is shown as it says it.
type OrderType = "market" | "limit" | "stop" | "stop_limit" | "trailing_stop";

const TIF_LABELS: Record<string, string> = { gtc: "GTC · until canceled", day: "Day", ioc: "IOC · immediate or cancel", fok: "FOK · fill or kill" };
const ALL_TIFS = ["gtc", "day", "ioc", "fok"];
const TRAILING_TIFS = ["gtc", "day"];
const NOTIONAL_TIFS = ["gtc", "day", "ioc"];
const TYPES: { value: OrderType; label: string }[] = [
  { value: "market", label: "Market" },
  { value: "limit", label: "Limit" },
  { value: "stop", label: "Stop" },
  { value: "stop_limit", label: "Stop limit" },
  { value: "trailing_stop", label: "Trailing stop" },
];

export function Ticket() {
  const symbol = useStore(selected);
  const q = useStore(quotes)[symbol];
  const a = useStore(account);
  const [side, setSide] = useState<"buy" | "sell">("buy");
  const [type, setType] = useState<OrderType>("limit");
  const [by, setBy] = useState<"qty" | "notional">("qty");
  const [amount, setAmount] = useState("1");
  const [limit, setLimit] = useState("");
  const [stop, setStop] = useState("");
  const [trail, setTrail] = useState("");
  const [trailBy, setTrailBy] = useState<"trail_percent" | "trail_price">("trail_percent");
  const [tif, setTif] = useState("gtc");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const needsLimit = type === "limit" || type === "stop_limit";
  const needsStop = type === "stop" || type === "stop_limit";
  const trailing = type === "trailing_stop";
  // Only a market order may be sized by amount: the choice made on one does not follow the
  // ticket to another type (it stayed, and the server refused the notional limit order).
  const sizing = type === "market" ? by : "qty";
  // The times in force the order can take (found in QA: a trailing stop offered ioc and fok,
  // which the server refuses; so does a notional order fok). One no longer offered falls
  // back to GTC rather than being sent anyway.
  const tifs = trailing ? TRAILING_TIFS : sizing === "notional" ? NOTIONAL_TIFS : ALL_TIFS;
  const timeInForce = tifs.includes(tif) ? tif : "gtc";
  // A price typed but not a number gives no estimate (it fell back to the quote), and nor
  // does a size that is not positive (-5 showed a negative cost).
  const limitPrice = needsLimit ? dec(limit) : undefined;
  const stopPrice = needsStop ? dec(stop) : undefined;
  // An empty required price is no order yet either (found in QA: a limit with no price showed the quote's cost).
  const mistyped = (needsLimit && limitPrice === undefined) || (needsStop && stopPrice === undefined);
  const price = mistyped ? undefined : (limitPrice ?? stopPrice ?? (side === "buy" ? q?.ask : q?.bid));
  const size = dec(amount);
  const estimate = size === undefined || size <= 0n ? undefined : sizing === "notional" ? size : price !== undefined && price > 0n ? times(size, price) : undefined;

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    const body: Record<string, string> = { symbol, side, type, time_in_force: timeInForce, [sizing]: amount.trim() };
    if (needsLimit) body.limit_price = limit.trim();
    if (needsStop) body.stop_price = stop.trim();
    if (trailing) body[trailBy] = trail.trim();
    try {
      const o = await api<OrderJson>("POST", "/v2/orders", body);
      setResult({ ok: true, text: `${o.side} ${o.qty ?? `$${o.notional}`} ${o.symbol} ${o.type}: ${o.status.replace("_", " ")}` });
      applyOrder(o);
      reloadAccount(true);
    } catch (e) {
      setResult({ ok: false, text: messageOf(e, "The order could not be sent. Check your connection.") });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="panel ticket" aria-label="Order ticket">
      <h2>Order · {symbol}</h2>
      {/* A refusal is about what was sent: it goes once a field changes. */}
      <form onSubmit={(e) => void submit(e)} onInput={() => result?.ok === false && setResult(null)}>
        <div class="segmented sides" role="group" aria-label="Side">
          <button type="button" class="buy" aria-pressed={side === "buy"} onClick={() => setSide("buy")}>
            Buy
          </button>
          <button type="button" class="sell" aria-pressed={side === "sell"} onClick={() => setSide("sell")}>
            Sell
          </button>
        </div>
        <label>
          Type
          <select name="type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as OrderType)}>
            {TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        <div class="field">
          <span class="row">
            <label for="ticket-amount">{sizing === "qty" ? "Quantity" : "Amount (USD)"}</label>
            {type === "market" && (
              <button type="button" class="link-button" onClick={() => setBy(by === "qty" ? "notional" : "qty")}>
                {by === "qty" ? "by amount" : "by quantity"}
              </button>
            )}
          </span>
          <input id="ticket-amount" name={sizing} inputMode="decimal" value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} required />
        </div>
        {needsStop && (
          <label>
            Stop price
            <input name="stop_price" inputMode="decimal" value={stop} onInput={(e) => setStop((e.target as HTMLInputElement).value)} placeholder={num(q?.last)} required />
          </label>
        )}
        {trailing && (
          <div class="field">
            <span class="row">
              <label for="ticket-trail">{trailBy === "trail_percent" ? "Trail (%)" : "Trail (price)"}</label>
              <button
                type="button"
                class="link-button"
                onClick={() => {
                  // The number meant a percent or a price: it does not carry over to the other (found in QA: 1.5 % became $1.50).
                  setTrailBy(trailBy === "trail_percent" ? "trail_price" : "trail_percent");
                  setTrail("");
                }}
              >
                {trailBy === "trail_percent" ? "by price" : "by percent"}
              </button>
            </span>
            <input id="ticket-trail" name={trailBy} inputMode="decimal" value={trail} onInput={(e) => setTrail((e.target as HTMLInputElement).value)} placeholder={trailBy === "trail_percent" ? "1.5" : "0.50"} required />
          </div>
        )}
        {needsLimit && (
          <label>
            Limit price
            <input name="limit_price" inputMode="decimal" value={limit} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} placeholder={num(side === "buy" ? q?.bid : q?.ask)} required />
          </label>
        )}
        <label>
          Time in force
          <select name="time_in_force" value={timeInForce} onChange={(e) => setTif((e.target as HTMLSelectElement).value)}>
            {tifs.map((value) => (
              <option key={value} value={value}>
                {TIF_LABELS[value]}
              </option>
            ))}
          </select>
        </label>
        <dl class="estimate">
          <dt title="The venue's fee, if it charges one, is added to a buy's cost and taken from a sale's proceeds when the order fills">Estimated {side === "buy" ? "cost" : "proceeds"}, before fees</dt>
          <dd class="num" data-testid="estimate">{usd(estimate)}</dd>
          <dt>Buying power</dt>
          <dd class="num">{usd(dec(a?.buying_power))}</dd>
        </dl>
        <button type="submit" class={`primary ${side}`} disabled={busy}>
          {busy ? "Sending…" : `${side === "buy" ? "Buy" : "Sell"} ${symbol}`}
        </button>
        {result && (
          <p class={result.ok ? "notice" : "form-error"} role={result.ok ? "status" : "alert"} data-testid="ticket-result">
            {result.text}
          </p>
        )}
      </form>
    </section>
  );
}
