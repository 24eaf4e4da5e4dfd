import { describe, expect, it } from "vitest";
import { TEMPLATES, templateJsonSchema } from "../../shared/strategy/templates";
import { defaultsOf, fieldsOf, shownFields } from "../../web/src/lab/types";

// The template form shows a field that matters only for some values of another (qty and
// notional for their sizing) only then: the templates' JSON Schemas carry the condition as
// `x-shown-when`, and the app's form reads it.

const names = (schema: Record<string, unknown>, values: Record<string, unknown>) => shownFields(schema, values).map(([name]) => name);

describe("the template form's fields", () => {
  it("shows qty only when sizing is qty, notional only when it is notional, every other field always", () => {
    const schema = templateJsonSchema(TEMPLATES.get("ma-cross")!);
    const defaults = defaultsOf(schema, {});
    expect(defaults.sizing).toBe("all_in");
    expect(names(schema, defaults)).toEqual(["kind", "fast", "slow", "sizing"]);
    expect(names(schema, { ...defaults, sizing: "qty" })).toEqual(["kind", "fast", "slow", "sizing", "qty"]);
    expect(names(schema, { ...defaults, sizing: "notional" })).toEqual(["kind", "fast", "slow", "sizing", "notional"]);
  });

  it("every template that sizes its entries hides both amounts under all_in, and no template hides a field with no condition", () => {
    for (const template of TEMPLATES.values()) {
      const schema = templateJsonSchema(template);
      const defaults = defaultsOf(schema, {});
      if (defaults.sizing === undefined) {
        expect(names(schema, defaults), template.name).toEqual(fieldsOf(schema).map(([name]) => name));
        continue;
      }
      const shown = names(schema, defaults);
      expect(shown, template.name).not.toContain("qty");
      expect(shown, template.name).not.toContain("notional");
    }
  });
});
