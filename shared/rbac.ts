// Roles and permissions of the original design (its RBAC matrix): resources
// user / trading / strategy × read / write / delete, plus admin:all.
export const ROLES = ["guest", "user", "trader", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  "user:read",
  "user:write",
  "user:delete",
  "trading:read",
  "trading:write",
  "trading:delete",
  "strategy:read",
  "strategy:write",
  "strategy:delete",
  // Reading /metrics: admins have it (as they have everything); a key with the `metrics`
  // scope carries it alone, so a Prometheus scraper holds no other power of its admin.
  "metrics:read",
  "admin:all",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  guest: ["user:read"],
  user: ["user:read", "user:write", "trading:read", "strategy:read"],
  trader: ["user:read", "user:write", "trading:read", "trading:write", "strategy:read", "strategy:write"],
  admin: PERMISSIONS,
};

// An API key never grants more than its owner's role; its scopes narrow it further.
export const API_KEY_SCOPES = ["read", "trade", "metrics"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const SCOPE_PERMISSIONS: Record<ApiKeyScope, readonly Permission[]> = {
  read: ["user:read", "trading:read", "strategy:read"],
  // A trading key also reads: a bot that places orders needs the account and positions.
  trade: ["user:read", "trading:read", "trading:write", "trading:delete", "strategy:read", "strategy:write"],
  // Only an admin's key gets anything from it (a key never exceeds its owner's role).
  metrics: ["metrics:read"],
};

export function permissionsOf(role: Role, scopes?: readonly ApiKeyScope[]): ReadonlySet<Permission> {
  const granted = new Set<Permission>(ROLE_PERMISSIONS[role]);
  if (!scopes) return granted;
  const allowed = new Set(scopes.flatMap((s) => SCOPE_PERMISSIONS[s]));
  return new Set([...granted].filter((p) => allowed.has(p)));
}

export function can(permissions: ReadonlySet<Permission>, needed: Permission): boolean {
  return permissions.has(needed) || permissions.has("admin:all");
}

/**
 * Whether a role may have strategies running for it: starting one needs `strategy:write`,
 * and what it does is trade (`trading:write`). A user who loses either has them stopped.
 */
export function mayRunStrategies(role: Role): boolean {
  const granted = permissionsOf(role);
  return can(granted, "strategy:write") && can(granted, "trading:write");
}
