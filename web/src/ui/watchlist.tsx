import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { num, pct, tone } from "../format";
import { listedSymbol, type AssetJson } from "../symbols";
import { useStore } from "../store";
import { quotes, selected, watchlist, type Quote } from "../trading";

// Symbols with live bid, ask, last and the change since the previous close. A row
// flashes when its last price moves; every cell has a fixed width, so streaming numbers
// never shift the layout.

// The asset list, read once on the first add (and again after a failed read).
let assetList: Promise<AssetJson[]> | null = null;
const listedAssets = () => (assetList ??= api<AssetJson[]>("GET", "/v2/assets").catch((e: unknown) => {
  assetList = null;
  throw e;
}));

export function Watchlist() {
  const list = useStore(watchlist);
  const current = useStore(selected);
  const [adding, setAdding] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  async function add(event: Event) {
    event.preventDefault();
    setChecking(true);
    let assets: AssetJson[];
    try {
      assets = await listedAssets();
    } catch {
      return setProblem("The symbol list could not be read. Try again.");
    } finally {
      setChecking(false);
    }
    const found = listedSymbol(adding, assets);
    if ("problem" in found) return setProblem(found.problem);
    if (watchlist.get().includes(found.symbol)) return setProblem(`${found.symbol} is already on the list.`);
    setProblem(null);
    setAdding("");
    watchlist.set([...watchlist.get(), found.symbol]);
  }

  return (
    <section class="panel watchlist" aria-label="Watchlist">
      <h2>Watchlist</h2>
      <div class="table-scroll">
      <table>
        <thead>
          <tr>
            <th>Symbol</th>
            <th class="r quote-side">Bid</th>
            <th class="r quote-side">Ask</th>
            <th class="r">Last</th>
            <th class="r">Chg</th>
            <th class="r">Chg %</th>
            <th aria-label="Remove" />
          </tr>
        </thead>
        <tbody>
          {list.map((symbol) => (
            <Row key={symbol} symbol={symbol} active={symbol === current} />
          ))}
        </tbody>
      </table>
      </div>
      <form class="add" onSubmit={(e) => void add(e)}>
        <input
          aria-label="Add symbol"
          placeholder="Add symbol"
          value={adding}
          aria-invalid={problem !== null}
          aria-describedby={problem ? "watchlist-problem" : undefined}
          onInput={(e) => {
            setAdding((e.target as HTMLInputElement).value);
            setProblem(null);
          }}
        />
        <button type="submit" disabled={checking}>
          Add
        </button>
      </form>
      {problem && (
        <p class="field-error" id="watchlist-problem" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}

function Row({ symbol, active }: { symbol: string; active: boolean }) {
  const q: Quote | undefined = useStore(quotes)[symbol];
  const change = q?.last !== undefined && q.prevClose !== undefined ? q.last - q.prevClose : undefined;
  const row = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    const el = row.current;
    if (!el || !q?.moved) return;
    el.classList.remove("flash-up", "flash-down");
    void el.offsetWidth; // restart the animation
    el.classList.add(q.moved === "up" ? "flash-up" : "flash-down");
  }, [q?.last]);
  return (
    <tr ref={row} class={active ? "active" : ""} data-symbol={symbol} onClick={() => selected.set(symbol)} tabIndex={0} onKeyDown={(e) => e.key === "Enter" && selected.set(symbol)} aria-selected={active}>
      <td class="sym">{symbol}</td>
      <td class="r num quote-side" data-testid="bid">{num(q?.bid)}</td>
      <td class="r num quote-side" data-testid="ask">{num(q?.ask)}</td>
      <td class="r num" data-testid="last">{num(q?.last)}</td>
      <td class={`r num ${tone(change)}`}>{change === undefined ? "—" : `${change > 0n ? "+" : ""}${num(change)}`}</td>
      <td class={`r num ${tone(change)}`} data-testid="chg">
        {pct(change, q?.prevClose)}
      </td>
      <td>
        <button
          class="icon"
          aria-label={`Remove ${symbol}`}
          onClick={(e) => {
            e.stopPropagation();
            watchlist.update((l) => l.filter((s) => s !== symbol));
          }}
        >
          ×
        </button>
      </td>
    </tr>
  );
}
