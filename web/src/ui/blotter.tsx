import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, messageOf } from "../api";
import { dec, num, pct, signed, time, tone, usd } from "../format";
import { useStore } from "../store";
import { account, closedOrders, fills, liveEquity, livePosition, openOrders, positions, quotes, reloadAccount, type OrderJson } from "../trading";
import { SeriesChart, type Point } from "../lab/series-chart";
import type { PortfolioHistoryView } from "../../../shared/trading/portfolio-history";

// Open orders (cancel, replace), order history, positions with live P&L, fills, and the
// account's equity over time; all reloaded when trade_updates reports a change.
type Tab = "open" | "history" | "positions" | "fills" | "equity";

export function Blotter() {
  const [tab, setTab] = useState<Tab>("open");
  const open = useStore(openOrders);
  const held = useStore(positions);
  const tabs: [Tab, string][] = [
    ["open", `Open orders (${open.length})`],
    ["history", "Order history"],
    ["positions", `Positions (${held.length})`],
    ["fills", "Fills"],
    ["equity", "Equity"],
  ];
  return (
    <section class="panel blotter" aria-label="Blotter">
      <div class="tabs" role="tablist">
        {tabs.map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {label}
          </button>
        ))}
      </div>
      <div class="table-scroll" role="tabpanel">
        {tab === "open" && <OpenOrders orders={open} />}
        {tab === "history" && <History />}
        {tab === "positions" && <Positions />}
        {tab === "fills" && <Fills />}
        {tab === "equity" && <EquityHistory />}
      </div>
    </section>
  );
}

const trail = (o: OrderJson) => (o.trail_price ? `T ${o.trail_price}` : o.trail_percent ? `T ${o.trail_percent}%` : null);
const price = (o: OrderJson) => [o.limit_price && `L ${o.limit_price}`, o.stop_price && `S ${o.stop_price}`, trail(o)].filter(Boolean).join(" ") || "MKT";

function OpenOrders({ orders }: { orders: OrderJson[] }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const table = useRef<HTMLTableElement>(null);
  // Back from the replace row, the keyboard's place is the order's Replace button (when
  // the order is still there: a replace makes a new one).
  const finish = (id: string) => {
    setEditing(null);
    requestAnimationFrame(() => table.current?.querySelector<HTMLButtonElement>(`tr[data-order="${id}"] button`)?.focus());
  };
  /** Runs a request; answers whether it was taken (a refusal is shown above the table). */
  async function act(run: () => Promise<unknown>): Promise<boolean> {
    setProblem(null);
    let ok = true;
    try {
      await run();
    } catch (e) {
      ok = false;
      setProblem(messageOf(e, "The request failed. Check your connection."));
    }
    reloadAccount(true);
    return ok;
  }
  if (orders.length === 0) return <p class="empty">No open orders.</p>;
  return (
    <>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      <table data-testid="open-orders" ref={table}>
        <thead>
          <tr>
            <th>Time</th>
            <th>Symbol</th>
            <th>Side</th>
            <th>Type</th>
            <th class="r">Qty</th>
            <th class="r">Filled</th>
            <th class="r">Price</th>
            <th>TIF</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {orders.map((o) =>
            editing === o.id ? (
              <Replace key={o.id} order={o} done={() => finish(o.id)} act={act} />
            ) : (
              <tr key={o.id} data-order={o.id}>
                <td class="num">{time(o.submitted_at)}</td>
                <td>{o.symbol}</td>
                <td class={o.side}>{o.side}</td>
                <td>{o.type}</td>
                <td class="r num">{o.qty ?? `$${o.notional}`}</td>
                <td class="r num">{o.filled_qty}</td>
                <td class="r num">{price(o)}</td>
                <td>{o.time_in_force}</td>
                <td>{o.status}</td>
                <td class="actions">
                  {o.type !== "market" && <button onClick={() => setEditing(o.id)}>Replace</button>}
                  <button onClick={() => void act(() => api("DELETE", `/v2/orders/${o.id}`))} aria-label={`Cancel order ${o.symbol} ${o.side} ${o.qty}`}>
                    Cancel
                  </button>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </>
  );
}

// A row of a table cannot sit inside a form, so the keys a form would give are handled
// here: Enter in any field saves, Escape anywhere in the row keeps the order as it is. The
// fields are the order's own: its quantity and its limit, stop or trail (found in QA: only
// orders with a limit could be replaced, though a stop's price and a trailing stop's
// distance can be). A refused replace keeps the row open with what was typed.
function Replace({ order, done, act }: { order: OrderJson; done: () => void; act: (run: () => Promise<unknown>) => Promise<boolean> }) {
  const [qty, setQty] = useState(order.qty ?? "");
  const [limit, setLimit] = useState(order.limit_price ?? "");
  const [stop, setStop] = useState(order.stop_price ?? "");
  const [trailValue, setTrailValue] = useState(order.trail_percent ?? order.trail_price ?? "");
  const [saving, setSaving] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const trailing = order.type === "trailing_stop";
  const hasStop = order.type === "stop" || order.type === "stop_limit";
  const save = () => {
    if (saving) return;
    setSaving(true);
    const body: Record<string, string> = { qty };
    if (order.limit_price !== null) body.limit_price = limit;
    if (hasStop) body.stop_price = stop;
    if (trailing) body.trail = trailValue;
    void act(() => api("PATCH", `/v2/orders/${order.id}`, body)).then((ok) => (ok ? done() : setSaving(false)));
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      done();
    } else if (e.key === "Enter" && e.target instanceof HTMLInputElement) {
      e.preventDefault();
      save();
    }
  };
  const field = (label: string, value: string, set: (v: string) => void) => (
    <input aria-label={label} inputMode="decimal" value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} size={8} />
  );
  return (
    <tr class="editing" onKeyDown={onKeyDown}>
      <td colSpan={4}>
        Replace {order.side} {order.symbol}
      </td>
      <td class="r">
        <input ref={first} aria-label="New quantity" inputMode="decimal" value={qty} onInput={(e) => setQty((e.target as HTMLInputElement).value)} size={6} />
      </td>
      <td />
      <td class="r">
        {order.limit_price !== null && field("New limit price", limit, setLimit)}
        {hasStop && field("New stop price", stop, setStop)}
        {trailing && field(order.trail_percent ? "New trail (%)" : "New trail (price)", trailValue, setTrailValue)}
      </td>
      <td colSpan={2} />
      <td class="actions">
        <button class="primary" disabled={saving} onClick={save}>
          Save
        </button>
        <button onClick={done}>Keep</button>
      </td>
    </tr>
  );
}

function History() {
  // Newest first by the time the table shows, when each order ended (found in QA: the list
  // came in the order the orders were made, under times of when they ended).
  const orders = [...useStore(closedOrders)].sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
  if (orders.length === 0) return <p class="empty">No orders yet.</p>;
  return (
    <table data-testid="order-history">
      <thead>
        <tr>
          <th>Time</th>
          <th>Symbol</th>
          <th>Side</th>
          <th>Type</th>
          <th class="r">Qty</th>
          <th class="r">Filled</th>
          <th class="r">Avg price</th>
          <th class="r">Fees</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {orders.map((o) => (
          <tr key={o.id} data-order={o.id}>
            <td class="num">{time(o.updated_at)}</td>
            <td>{o.symbol}</td>
            <td class={o.side}>{o.side}</td>
            <td>{o.type}</td>
            <td class="r num">{o.qty ?? `$${o.notional}`}</td>
            <td class="r num">{o.filled_qty}</td>
            <td class="r num">{o.filled_avg_price ?? "—"}</td>
            <td class="r num">{o.commission}</td>
            <td>{o.status}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// The live P&L comes right after the quantity: it is the figure a trader watches, and on a
// phone the columns after the first four are a sideways scroll away.
function Positions() {
  const held = useStore(positions);
  const q = useStore(quotes);
  const [problem, setProblem] = useState<string | null>(null);
  if (held.length === 0) return <p class="empty">No positions.</p>;
  async function close(symbol: string) {
    setProblem(null);
    try {
      await api("DELETE", `/v2/positions/${encodeURIComponent(symbol)}`);
    } catch (e) {
      setProblem(messageOf(e, "The request failed."));
    }
    reloadAccount(true);
  }
  return (
    <>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      <table data-testid="positions">
        <thead>
          <tr>
            <th>Symbol</th>
            <th class="r">Qty</th>
            <th class="r">Unrealized P&L</th>
            <th class="r">%</th>
            <th class="r">Last</th>
            <th class="r">Avg cost</th>
            <th class="r">Market value</th>
            <th class="r">Realized</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {held.map((p) => {
            const live = livePosition(p, q[p.symbol]);
            return (
              <tr key={p.symbol} data-symbol={p.symbol}>
                <td>{p.symbol}</td>
                <td class="r num">{p.qty}</td>
                <td class={`r num ${tone(live.pl)}`} data-testid="unrealized">
                  {signed(live.pl)}
                </td>
                <td class={`r num ${tone(live.pl)}`}>{pct(live.pl, dec(p.cost_basis))}</td>
                <td class="r num">{num(live.last)}</td>
                <td class="r num">{num(dec(p.avg_entry_price), 2, 4)}</td>
                <td class="r num">{usd(live.value)}</td>
                <td class="r num">{signed(dec(p.realized_pl))}</td>
                <td class="actions">
                  <button onClick={() => void close(p.symbol)}>Close</button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Fills() {
  const list = useStore(fills);
  if (list.length === 0) return <p class="empty">No fills yet.</p>;
  return (
    <table data-testid="fills">
      <thead>
        <tr>
          <th>Time</th>
          <th>Symbol</th>
          <th>Side</th>
          <th class="r">Qty</th>
          <th class="r">Price</th>
          <th class="r">Fee</th>
          <th class="r">Realized</th>
        </tr>
      </thead>
      <tbody>
        {list.map((f) => (
          <tr key={f.id}>
            <td class="num">{time(f.transaction_time)}</td>
            <td>{f.symbol}</td>
            <td class={f.side}>{f.side}</td>
            <td class="r num">{f.qty}</td>
            <td class="r num">{f.price}</td>
            <td class="r num">{f.fee}</td>
            <td class={`r num ${tone(dec(f.realized_pl))}`}>{signed(dec(f.realized_pl))}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The spans the equity tab offers: Alpaca's query for each, every window of the day (crypto trades 24/7). */
const SPANS = [
  ["1D", "period=1D&timeframe=5Min&intraday_reporting=continuous&pnl_reset=no_reset"],
  ["1W", "period=1W&timeframe=1H&intraday_reporting=continuous&pnl_reset=no_reset"],
  ["1M", "period=1M&timeframe=1D&intraday_reporting=continuous"],
  ["1A", "period=1A&timeframe=1D&intraday_reporting=continuous"],
] as const;

// The account's equity over a span (GET /v2/account/portfolio/history); P&L over the span,
// from its start or the account's opening.
function EquityHistory() {
  const [span, setSpan] = useState<(typeof SPANS)[number][0]>("1D");
  const [history, setHistory] = useState<PortfolioHistoryView | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // Read again when a fill lands or cash moves (a deposit, a reset): the newest fill's id, as
  // the list holds the latest hundred, and the account's cash.
  const newestFill = useStore(fills)[0]?.id;
  const cash = useStore(account)?.cash;
  // And once a minute, so the chart's last window follows the market.
  const [minute, setMinute] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setMinute((n) => n + 1), 60_000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    let gone = false;
    const query = SPANS.find(([name]) => name === span)![1];
    api<PortfolioHistoryView>("GET", `/v2/account/portfolio/history?${query}`).then(
      (h) => {
        if (gone) return;
        setHistory(h);
        setProblem(null);
      },
      (e: unknown) => !gone && setProblem(messageOf(e, "could not load the equity history")),
    );
    return () => {
      gone = true;
    };
  }, [span, newestFill, cash, minute]);
  // Made again only with a new history: the chart is drawn anew whenever its lines change,
  // and this component renders on every quote (the live headline).
  const lines = useMemo(() => {
    const points: Point[] = history ? history.timestamp.map((t, i) => ({ time: t as Point["time"], value: history.equity[i]! })) : [];
    return [{ name: "Equity", color: "#58a6ff", points, area: true }];
  }, [history]);
  // The headline is the live equity the account bar shows, measured from the history's base;
  // the chart is the history as last read.
  const live = liveEquity(useStore(account), useStore(positions), useStore(quotes));
  const base = history && history.equity.length > 0 ? dec(history.base_value) : undefined;
  const pl = live !== undefined && base !== undefined ? live - base : undefined;
  return (
    <div class="equity-history" data-testid="equity-history">
      <div class="equity-head">
        <div class="segmented" role="group" aria-label="Span">
          {SPANS.map(([name]) => (
            <button key={name} aria-pressed={span === name} onClick={() => setSpan(name)}>
              {name}
            </button>
          ))}
        </div>
        {history && history.equity.length > 0 && (
          <span class={`num ${tone(pl)}`} data-testid="equity-pl">
            {usd(live)} · {signed(pl)} ({pct(pl, base)})
          </span>
        )}
      </div>
      {problem && <p class="error">{problem}</p>}
      {history && history.equity.length === 0 && <p class="empty">Nothing to show yet for this span.</p>}
      {history && history.equity.length > 0 && <SeriesChart lines={lines} label={`Equity, ${span}`} testid="equity-chart" height="220px" />}
    </div>
  );
}
