import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type { AdminAsset } from "../../../shared/schemas/assets";
import { api, ApiError, session, type UserJson } from "../api";
import { useStore } from "../store";
import { ConfigPanel } from "./config";
import { DeadEventsPanel, MessagePanel } from "./operations";
import { MoreButton, usePagedList } from "./paged-list";
import { FieldProblem, usePanelProblem } from "./panel-problem";

// Admins only (the server enforces it; this page is just hidden from others): users
// (role, disable), instruments (tradable, active, new ones with a simulated feed) and the
// run-time configuration (config.tsx).
type Asset = z.infer<typeof AdminAsset>;
const ROLES = ["guest", "user", "trader", "admin"] as const;

export function AdminPage() {
  // The user a message is to, picked from the users' table; null: every active user.
  const [to, setTo] = useState<UserJson | null>(null);
  return (
    <main class="page">
      <h1>Admin</h1>
      <Users onMessage={setTo} />
      <MessagePanel to={to} onEveryone={() => setTo(null)} />
      <Instruments />
      <ConfigPanel />
      <DeadEventsPanel />
    </main>
  );
}

/**
 * What is asked before a change to a user (null: enabling needs no question). A user
 * disabled, or given a role that may not trade, has their live strategies stopped and the
 * orders those left open canceled, which changing back does not undo (found in QA: one
 * click, no question).
 */
function userChangeQuestion(user: UserJson, body: Record<string, string>): string | null {
  if (body.status === "disabled") return `Disable ${user.username}? Their sessions and keys stop working at once, their live strategies stop and the orders those left open are canceled.`;
  if (!body.role) return null;
  const mayTrade = body.role === "trader" || body.role === "admin";
  return `Make ${user.username} ${body.role}?${mayTrade ? "" : " A role that may not trade stops their live strategies and cancels the orders those left open."}`;
}

/** Users asked for at a time: the first page, and each "Load more". */
const USERS_PAGE = 100;
/** How long the users' search waits after a keystroke before it asks (Enter asks at once). */
const SEARCH_DELAY_MS = 300;

function Users(props: { onMessage(user: UserJson): void }) {
  const me = useStore(session).user;
  const { report, clear, shown } = usePanelProblem();
  // A part of an email or username (found in QA: an admin with many users could not find one):
  // what is typed, and what was asked for once typing paused; empty lists everyone.
  const [typed, setTyped] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setQ(typed.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [typed]);
  // A page at a time, "Load more" for the next (found in QA: the page showed the first 200 and no more), of the same search.
  const list = usePagedList<UserJson>({ path: "/api/admin/users", key: "users", pageSize: USERS_PAGE, query: { q }, idOf: (u) => u.id, report, clear });
  const users = list.items ?? [];
  // One row replaced by what the server answered, the pages loaded kept; drawn again even
  // when nothing changed, so a select left on a declined or refused role shows the kept one.
  const show = (user?: UserJson) => list.setItems((listed) => listed?.map((u) => (user && u.id === user.id ? user : u)) ?? null);
  const change = (user: UserJson, body: Record<string, string>) => {
    const question = userChangeQuestion(user, body);
    if (question && !confirm(question)) return show();
    clear();
    return api<UserJson>("PATCH", `/api/admin/users/${user.id}`, body).then(show, (e: unknown) => {
      report(e);
      show();
    });
  };
  return (
    <section class="panel">
      <h2>Users</h2>
      <form
        class="inline-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(typed.trim());
        }}
      >
        <label>
          Search users
          {/* 100: the longest search the API takes (ListUsersQuery). */}
          <input type="search" name="q" value={typed} maxLength={100} size={32} placeholder="email or username" onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
        </label>
      </form>
      {shown}
      <div class="table-scroll">
        <table data-testid="users">
          <thead>
            <tr>
              <th>User</th>
              <th>Email</th>
              <th>Role</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.id} data-user={u.email}>
                <td>{u.username}</td>
                <td>{u.email}</td>
                <td>
                  <select aria-label={`Role of ${u.username}`} value={u.role} disabled={u.id === me?.id} onChange={(e) => void change(u, { role: (e.target as HTMLSelectElement).value })}>
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>{u.status}</td>
                <td class="actions">
                  {u.status === "active" && <button onClick={() => props.onMessage(u)}>Message</button>}
                  {u.id !== me?.id && (
                    <button onClick={() => void change(u, { status: u.status === "active" ? "disabled" : "active" })}>{u.status === "active" ? "Disable" : "Enable"}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {q && list.items?.length === 0 && <p class="empty">No user's email or username contains “{q}”.</p>}
      <MoreButton list={list} label="Load more" testid="more-users" />
    </section>
  );
}

/** The new-instrument form's fields, and the request paths whose problems each shows (the start price is the feed's). */
const INSTRUMENT_FIELDS: Record<string, (path: string) => boolean> = {
  symbol: (p) => p === "symbol",
  name: (p) => p === "name",
  class: (p) => p === "class" || p === "exchange",
  tick_size: (p) => p === "tick_size",
  lot_size: (p) => p === "lot_size" || p === "min_order_size",
  start_price: (p) => p === "feed" || p.startsWith("feed."),
};

function Instruments() {
  const [assets, setAssets] = useState<Asset[]>([]);
  const { report, clear, shown } = usePanelProblem();
  // Every problem of a refused new instrument, beside its field (found in QA: only the first was shown, under the form).
  const [fieldProblems, setFieldProblems] = useState<Record<string, string>>({});
  const fieldProblem = (field: string) => <FieldProblem field={field} message={fieldProblems[field]} />;
  const load = () => api<Asset[]>("GET", "/api/admin/assets").then(setAssets, report);
  useEffect(() => void load(), []);
  const update = (id: string, body: Record<string, unknown>) => {
    clear();
    return api("PATCH", `/api/admin/assets/${id}`, body).then(load, report);
  };

  async function create(event: Event) {
    event.preventDefault();
    clear();
    setFieldProblems({});
    const f = new FormData(event.currentTarget as HTMLFormElement);
    const value = (k: string) => String(f.get(k) ?? "").trim();
    const crypto = value("class") === "crypto";
    try {
      await api("POST", "/api/admin/assets", {
        symbol: value("symbol").toUpperCase(),
        name: value("name"),
        class: value("class"),
        exchange: crypto ? "CRYPTO" : "NASDAQ",
        tick_size: value("tick_size"),
        lot_size: value("lot_size"),
        feed: { kind: "sim", params: { startPrice: value("start_price") || "100.00" } },
      });
      (event.target as HTMLFormElement).reset();
      await load();
    } catch (e) {
      report(e);
      const problems: Record<string, string> = {};
      if (e instanceof ApiError) {
        for (const d of e.details) {
          const field = Object.keys(INSTRUMENT_FIELDS).find((k) => INSTRUMENT_FIELDS[k]!(d.path));
          if (field) problems[field] ??= d.message;
        }
      }
      setFieldProblems(problems);
    }
  }

  return (
    <section class="panel">
      <h2>Instruments</h2>
      <div class="table-scroll">
        <table data-testid="assets">
          <thead>
            <tr>
              <th>Symbol</th>
              <th>Name</th>
              <th>Class</th>
              <th class="r">Tick</th>
              <th class="r">Lot</th>
              <th>Feed</th>
              <th>Tradable</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {assets.map((a) => (
              <tr key={a.id} data-symbol={a.symbol}>
                <td>{a.symbol}</td>
                <td>{a.name}</td>
                <td>{a.class}</td>
                <td class="r num">{a.price_increment}</td>
                <td class="r num">{a.min_trade_increment}</td>
                <td>{a.feed.kind}</td>
                <td>
                  <input type="checkbox" aria-label={`${a.symbol} tradable`} checked={a.tradable} onChange={() => void update(a.id, { tradable: !a.tradable })} />
                </td>
                <td>
                  <button onClick={() => void update(a.id, { status: a.status === "active" ? "inactive" : "active" })}>{a.status}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form class="inline-form" onSubmit={(e) => void create(e)}>
        <label>
          Symbol
          <input name="symbol" required placeholder="NVDA or SOL/USD" />
          {fieldProblem("symbol")}
        </label>
        <label>
          Name
          <input name="name" required />
          {fieldProblem("name")}
        </label>
        <label>
          Class
          <select name="class">
            <option value="us_equity">us_equity</option>
            <option value="crypto">crypto</option>
          </select>
          {fieldProblem("class")}
        </label>
        <label>
          Tick
          <input name="tick_size" defaultValue="0.01" size={6} />
          {fieldProblem("tick_size")}
        </label>
        <label>
          Lot
          <input name="lot_size" defaultValue="1" size={6} />
          {fieldProblem("lot_size")}
        </label>
        <label>
          Start price
          <input name="start_price" defaultValue="100.00" inputMode="decimal" size={6} />
          {fieldProblem("start_price")}
        </label>
        <button class="primary" type="submit">
          Add instrument
        </button>
      </form>
      {shown}
    </section>
  );
}
