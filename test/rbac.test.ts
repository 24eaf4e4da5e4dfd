import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { API_KEY_SCOPES, can, PERMISSIONS, permissionsOf, ROLES } from "../shared/rbac";

describe("permission matrix", () => {
  it("follows the original design", () => {
    expect([...permissionsOf("guest")]).toEqual(["user:read"]);
    expect([...permissionsOf("user")].sort()).toEqual(["strategy:read", "trading:read", "user:read", "user:write"]);
    expect([...permissionsOf("trader")].sort()).toEqual(["strategy:read", "strategy:write", "trading:read", "trading:write", "user:read", "user:write"]);
    for (const p of PERMISSIONS) expect(can(permissionsOf("admin"), p)).toBe(true);
  });

  it("an API key never grants more than its owner's role", () => {
    fc.assert(
      fc.property(fc.constantFrom(...ROLES), fc.subarray([...API_KEY_SCOPES]), (role, scopes) => {
        const viaKey = permissionsOf(role, scopes);
        for (const p of viaKey) expect(permissionsOf(role).has(p)).toBe(true);
        expect(viaKey.has("admin:all")).toBe(false);
      }),
    );
  });
});
