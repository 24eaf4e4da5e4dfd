import { describe, expect, it } from "vitest";
import { call, createKey, expectError, json, PASSWORD, signUp } from "./helpers";

interface User {
  id: string;
  email: string;
  username: string;
  role: string;
  status: string;
}

/** A user registered with this email and username (as typed: the server keeps them lower-cased); their id. */
async function register(email: string, username: string): Promise<string> {
  const res = await call("/api/auth/register", { body: { email, username, password: PASSWORD } });
  expect(res.status).toBe(201);
  return (await json<{ user: { id: string } }>(res)).user.id;
}

/** A text no other test's user has. */
const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e8).toString(36)}`;

/** The ids of the users a search answers (one page, as large as they come). */
async function search(admin: { access: string; ip: string }, query: string): Promise<string[]> {
  const page = await json<{ users: User[] }>(await call(`/api/admin/users?limit=500&${query}`, { token: admin.access, ip: admin.ip }));
  return page.users.map((u) => u.id);
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
    // page_token, as every other list names it, walks the same pages (it was ignored: page 1 again, forever).
    const byToken: string[] = [];
    let token: string | null = null;
    do {
      const page: { users: User[]; next_page_token: string | null } = await json(await call(`/api/admin/users?limit=2${token ? `&page_token=${token}` : ""}`, { token: admin.access }));
      byToken.push(...page.users.map((u) => u.id));
      token = page.next_page_token;
    } while (token && byToken.length < 5000);
    expect(new Set(byToken).size).toBe(byToken.length);
    expect(byToken.length).toBeGreaterThanOrEqual(seen.size);
    await expectError(await call("/api/admin/users?page_token=nope", { token: admin.access }), 422);
  });

  it("filters by role", async () => {
    const admin = await signUp("admin");
    const page = await json<{ users: User[] }>(await call("/api/admin/users?role=admin&limit=500", { token: admin.access }));
    expect(page.users.every((u) => u.role === "admin")).toBe(true);
    expect(page.users.map((u) => u.id)).toContain(admin.id);
  });

  it("searches users by a part of their email or username, in any case (QA: id order only, no search)", async () => {
    const admin = await signUp("admin");
    const tag = unique();
    const byEmail = await register(`Mail.${tag}@Example.com`, `m${tag}`);
    const byName = await register(`n${tag}@example.com`, `Name.${tag}.X`);
    // Only in the email (the "@" part), typed in another case.
    expect(await search(admin, `q=${encodeURIComponent(`IL.${tag}@EXAMPLE`)}`)).toEqual([byEmail]);
    // Only in the username, in another case, with the blanks around it trimmed.
    expect(await search(admin, `q=${encodeURIComponent(` ME.${tag.toUpperCase()}.x `)}`)).toEqual([byName]);
    // A part both have, and one nobody has.
    expect((await search(admin, `q=${tag}`)).sort()).toEqual([byEmail, byName].sort());
    expect(await search(admin, `q=${encodeURIComponent(`${tag}-none`)}`)).toEqual([]);
  });

  it("documents the search in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, { get: { parameters: { name: string; in: string; description?: string; schema: { maxLength?: number } }[] } }> }>(await call("/openapi.json"));
    const q = doc.paths["/api/admin/users"]!.get.parameters.find((p) => p.name === "q");
    expect(q).toMatchObject({ in: "query", schema: { maxLength: 100 } });
    expect(q?.description).toContain("email or username");
  });

  it("a % or _ in the search is that character, not a wildcard", async () => {
    const admin = await signUp("admin");
    const tag = unique();
    const underscored = await register(`a${tag}@example.com`, `a${tag}_b`);
    const lettered = await register(`c${tag}@example.com`, `a${tag}xb`);
    // "_" would match any one character, "%" any text: each user.
    expect(await search(admin, `q=${encodeURIComponent(`${tag}_b`)}`)).toEqual([underscored]);
    const withUnderscore = await json<{ users: User[] }>(await call("/api/admin/users?limit=500&q=_", { token: admin.access, ip: admin.ip }));
    expect(withUnderscore.users.map((u) => u.id)).toContain(underscored);
    expect(withUnderscore.users.every((u) => u.email.includes("_") || u.username.includes("_"))).toBe(true);
    expect(await search(admin, `q=${encodeURIComponent(`${tag}x`)}`)).toEqual([lettered]);
    // Neither an email nor a username may hold a "%" or a backslash: a search for one finds
    // nobody (as LIKE's escape character, a backslash and "x" would read "x").
    expect(await search(admin, `q=${encodeURIComponent("%")}`)).toEqual([]);
    expect(await search(admin, `q=${encodeURIComponent(`${tag}%b`)}`)).toEqual([]);
    expect(await search(admin, `q=${encodeURIComponent(`a${tag}\\xb`)}`)).toEqual([]);
  });

  it("a search combines with the role filter", async () => {
    const admin = await signUp("admin");
    const tag = unique();
    const [trader, other] = [await register(`t${tag}@example.com`, `t${tag}`), await register(`o${tag}@example.com`, `o${tag}`)];
    expect((await call(`/api/admin/users/${other}`, { method: "PATCH", body: { role: "admin" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    expect(await search(admin, `q=${tag}&role=admin`)).toEqual([other]);
    expect(await search(admin, `q=${tag}&role=trader`)).toEqual([trader]);
    expect(await search(admin, `q=${tag}&role=guest`)).toEqual([]);
  });

  it("pages through a search, each match once, the next page continuing the same search", async () => {
    const admin = await signUp("admin");
    const tag = unique();
    const matches: string[] = [];
    for (let i = 0; i < 5; i++) matches.push(await register(`p${i}${tag}@example.com`, `p${i}${tag}`));
    for (const cursor of ["page_token", "after"]) {
      const seen: string[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const page: { users: User[]; next_page_token: string | null } = await json(
          await call(`/api/admin/users?limit=2&q=${tag.toUpperCase()}${token ? `&${cursor}=${token}` : ""}`, { token: admin.access, ip: admin.ip }),
        );
        expect(page.users.length).toBeLessThanOrEqual(2);
        seen.push(...page.users.map((u) => u.id));
        token = page.next_page_token;
        pages += 1;
      } while (token && pages < 10);
      expect(seen, cursor).toEqual([...matches].sort());
      expect(pages, cursor).toBe(3);
    }
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

  it("two admins demoting each other at once leave one admin, and the last cannot go", async () => {
    const a = await signUp("admin");
    const b = await signUp("admin");
    // Only these two admins: every other one is demoted first.
    const admins = await json<{ users: User[] }>(await call("/api/admin/users?role=admin&limit=500", { token: a.access }));
    for (const other of admins.users.filter((u) => u.id !== a.id && u.id !== b.id && u.status === "active"))
      expect((await call(`/api/admin/users/${other.id}`, { method: "PATCH", body: { role: "trader" }, token: a.access })).status).toBe(200);
    const [ab, ba] = await Promise.all([
      call(`/api/admin/users/${b.id}`, { method: "PATCH", body: { role: "trader" }, token: a.access }),
      call(`/api/admin/users/${a.id}`, { method: "PATCH", body: { role: "trader" }, token: b.access }),
    ]);
    // Whichever ran second found no other admin (409), or its author had already lost the role (403).
    expect([ab.status, ba.status].filter((s) => s === 200)).toHaveLength(1);
    expect([ab.status, ba.status].filter((s) => s !== 200)[0]).toBeOneOf([403, 409]);
    const left = await json<{ users: User[] }>(await call("/api/admin/users?role=admin&limit=500", { token: ab.status === 200 ? a.access : b.access }));
    expect(left.users.filter((u) => u.status === "active").map((u) => u.id)).toEqual([ab.status === 200 ? a.id : b.id]);
    // The last admin cannot be demoted or disabled by anyone, themselves included.
    const last = ab.status === 200 ? a : b;
    const refused = await expectError(await call(`/api/admin/users/${last.id}`, { method: "PATCH", body: { role: "trader" }, token: last.access }), 409);
    expect(refused.message).toMatch(/admin/);
  });

  it("concurrent enables and disables leave the account's block as the user's status says", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        ["disabled", "active", "disabled", "active", "disabled", "active"].map((status) =>
          call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status }, token: admin.access }),
        ),
      );
      const row = (await json<{ users: User[] }>(await call("/api/admin/users?limit=500", { token: admin.access }))).users.find((u) => u.id === user.id)!;
      const account = await json<{ trading_blocked: boolean }>(await call(`/api/admin/accounts/${user.id}`, { token: admin.access }));
      expect(account.trading_blocked, `round ${round}: user ${row.status}`).toBe(row.status === "disabled");
    }
  });

  it("answers 404 for an unknown user and 422 for a bad id or body", async () => {
    const admin = await signUp("admin");
    await expectError(await call(`/api/admin/users/${crypto.randomUUID()}`, { method: "PATCH", body: { role: "user" }, token: admin.access }), 404);
    await expectError(await call("/api/admin/users/not-a-uuid", { method: "PATCH", body: { role: "user" }, token: admin.access }), 422);
    await expectError(await call(`/api/admin/users/${admin.id}`, { method: "PATCH", body: { role: "root" }, token: admin.access }), 422);
    await expectError(await call("/api/admin/users?limit=0", { token: admin.access }), 422);
  });

  it("a deposit body is strict: the amount a decimal string, required, and no other field (QA)", async () => {
    const admin = await signUp("admin");
    const user = await signUp();
    const deposit = (body: unknown) => call(`/api/admin/accounts/${user.id}/deposits`, { body, token: admin.access, ip: admin.ip });
    const detail = async (body: unknown) => (await expectError(await deposit(body), 422)).details;
    const account = async () => json<{ cash: string; deposits: string }>(await call(`/api/admin/accounts/${user.id}`, { token: admin.access, ip: admin.ip }));
    const before = await account();
    // A JSON number is a double once parsed: refused, saying how to send it.
    expect(await detail({ amount: 10.5 })).toEqual([{ path: "amount", message: 'amount must be sent as a decimal string, e.g. "1000.00": a JSON number can lose precision' }]);
    expect(await detail({})).toEqual([{ path: "amount", message: "amount is required" }]);
    expect(await detail({ amount: null })).toEqual([{ path: "amount", message: 'amount must be a decimal string, e.g. "1000.00"' }]);
    expect(await detail({ amount: true })).toEqual([{ path: "amount", message: 'amount must be a decimal string, e.g. "1000.00"' }]);
    // An unknown field is refused by name, not ignored (as the other admin bodies).
    const extra = await detail({ amount: "10.00", currency: "EUR" });
    expect(extra).toHaveLength(1);
    expect(extra[0]!.message).toContain('"currency"');
    // None of them moved the cash; a decimal string does.
    expect(await account()).toMatchObject({ cash: before.cash, deposits: before.deposits });
    const res = await deposit({ amount: "1000.00" });
    expect(res.status).toBe(200);
    expect((await account()).cash).not.toBe(before.cash);
  });

  it("admin query and path parameters are refused naming the parameter and what it takes (QA: zod's own messages)", async () => {
    const admin = await signUp("admin");
    const cases: [string, string][] = [
      ["/api/admin/users?role=root", "Invalid format for parameter role: must be one of guest, user, trader, admin"],
      ["/api/admin/users?status=gone", "Invalid format for parameter status: must be active or disabled"],
      ["/api/admin/users?limit=abc", "Invalid format for parameter limit: must be a whole number"],
      ["/api/admin/users?q=", "Invalid format for parameter q: must not be empty"],
      ["/api/admin/users?q=%20%20", "Invalid format for parameter q: must not be empty"],
      [`/api/admin/users?q=${"a".repeat(101)}`, "Invalid format for parameter q: must be at most 100 characters"],
      ["/api/admin/users?q=a&q=b", "Invalid format for parameter q: is given more than once; give it once"],
      ["/api/admin/accounts/not-a-uuid", "Invalid format for parameter user_id: must be a user id (UUID)"],
      ["/api/admin/config/history?before=abc", "Invalid format for parameter before: must be a whole number"],
    ];
    for (const [path, message] of cases) expect((await expectError(await call(path, { token: admin.access, ip: admin.ip }), 422)).message, path).toBe(message);
    // The longest search is taken (trimmed: the blanks around it do not count); D1 refused it
    // as a LIKE pattern (over 50 bytes), a 500.
    expect((await call(`/api/admin/users?q=${"a".repeat(100)}%20`, { token: admin.access, ip: admin.ip })).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/api/admin/accounts/nope/deposits", { amount: "1" }],
      ["PATCH", "/api/admin/accounts/nope/limits", {}],
    ] as const)
      expect((await expectError(await call(path, { method, body, token: admin.access, ip: admin.ip }), 422)).message, path).toBe("Invalid format for parameter user_id: must be a user id (UUID)");
  });

  it("an account's limits are held to the configured limits' rules: above 0, decimal strings, with the bound a long one breaks (QA)", async () => {
    const [admin, user] = await Promise.all([signUp("admin"), signUp()]);
    const limits = (body: unknown) => call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body, token: admin.access, ip: admin.ip });
    const cases: [unknown, string][] = [
      [{ maxOrderQty: "0" }, "must be greater than 0: 0 would refuse every buy"],
      [{ maxOrderQty: 5 }, 'must be a decimal string like "100000"'],
      [{ maxOrderNotional: "1.123456789" }, "at most 8 decimal places (9 given)"],
    ];
    for (const [body, message] of cases) {
      const refused = await expectError(await limits(body), 422);
      expect(refused.details.map((d) => d.message).join(" "), JSON.stringify(body)).toContain(message);
    }
    expect((await limits({ maxOrderQty: "5" })).status).toBe(200);
  });
});
