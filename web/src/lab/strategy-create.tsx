import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { CodeEditor, type CompileError } from "./code-editor";
import { STARTER_SOURCE } from "./starter";
import { compileErrors, fieldErrors, messageOf } from "./errors";
import { ParamsForm } from "./params-form";
import { TemplateSelect } from "./template-select";
import { defaultsOf, LIVE_TIMEFRAMES, type Params, type StrategyJson, type TemplateJson } from "./types";

// Creating a strategy: from a template (its parameters as a form generated from the JSON
// Schema) or from code (the editor, with the server's compile errors on their lines).

export function StrategyCreate(props: { templates: TemplateJson[]; onCreated(s: StrategyJson): void }) {
  const { templates } = props;
  const [kind, setKind] = useState<"template" | "code">("template");
  const [name, setName] = useState("");
  const [symbol, setSymbol] = useState("AAPL");
  const [timeframe, setTimeframe] = useState<string>("1Min");
  const [template, setTemplate] = useState(templates[0]?.name ?? "");
  const [params, setParams] = useState<Params>({});
  const [language, setLanguage] = useState<"ts" | "js">("ts");
  const [source, setSource] = useState(STARTER_SOURCE);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [compile, setCompile] = useState<CompileError[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const chosen = templates.find((t) => t.name === template);

  useEffect(() => {
    if (chosen) setParams(defaultsOf(chosen.params_schema, chosen.defaults));
  }, [chosen]);

  // The server's answer is about what was sent: an edit makes it stale, so it goes (it stayed
  // on screen while the browser's own checks refused the next submit).
  useEffect(() => {
    setProblem(null);
    setErrors({});
  }, [name, symbol, timeframe, kind, template, params, language]);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setErrors({});
    setCompile([]);
    const base = { name, symbol: symbol.trim().toUpperCase(), timeframe };
    const body = kind === "template" ? { ...base, kind, template, params } : { ...base, kind, language, source };
    try {
      const created = await api<StrategyJson>("POST", "/api/strategies", body);
      setName("");
      props.onCreated(created);
    } catch (e) {
      setProblem(messageOf(e, "The strategy could not be saved."));
      setErrors(fieldErrors(e));
      setCompile(compileErrors(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="panel strategy-create" onSubmit={(e) => void submit(e)} aria-label="New strategy">
      <h2>New strategy</h2>
      <div class="segmented">
        {(["template", "code"] as const).map((k) => (
          <button type="button" key={k} aria-pressed={kind === k} onClick={() => setKind(k)}>
            {k === "template" ? "From a template" : "From code"}
          </button>
        ))}
      </div>
      <div class="form-grid">
        <div class={`field${errors.name ? " invalid" : ""}`}>
          <label for="strategy-name">Strategy name</label>
          <input id="strategy-name" required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="AAPL trend" />
          {errors.name && <small class="error">{errors.name}</small>}
        </div>
        <div class={`field${errors.symbol ? " invalid" : ""}`}>
          <label for="strategy-symbol">Symbol</label>
          <input id="strategy-symbol" required maxLength={32} value={symbol} onInput={(e) => setSymbol(e.currentTarget.value)} />
          {errors.symbol && <small class="error">{errors.symbol}</small>}
        </div>
        <div class="field">
          <label for="strategy-timeframe">Timeframe</label>
          <select id="strategy-timeframe" value={timeframe} onChange={(e) => setTimeframe(e.currentTarget.value)}>
            {LIVE_TIMEFRAMES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        {kind === "template" ? (
          <div class="field">
            <label for="strategy-template">Template</label>
            <TemplateSelect id="strategy-template" value={template} templates={templates} onChange={setTemplate} />
          </div>
        ) : (
          <div class="field">
            <label for="strategy-language">Language</label>
            <select id="strategy-language" value={language} onChange={(e) => setLanguage(e.currentTarget.value as "ts" | "js")}>
              <option value="ts">TypeScript</option>
              <option value="js">JavaScript</option>
            </select>
          </div>
        )}
      </div>
      {kind === "template" && chosen && (
        <>
          <p class="muted small">{chosen.description}</p>
          <ParamsForm idPrefix="param" schema={chosen.params_schema} value={params} onChange={setParams} errors={errors} />
        </>
      )}
      {kind === "code" && (
        <CodeEditor value={source} language={language} onChange={setSource} errors={compile} />
      )}
      {/* A compile error is said once, under the editor, with its line. */}
      {problem && compile.length === 0 && (
        <p class="form-error" role="alert" data-testid="create-error">
          {problem}
        </p>
      )}
      <button class="primary" type="submit" disabled={busy}>
        Save strategy
      </button>
    </form>
  );
}
