import { ApiError } from "../api";
import type { CompileError } from "./code-editor";

// A refusal's field errors by path (for the forms) and the compile errors of a source.

export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof ApiError) for (const d of error.details) out[d.path] ??= d.message;
  return out;
}

export function compileErrors(error: unknown): CompileError[] {
  if (!(error instanceof ApiError)) return [];
  return (error.details as (ApiError["details"][number] & { line?: number; column?: number })[])
    .filter((d) => d.path === "source")
    .map((d) => ({ message: d.message, line: d.line, column: d.column }));
}

export { messageOf } from "../api";
