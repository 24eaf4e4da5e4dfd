import type { TemplateJson } from "./types";

/** The built-in templates as a select; the run, optimize and create forms all pick one the same way. */
export function TemplateSelect(props: { id?: string; value: string; templates: TemplateJson[]; onChange: (name: string) => void }) {
  return (
    <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      {props.templates.map((t) => (
        <option key={t.name} value={t.name}>
          {t.title}
        </option>
      ))}
    </select>
  );
}
