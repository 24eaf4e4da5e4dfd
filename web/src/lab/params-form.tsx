import { shownFields, type FieldSchema, type Params } from "./types";

// A template's parameters as a form, generated from its JSON Schema: numbers with their
// bounds, enums as selects, booleans as checkboxes, the descriptions as hints. Values stay
// JSON values (numbers as numbers), so what is posted is what the schema validates. A field
// that matters only for some values of another (qty when sizing is qty) is shown only then.

const label = (name: string) => name.replace(/_/g, " ");

function bounds(f: FieldSchema) {
  return { min: f.minimum ?? f.exclusiveMinimum, max: f.maximum ?? f.exclusiveMaximum };
}

export function ParamsForm(props: { schema: Record<string, unknown>; value: Params; onChange(next: Params): void; errors?: Record<string, string>; idPrefix: string }) {
  const { schema, value, onChange, errors = {}, idPrefix } = props;
  const set = (name: string, v: unknown) => onChange({ ...value, [name]: v });
  return (
    <div class="params-form">
      {shownFields(schema, value).map(([name, f]) => {
        const id = `${idPrefix}-${name}`;
        const hint = f.description ? `${id}-hint` : undefined;
        const error = errors[`params.${name}`] ?? errors[name];
        const current = value[name];
        let input;
        if (f.enum) {
          input = (
            <select id={id} aria-describedby={hint} value={String(current ?? "")} onChange={(e) => set(name, f.enum!.find((o) => String(o) === e.currentTarget.value))}>
              {f.enum.map((o) => (
                <option key={String(o)} value={String(o)}>
                  {String(o)}
                </option>
              ))}
            </select>
          );
        } else if (f.type === "boolean") {
          input = <input id={id} type="checkbox" aria-describedby={hint} checked={current === true} onChange={(e) => set(name, e.currentTarget.checked)} />;
        } else if (f.type === "integer" || f.type === "number") {
          const { min, max } = bounds(f);
          input = (
            <input
              id={id}
              type="number"
              inputMode="decimal"
              aria-describedby={hint}
              min={min}
              max={max}
              step={f.type === "integer" ? 1 : "any"}
              value={current === undefined || current === null ? "" : String(current)}
              onInput={(e) => {
                const text = e.currentTarget.value;
                set(name, text === "" ? undefined : Number(text));
              }}
            />
          );
        } else {
          input = <input id={id} type="text" aria-describedby={hint} value={String(current ?? "")} onInput={(e) => set(name, e.currentTarget.value)} />;
        }
        return (
          <div class={`field${error ? " invalid" : ""}`} key={name}>
            <label for={id}>{label(name)}</label>
            {input}
            {f.description && (
              <small id={hint} class="hint">
                {f.description}
              </small>
            )}
            {error && <small class="error">{error}</small>}
          </div>
        );
      })}
    </div>
  );
}
