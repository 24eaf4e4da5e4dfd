import { beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../shared/rbac";
import { call, createKey, signUp, type TestUser } from "./helpers";

// Every route × every caller, from one table. "self" routes act on the caller's own
// data; `other` marks the cases that aim at another user's resource.
type Caller = "anonymous" | Role | "trader-read-key" | "trader-trade-key";
const CALLERS: Caller[] = ["anonymous", "guest", "user", "trader", "admin", "trader-read-key", "trader-trade-key"];

interface Fixture {
  users: Record<Role, TestUser>;
  keys: { read: { key_id: string; secret: string }; trade: { key_id: string; secret: string } };
  victim: TestUser;
  victimKeyId: string;
}

interface Route {
  name: string;
  request: (f: Fixture, caller: TestUser) => { method: string; path: string; body?: unknown };
  expected: Record<Caller, number>;
}

const ALL_SIGNED_IN = { guest: 200, user: 200, trader: 200, admin: 200 } as const;

const ROUTES: Route[] = [
  {
    name: "GET /api/users/me",
    request: () => ({ method: "GET", path: "/api/users/me" }),
    expected: { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
  {
    name: "PATCH /api/users/me",
    request: () => ({ method: "PATCH", path: "/api/users/me", body: { display_name: "matrix" } }),
    expected: { anonymous: 401, guest: 403, user: 200, trader: 200, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "POST /api/users/me/password (wrong current password → 422 once allowed)",
    request: () => ({ method: "POST", path: "/api/users/me/password", body: { current_password: "not-the-password", new_password: "another-long-passphrase" } }),
    expected: { anonymous: 401, guest: 403, user: 422, trader: 422, admin: 422, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /api/keys",
    request: () => ({ method: "GET", path: "/api/keys" }),
    expected: { anonymous: 401, ...ALL_SIGNED_IN, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "POST /api/keys",
    request: () => ({ method: "POST", path: "/api/keys", body: { name: "matrix", scopes: ["read"] } }),
    expected: { anonymous: 401, guest: 403, user: 201, trader: 201, admin: 201, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "DELETE /api/keys/{another user's key}",
    request: (f) => ({ method: "DELETE", path: `/api/keys/${f.victimKeyId}` }),
    expected: { anonymous: 401, guest: 403, user: 404, trader: 404, admin: 404, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /api/admin/users",
    request: () => ({ method: "GET", path: "/api/admin/users?limit=1" }),
    expected: { anonymous: 401, guest: 403, user: 403, trader: 403, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "PATCH /api/admin/users/{another user}",
    request: (f) => ({ method: "PATCH", path: `/api/admin/users/${f.victim.id}`, body: { role: "trader" } }),
    expected: { anonymous: 401, guest: 403, user: 403, trader: 403, admin: 200, "trader-read-key": 403, "trader-trade-key": 403 },
  },
  {
    name: "GET /health",
    request: () => ({ method: "GET", path: "/health" }),
    expected: { anonymous: 200, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
  {
    name: "GET /.well-known/jwks.json",
    request: () => ({ method: "GET", path: "/.well-known/jwks.json" }),
    expected: { anonymous: 200, ...ALL_SIGNED_IN, "trader-read-key": 200, "trader-trade-key": 200 },
  },
];

let fixture: Fixture;

beforeAll(async () => {
  const [guest, user, trader, admin, victim] = await Promise.all([signUp("guest"), signUp("user"), signUp("trader"), signUp("admin"), signUp("trader")]);
  const [read, trade, victimKey] = await Promise.all([createKey(trader, ["read"]), createKey(trader, ["trade"]), createKey(victim)]);
  fixture = { users: { guest, user, trader, admin }, keys: { read, trade }, victim, victimKeyId: victimKey.key_id };
});

describe.each(ROUTES)("$name", (route) => {
  it.each(CALLERS)("as %s", async (caller) => {
    const owner = caller === "anonymous" || caller.endsWith("-key") ? fixture.users.trader : fixture.users[caller as Role];
    const { method, path, body } = route.request(fixture, owner);
    const credentials =
      caller === "anonymous"
        ? {}
        : caller === "trader-read-key"
          ? { apiKey: fixture.keys.read }
          : caller === "trader-trade-key"
            ? { apiKey: fixture.keys.trade }
            : { token: owner.access };
    const res = await call(path, { method, body, ...credentials });
    expect(res.status, await res.clone().text()).toBe(route.expected[caller]);
  });
});
