import { useState } from "preact/hooks";
import { messageOf } from "../api";

/**
 * A panel's refusal, shown in the panel it came from and cleared by its next success or
 * attempt (found in QA: one banner at the top of the page kept a problem long solved, far
 * from the form that caused it).
 */
export function usePanelProblem(fallback = "The request failed.") {
  const [problem, setProblem] = useState<string | null>(null);
  return {
    problem,
    report: (e: unknown) => setProblem(messageOf(e, fallback)),
    clear: () => setProblem(null),
    shown: problem && (
      <p class="form-error" role="alert">
        {problem}
      </p>
    ),
  };
}

/** A refusal's problem with one field, shown beside it (`data-field` names the field). */
export function FieldProblem(props: { field: string; message: string | undefined }) {
  if (!props.message) return null;
  return (
    <span class="field-error" role="alert" data-field={props.field}>
      {props.message}
    </span>
  );
}
