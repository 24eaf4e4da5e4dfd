import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { time } from "../format";
import { CodeEditor, type CompileError } from "./code-editor";
import { compileErrors, fieldErrors, messageOf } from "./errors";
import { ParamsForm } from "./params-form";
import { defaultsOf, LIVE_TIMEFRAMES, type Params, type StrategyJson, type TemplateJson } from "./types";

// Editing a saved strategy: new parameters (template) or new code make a new version; a
// running strategy keeps the version it started with until it is started again. A stopped
// strategy can also move to another symbol or timeframe (no new version by itself).

interface VersionJson {
  version: number;
  params: Params;
  language: "ts" | "js" | null;
  created_at: string;
}
interface VersionDetailJson extends VersionJson {
  source: string | null;
}

export function StrategyEdit(props: { strategy: StrategyJson; templates: TemplateJson[]; onSaved(): void }) {
  const { strategy } = props;
  const template = props.templates.find((t) => t.name === strategy.template);
  const [params, setParams] = useState<Params>(() => (template ? { ...defaultsOf(template.params_schema, template.defaults), ...strategy.params } : strategy.params));
  const [source, setSource] = useState<string | null>(null);
  const [language, setLanguage] = useState<"ts" | "js">("ts");
  const [versions, setVersions] = useState<VersionJson[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [compile, setCompile] = useState<CompileError[]>([]);
  const [note, setNote] = useState<string | null>(null);
  const [symbol, setSymbol] = useState(strategy.symbol);
  const [timeframe, setTimeframe] = useState(strategy.timeframe);
  useEffect(() => {
    setSymbol(strategy.symbol);
    setTimeframe(strategy.timeframe);
  }, [strategy.id, strategy.symbol, strategy.timeframe]);
  const running = strategy.status === "running";
  // A refusal said before a start or a stop no longer applies after it (found in QA: a 422 stayed beside "Stop the strategy…").
  useEffect(() => setNote(null), [strategy.status]);

  const loadVersions = () => api<VersionJson[]>("GET", `/api/strategies/${strategy.id}/versions?limit=20`).then(setVersions, () => undefined);
  useEffect(() => {
    void loadVersions();
    if (strategy.kind === "code")
      void api<VersionDetailJson>("GET", `/api/strategies/${strategy.id}/versions/${strategy.current_version}`).then((v) => {
        setSource(v.source ?? "");
        setLanguage(v.language ?? "ts");
      });
  }, [strategy.id]);

  async function save(event: Event) {
    event.preventDefault();
    setErrors({});
    setCompile([]);
    setNote(null);
    try {
      // Only what changed of where it runs: naming the same place is no move.
      const place = {
        ...(symbol.trim().toUpperCase() !== strategy.symbol ? { symbol: symbol.trim() } : {}),
        ...(timeframe !== strategy.timeframe ? { timeframe } : {}),
      };
      // Code only once its version has loaded (found in QA: a move saved at once sent source null, refused with 422).
      const content = strategy.kind === "template" ? { params } : source !== null ? { source, language } : {};
      const body = { ...content, ...place };
      const updated = await api<StrategyJson & { notice: string | null }>("PATCH", `/api/strategies/${strategy.id}`, body);
      const saved = updated.current_version !== strategy.current_version ? `Saved as version ${updated.current_version}.` : "";
      const moved = updated.symbol !== strategy.symbol || updated.timeframe !== strategy.timeframe ? `Runs on ${updated.symbol}, ${updated.timeframe} bars.` : "";
      setNote(updated.notice ?? ([saved, moved].filter(Boolean).join(" ") || "Nothing changed."));
      void loadVersions();
      props.onSaved();
    } catch (e) {
      const located = compileErrors(e);
      // A compile error is said once, under the editor, with its line.
      setNote(located.length > 0 ? null : messageOf(e, "The strategy could not be saved."));
      setErrors(fieldErrors(e));
      setCompile(located);
    }
  }

  return (
    <form class="strategy-edit" onSubmit={(e) => void save(e)} aria-label={`Edit ${strategy.name}`}>
      <h3>Edit</h3>
      <div class="form-grid">
        <div class={`field${errors.symbol ? " invalid" : ""}`}>
          <label for="edit-symbol">Symbol</label>
          <input id="edit-symbol" required maxLength={32} value={symbol} disabled={running} onInput={(e) => setSymbol(e.currentTarget.value)} />
          {errors.symbol && <small class="error">{errors.symbol}</small>}
        </div>
        <div class={`field${errors.timeframe ? " invalid" : ""}`}>
          <label for="edit-timeframe">Timeframe</label>
          <select id="edit-timeframe" value={timeframe} disabled={running} onChange={(e) => setTimeframe(e.currentTarget.value)}>
            {LIVE_TIMEFRAMES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          {errors.timeframe && <small class="error">{errors.timeframe}</small>}
        </div>
      </div>
      {running && <p class="muted small">Stop the strategy to move it to another symbol or timeframe.</p>}
      {template && <ParamsForm idPrefix="edit-param" schema={template.params_schema} value={params} onChange={setParams} errors={errors} />}
      {strategy.kind === "code" && source !== null && <CodeEditor key={`${strategy.id}-${language}`} value={source} language={language} onChange={setSource} errors={compile} />}
      {note && (
        <p class="notice" role="status">
          {note}
        </p>
      )}
      <button type="submit" class="primary" disabled={strategy.kind === "code" && source === null} title={strategy.kind === "code" && source === null ? "Loading the code…" : undefined}>
        Save as a new version
      </button>
      {versions.length > 0 && (
        <details>
          <summary class="muted small">{versions.length} version{versions.length === 1 ? "" : "s"}</summary>
          <ul class="versions small">
            {versions.map((v) => (
              <li key={v.version}>
                v{v.version} <span class="muted">{new Date(v.created_at).toLocaleDateString()} {time(v.created_at)}</span>{" "}
                <code>{strategy.kind === "template" ? JSON.stringify(v.params) : v.language}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
    </form>
  );
}
