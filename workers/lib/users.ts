import type { z } from "@hono/zod-openapi";
import type { User } from "../../shared/schemas/identity";
import type { UserRecord } from "../../shared/identity/gate";

const iso = (ms: number) => new Date(ms).toISOString();

export function userView(row: UserRecord): z.infer<typeof User> {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    display_name: row.displayName,
    role: row.role,
    status: row.status,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

/** D1 reports a UNIQUE violation only in the message text. */
export function uniqueViolation(error: unknown): "email" | "username" | undefined {
  const text = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  if (!/UNIQUE constraint failed/i.test(text)) return undefined;
  if (/users\.email/.test(text)) return "email";
  if (/users\.username/.test(text)) return "username";
  return undefined;
}
