import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { usePanelProblem } from "./panel-problem";

// The run-time configuration (docs/config.md): every key's effective value at a scope,
// an editor for the scope's override (the server validates and names each bad field),
// and the history with each change's diff and a rollback to before any of them. Every write sends the version
// it was based on; a 412 means another admin wrote first, and the page reloads.

type Value = Record<string, string | number | boolean | null>;

interface ConfigJson {
  version: number;
  scope: string;
  values: Record<string, Value>;
  overrides: { key: string; scope: string; value: Value }[];
  keys: { key: string; scopes: string[]; description: string }[];
}

interface VersionJson {
  version: number;
  at: string;
  author: string;
  reason: string;
  action: "set" | "delete" | "rollback";
  rolled_back_to: number | null;
  changes: { key: string; scope: string; diff: { field: string; before: unknown; after: unknown }[] }[];
}

const ifMatch = (version: number) => ({ "if-match": `"${version}"` });
const shown = (v: unknown) => (v === null ? "—" : JSON.stringify(v));

export function ConfigPanel() {
  const [scope, setScope] = useState("global");
  const [config, setConfig] = useState<ConfigJson | null>(null);
  const [history, setHistory] = useState<VersionJson[]>([]);
  // A problem with the scope or a write is shown under the scope; a rollback's by the history it was asked from.
  const { report, clear, shown: problemShown } = usePanelProblem();
  const rollbackProblem = usePanelProblem();
  const load = () =>
    Promise.all([
      api<ConfigJson>("GET", `/api/admin/config?scope=${encodeURIComponent(scope)}`).then(setConfig, (e: unknown) => {
        // A scope the server refuses has no values to edit: the editors go (they showed the global ones as this scope's).
        setConfig(null);
        throw e;
      }),
      api<{ versions: VersionJson[] }>("GET", "/api/admin/config/history?limit=20").then((h) => setHistory(h.versions)),
    ]).catch(report);
  // Another scope asked for: what was said of the last one, and of a rollback, is old news.
  useEffect(() => {
    clear();
    rollbackProblem.clear();
    void load();
  }, [scope]);

  /** A write based on the version shown; a stale one reloads what changed. A refusal of its fields is answered to the editor. */
  async function written(send: (version: number) => Promise<unknown>, refused: (e: unknown) => void = report): Promise<ApiError | null> {
    if (!config) return null;
    clear();
    rollbackProblem.clear();
    try {
      await send(config.version);
      await load();
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) await load();
      if (e instanceof ApiError && e.status === 422) return e;
      refused(e);
      return null;
    }
  }

  const rollback = (to: number) => {
    const reason = prompt(`Reason for rolling back to version ${to}`);
    if (reason)
      void written((v) => api("POST", "/api/admin/config/rollback", { version: to, reason }, ifMatch(v)), rollbackProblem.report).then((refused) => refused && rollbackProblem.report(refused));
  };

  return (
    <section class="panel" data-testid="config">
      <h2>Configuration {config && <span class="muted">version {config.version}</span>}</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setScope(String(new FormData(e.currentTarget).get("scope") ?? "global").trim() || "global");
        }}
      >
        <label>
          Scope
          <input name="scope" defaultValue={scope} placeholder="global, account:<user id> or symbol:<SYMBOL>" size={44} />
        </label>
        <button type="submit">Show</button>
      </form>
      {problemShown}
      {config?.keys
        .filter((k) => k.scopes.includes(scope.split(":")[0]!))
        .map((k) => (
          <KeyEditor
            key={`${k.key}@${scope}`}
            name={k.key}
            description={k.description}
            effective={config.values[k.key] ?? {}}
            override={config.overrides.find((o) => o.key === k.key && o.scope === scope)?.value ?? null}
            save={(value, reason) => written((v) => api("PUT", `/api/admin/config/${k.key}`, { scope, value, reason }, ifMatch(v)))}
            remove={(reason) => written((v) => api("DELETE", `/api/admin/config/${k.key}?scope=${encodeURIComponent(scope)}&reason=${encodeURIComponent(reason)}`, undefined, ifMatch(v)))}
          />
        ))}
      <h3>History</h3>
      {rollbackProblem.shown}
      {history.length === 0 && <p class="muted">No changes yet: every key has its default from the environment.</p>}
      <div class="table-scroll">
        <table data-testid="config-history">
          <thead>
            <tr>
              <th class="r">Version</th>
              <th>When</th>
              <th>Change</th>
              <th>Reason</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {history.map((v) => (
              <tr key={v.version} data-version={v.version}>
                <td class="r num">{v.version}</td>
                <td>{new Date(v.at).toLocaleString()}</td>
                <td>
                  {v.action === "rollback" && <div class="muted">rollback to {v.rolled_back_to}</div>}
                  {v.changes.map((c) => (
                    <div key={`${c.key}@${c.scope}`}>
                      <code>
                        {c.key} @ {c.scope}
                      </code>
                      {c.diff.map((d) => (
                        <div key={d.field} class="mono">
                          {d.field}: {shown(d.before)} → {shown(d.after)}
                        </div>
                      ))}
                    </div>
                  ))}
                </td>
                <td>{v.reason}</td>
                <td class="actions">
                  <button title={`Every override as it stood after version ${v.version - 1}, undoing this change and any later one`} onClick={() => rollback(v.version - 1)}>
                    Roll back to before this
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface KeyEditorProps {
  name: string;
  description: string;
  effective: Value;
  override: Value | null;
  save: (value: unknown, reason: string) => Promise<ApiError | null>;
  remove: (reason: string) => Promise<ApiError | null>;
}

function KeyEditor({ name, description, effective, override, save, remove }: KeyEditorProps) {
  const [text, setText] = useState(JSON.stringify(override ?? {}, null, 2));
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<{ path: string; message: string }[]>([]);
  useEffect(() => setText(JSON.stringify(override ?? {}, null, 2)), [JSON.stringify(override)]);

  async function submit(event: Event) {
    event.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return setErrors([{ path: "value", message: "is not JSON" }]);
    }
    const refused = await save(value, reason);
    setErrors(refused?.details ?? []);
    if (!refused) setReason("");
  }

  return (
    <form class="config-key" data-key={name} onSubmit={(e) => void submit(e)}>
      <h3>
        {name} <span class="muted">{description}</span>
      </h3>
      <p class="mono">Effective: {JSON.stringify(effective)}</p>
      <label>
        Override at this scope (only the fields it sets)
        <textarea aria-label={`${name} override`} rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      </label>
      {errors.map((e) => (
        <p key={e.path} class="field-error" role="alert">
          {e.path}: {e.message}
        </p>
      ))}
      <div class="inline-form">
        <label>
          Reason
          <input aria-label={`${name} reason`} required value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
        <button class="primary" type="submit">
          Save
        </button>
        {override && (
          <button
            type="button"
            disabled={!reason}
            onClick={() =>
              // A refused removal keeps the reason and says why (found in QA: it failed silently and emptied the reason).
              void remove(reason).then((refused) => {
                setErrors(refused ? (refused.details.length > 0 ? refused.details : [{ path: "reason", message: refused.message }]) : []);
                if (!refused) setReason("");
              })
            }
          >
            Remove override
          </button>
        )}
      </div>
    </form>
  );
}
