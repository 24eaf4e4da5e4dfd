import { describe, expect, it } from "vitest";
import { call, createKey, expectError, json, signUp } from "./helpers";

interface User {
  id: string;
  role: string;
  status: string;
}

describe("admin", () => {
  it("lists users page by page", async () => {
    const admin = await signUp("admin");
    await Promise.all([signUp(), signUp(), signUp()]);
    const seen = new Set<string>();
    let after: string | null = null;
    let pages = 0;
    do {
      const res: Response = await call(`/api/admin/users?limit=2${after ? `&after=${after}` : ""}`, { token: admin.access });
      const page = await json<{ users: User[]; next_page_token: string | null }>(res);
      expect(page.users.length).toBeLessThanOrEqual(2);
      for (const u of page.users) {
        expect(seen.has(u.id)).toBe(false);
        seen.add(u.id);
      }
      after = page.next_page_token;
      pages += 1;
    } while (after && pages < 1000);
    expect(seen.size).toBeGreaterThanOrEqual(4);
    expect(seen.has(admin.id)).toBe(true);
  });

  it("filters by role", async () => {
    const admin = await signUp("admin");
    const page = await json<{ users: User[] }>(await call("/api/admin/users?role=admin&limit=500", { token: admin.access }));
    expect(page.users.every((u) => u.role === "admin")).toBe(true);
    expect(page.users.map((u) => u.id)).toContain(admin.id);
  });

  it("changes a role, which applies to the user's existing token at once", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    expect((await call("/api/users/me", { method: "PATCH", body: { display_name: "before" }, token: user.access })).status).toBe(200);
    const res = await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { role: "guest" }, token: admin.access });
    expect((await json<User>(res)).role).toBe("guest");
    await expectError(await call("/api/users/me", { method: "PATCH", body: { display_name: "after" }, token: user.access }), 403);
  });

  it("disabling a user stops their tokens, refresh tokens and API keys at once", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    const key = await createKey(user);
    const res = await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access });
    expect((await json<User>(res)).status).toBe("disabled");
    await expectError(await call("/api/users/me", { token: user.access }), 401);
    await expectError(await call("/api/users/me", { apiKey: key }), 401);
    await expectError(await call("/api/auth/refresh", { body: { refresh_token: user.refresh } }), 401);
    // Re-enabling restores the keys but not the sessions that were ended.
    await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "active" }, token: admin.access });
    expect((await call("/api/users/me", { apiKey: key })).status).toBe(200);
    await expectError(await call("/api/users/me", { token: user.access }), 401);
  });

  it("an admin cannot demote or disable themselves", async () => {
    const admin = await signUp("admin");
    await expectError(await call(`/api/admin/users/${admin.id}`, { method: "PATCH", body: { role: "trader" }, token: admin.access }), 409);
    await expectError(await call(`/api/admin/users/${admin.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access }), 409);
    expect((await json<User>(await call("/api/users/me", { token: admin.access }))).role).toBe("admin");
  });

  it("answers 404 for an unknown user and 422 for a bad id or body", async () => {
    const admin = await signUp("admin");
    await expectError(await call(`/api/admin/users/${crypto.randomUUID()}`, { method: "PATCH", body: { role: "user" }, token: admin.access }), 404);
    await expectError(await call("/api/admin/users/not-a-uuid", { method: "PATCH", body: { role: "user" }, token: admin.access }), 422);
    await expectError(await call(`/api/admin/users/${admin.id}`, { method: "PATCH", body: { role: "root" }, token: admin.access }), 422);
    await expectError(await call("/api/admin/users?limit=0", { token: admin.access }), 422);
  });
});
