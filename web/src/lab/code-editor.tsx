import type { setDiagnostics } from "@codemirror/lint";
import type { EditorView } from "codemirror";
import { useEffect, useRef, useState } from "preact/hooks";
import { withoutLocation } from "./compile-message";

// The strategy code editor: CodeMirror with JavaScript/TypeScript highlighting, loaded
// only when the editor opens (dynamic import) so the app's first paint stays small. Compile
// errors from the server show as diagnostics on their line and in a list under the editor.

export interface CompileError {
  message: string;
  line?: number;
  column?: number;
}

// The app's colours (the page's stylesheet does not reach into the shadow root).
const DARK = {
  "&": { backgroundColor: "#0b0f15", color: "#e6edf3", minHeight: "16rem", fontSize: "13px" },
  ".cm-content": { caretColor: "#e6edf3", fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace" },
  ".cm-cursor": { borderLeftColor: "#e6edf3" },
  ".cm-gutters": { backgroundColor: "#0f151d", color: "#8b949e", borderRight: "1px solid #232a36" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "#ffffff0a" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "#264f78" },
  // The lint extension draws its underline and gutter marks with data: images, which the
  // Content-Security-Policy (img-src 'self') refuses: plain CSS instead.
  ".cm-lintRange-error, .cm-lintRange-warning, .cm-lintRange-info, .cm-lintRange-hint": { backgroundImage: "none", textDecoration: "underline wavy #f85149" },
  ".cm-lint-marker-error, .cm-lint-marker-warning, .cm-lint-marker-info": { content: "normal", backgroundColor: "#f85149", borderRadius: "50%" },
  ".cm-tooltip": { backgroundColor: "#131a23", color: "#e6edf3", border: "1px solid #232a36" },
};

export function CodeEditor(props: { value: string; language: "ts" | "js"; onChange(text: string): void; errors: CompileError[] }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lint = useRef<{ setDiagnostics: typeof setDiagnostics } | null>(null);
  const [loading, setLoading] = useState(true);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;

  useEffect(() => {
    let gone = false;
    void Promise.all([import("codemirror"), import("@codemirror/lang-javascript"), import("@codemirror/lint"), import("@codemirror/language"), import("@lezer/highlight")]).then(([cm, js, lintModule, language, { tags: t }]) => {
      if (gone || !host.current) return;
      lint.current = lintModule;
      // In a shadow root CodeMirror's styles go into a constructed style sheet; in the
      // document it would add <style> elements, which the Content-Security-Policy refuses.
      const root = host.current.shadowRoot ?? host.current.attachShadow({ mode: "open" });
      const parent = document.createElement("div");
      root.replaceChildren(parent);
      view.current = new cm.EditorView({
        root,
        parent,
        doc: props.value,
        extensions: [
          cm.basicSetup,
          cm.EditorView.theme(DARK, { dark: true }),
          // Colours that read on the dark background (the default ones are for a light one).
          language.syntaxHighlighting(
            language.HighlightStyle.define([
              { tag: [t.keyword, t.operatorKeyword, t.modifier], color: "#ff7b72" },
              { tag: [t.string, t.special(t.string), t.regexp], color: "#a5d6ff" },
              { tag: [t.number, t.bool, t.null], color: "#79c0ff" },
              { tag: [t.comment, t.lineComment, t.blockComment], color: "#8b949e", fontStyle: "italic" },
              { tag: [t.function(t.variableName), t.function(t.propertyName)], color: "#d2a8ff" },
              { tag: [t.propertyName, t.definition(t.propertyName)], color: "#79c0ff" },
              { tag: [t.typeName, t.className], color: "#ffa657" },
              { tag: [t.variableName, t.definition(t.variableName)], color: "#e6edf3" },
            ]),
          ),
          js.javascript({ typescript: props.language === "ts" }),
          lintModule.lintGutter(),
          cm.EditorView.updateListener.of((u) => {
            if (u.docChanged) onChange.current(u.state.doc.toString());
          }),
          cm.EditorView.contentAttributes.of({ "aria-label": "Strategy source", "data-testid": "code-editor" }),
        ],
      });
      setLoading(false);
    });
    return () => {
      gone = true;
      view.current?.destroy();
      view.current = null;
    };
    // The editor is built once per language; later text comes from the user typing.
  }, [props.language]);

  useEffect(() => {
    const v = view.current;
    if (!v || !lint.current) return;
    const doc = v.state.doc;
    const diagnostics = props.errors.map((e) => {
      const line = doc.line(Math.min(Math.max(e.line ?? 1, 1), doc.lines));
      const from = Math.min(line.from + Math.max((e.column ?? 1) - 1, 0), line.to);
      return { from, to: Math.max(from, line.to), severity: "error" as const, message: e.message };
    });
    v.dispatch(lint.current.setDiagnostics(v.state, diagnostics));
  }, [props.errors, loading]);

  return (
    <div class="code-editor">
      {loading && <p class="muted">Loading the editor…</p>}
      <div ref={host} class="code-host" />
      {props.errors.length > 0 && (
        <ul class="compile-errors" role="alert" data-testid="compile-errors">
          {props.errors.map((e, i) => (
            <li key={i}>
              {e.line !== undefined ? <b>Line {e.line}{e.column !== undefined ? `:${e.column}` : ""}</b> : <b>Source</b>} {withoutLocation(e)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
