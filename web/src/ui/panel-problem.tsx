import { useState } from "preact/hooks";
import { ApiError } from "../api";

/**
 * A panel's refusal, shown in the panel it came from and cleared by its next success or
 * attempt (found in QA: one banner at the top of the page kept a problem long solved, far
 * from the form that caused it).
 */
export function usePanelProblem() {
  const [problem, setProblem] = useState<string | null>(null);
  return {
    problem,
    report: (e: unknown) => setProblem(e instanceof ApiError ? e.message : "The request failed."),
    clear: () => setProblem(null),
    shown: problem && (
      <p class="form-error" role="alert">
        {problem}
      </p>
    ),
  };
}
