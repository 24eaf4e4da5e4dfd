import { useEffect } from "preact/hooks";
import { dec, pct, signed, tone, usd } from "../format";
import { useStore } from "../store";
import { account, liveEquity, positions, quotes, startTerminal } from "../trading";
import { Blotter } from "./blotter";
import { Chart } from "./chart";
import { Ticket } from "./ticket";
import { Watchlist } from "./watchlist";

// The trading screen: account summary on top, watchlist, chart and ticket side by side
// (stacked on a phone), the blotter below.
export function Terminal() {
  useEffect(() => startTerminal(), []);
  return (
    <main class="terminal">
      <AccountBar />
      <Watchlist />
      <Chart />
      <Ticket />
      <Blotter />
    </main>
  );
}

function AccountBar() {
  const a = useStore(account);
  const held = useStore(positions);
  const q = useStore(quotes);
  const cash = dec(a?.cash);
  const equity = liveEquity(a, held, q);
  const last = dec(a?.last_equity);
  const day = equity !== undefined && last !== undefined ? equity - last : undefined;
  const item = (label: string, value: string, cls = "", testid?: string) => (
    <div class="stat">
      <span class="label">{label}</span>
      <span class={`value num ${cls}`} data-testid={testid}>
        {value}
      </span>
    </div>
  );
  return (
    <section class="account-bar" aria-label="Account">
      {item("Equity", usd(equity), "", "equity")}
      {item("Cash", usd(cash), "", "cash")}
      {item("Buying power", usd(dec(a?.buying_power)), "", "buying-power")}
      {item("Day P&L", `${signed(day)} (${pct(day, last)})`, tone(day), "day-pl")}
      {item("Fees paid", usd(dec(a?.fees_paid)))}
    </section>
  );
}

