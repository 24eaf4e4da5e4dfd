import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { time } from "../format";
import { CodeEditor, type CompileError } from "./code-editor";
import { compileErrors, fieldErrors, messageOf } from "./errors";
import { ParamsForm } from "./params-form";
import { defaultsOf, type Params, type StrategyJson, type TemplateJson } from "./types";

// Editing a saved strategy: new parameters (template) or new code make a new version; a
// running strategy keeps the version it started with until it is started again.

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
      const body = strategy.kind === "template" ? { params } : { source, language };
      const updated = await api<StrategyJson & { notice: string | null }>("PATCH", `/api/strategies/${strategy.id}`, body);
      setNote(updated.notice ?? `Saved as version ${updated.current_version}.`);
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
      {template && <ParamsForm idPrefix="edit-param" schema={template.params_schema} value={params} onChange={setParams} errors={errors} />}
      {strategy.kind === "code" && source !== null && <CodeEditor key={`${strategy.id}-${language}`} value={source} language={language} onChange={setSource} errors={compile} />}
      {note && (
        <p class="notice" role="status">
          {note}
        </p>
      )}
      <button type="submit" class="primary">
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
