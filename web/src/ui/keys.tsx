import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type { ApiKey, CreatedApiKey } from "../../../shared/schemas/identity";
import { api, messageOf, session } from "../api";
import { useStore } from "../store";
import { time } from "../format";
import { SessionsPanel } from "./sessions";

// API keys for programmatic clients (Alpaca's SDK, ccxt): the secret is shown once, right
// after creation, and never again.
type Key = z.infer<typeof ApiKey>;
type Created = z.infer<typeof CreatedApiKey>;

export function KeysPage() {
  const admin = useStore(session).user?.role === "admin";
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () => api<Key[]>("GET", "/api/keys").then(setKeys, (e: unknown) => setProblem(messageOf(e, "Could not load keys.")));
  useEffect(() => void load(), []);

  async function create(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setProblem(null);
    try {
      const key = await api<Created>("POST", "/api/keys", { name: String(form.get("name") ?? ""), scopes: form.getAll("scopes").map(String) });
      setCreated(key);
      (event.target as HTMLFormElement).reset();
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The key could not be created."));
    }
  }

  async function revoke(id: string, name: string) {
    // Not undone: a program using the key stops at once (found in QA: one click, no question).
    if (!confirm(`Revoke the key "${name}"? Programs using it stop at once.`)) return;
    setProblem(null);
    try {
      await api("DELETE", `/api/keys/${id}`);
      if (created?.key_id === id) setCreated(null);
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The key could not be revoked."));
    }
  }

  // A password change keeps API keys (as on Alpaca); this ends every one of them at once,
  // including the sockets they opened.
  async function revokeAll() {
    if (!confirm("Revoke every API key? Programs using them stop at once.")) return;
    setProblem(null);
    try {
      await api("DELETE", "/api/keys");
      setCreated(null);
      await load();
    } catch (e) {
      setProblem(messageOf(e, "The keys could not be revoked."));
    }
  }

  return (
    <main class="page">
      <h1>API keys</h1>
      <p class="muted">Use a key with Alpaca's SDK or ccxt pointed at this origin: headers APCA-API-KEY-ID and APCA-API-SECRET-KEY.</p>
      <form class="panel inline-form" onSubmit={(e) => void create(e)}>
        <label>
          Name
          <input name="name" required maxLength={64} placeholder="my bot" />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          <label class="check">
            <input type="checkbox" name="scopes" value="read" defaultChecked /> read
          </label>
          <label class="check">
            <input type="checkbox" name="scopes" value="trade" /> trade
          </label>
          {admin && (
            <label class="check" title="Reads /metrics and nothing else: for a Prometheus scraper">
              <input type="checkbox" name="scopes" value="metrics" /> metrics
            </label>
          )}
        </fieldset>
        <button class="primary" type="submit">
          Create key
        </button>
      </form>
      {problem && (
        <p class="form-error" role="alert">
          {problem}
        </p>
      )}
      {created && (
        <div class="panel secret" role="status" data-testid="new-key">
          <strong>Copy the secret now: it is not shown again.</strong>
          <dl>
            <dt>Key id</dt>
            <dd class="mono">{created.key_id}</dd>
            <dt>Secret</dt>
            <dd class="mono" data-testid="secret">
              {created.secret}
            </dd>
          </dl>
          <button onClick={() => void navigator.clipboard?.writeText(created.secret)}>Copy secret</button>
        </div>
      )}
      <section class="panel">
        {keys !== null && keys.length > 0 && (
          <div class="actions">
            <button onClick={() => void revokeAll()}>Revoke all keys</button>
          </div>
        )}
        {keys === null ? (
          <p class="empty">Loading…</p>
        ) : keys.length === 0 ? (
          <p class="empty">No keys yet.</p>
        ) : (
          <div class="table-scroll">
          <table data-testid="keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key id</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.key_id} data-key={k.key_id}>
                  <td>{k.name}</td>
                  <td class="mono">{k.key_id}</td>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{new Date(k.created_at).toLocaleDateString()}</td>
                  <td>{k.last_used_at ? time(k.last_used_at) : "never"}</td>
                  <td class="actions">
                    <button onClick={() => void revoke(k.key_id, k.name)}>Revoke</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </section>
      <SessionsPanel />
    </main>
  );
}
