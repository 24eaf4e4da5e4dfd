import { describe, expect, it } from "vitest";
import { call, expectError, freshIp, signUp } from "./helpers";

const headerNumbers = (res: Response) => ({
  limit: Number(res.headers.get("x-ratelimit-limit")),
  remaining: Number(res.headers.get("x-ratelimit-remaining")),
  reset: Number(res.headers.get("x-ratelimit-reset")),
});

describe("rate limits", () => {
  it("auth routes admit 10 requests a minute per client, then 429 with Retry-After and the headers", async () => {
    const ip = freshIp();
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await call("/api/auth/refresh", { body: { refresh_token: "nope" }, ip });
      await expectError(res, 401);
      seen.push(headerNumbers(res).remaining);
      expect(headerNumbers(res).limit).toBe(10);
    }
    expect(seen).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const limited = await call("/api/auth/refresh", { body: { refresh_token: "nope" }, ip });
    const error = await expectError(limited, 429);
    expect(error.code).toBe(42910000);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(120);
    expect(headerNumbers(limited)).toMatchObject({ limit: 10, remaining: 0 });
    expect(headerNumbers(limited).reset).toBeGreaterThan(Date.now() / 1000);
    // A different client is unaffected; other route classes of the same client too.
    expect((await call("/api/auth/refresh", { body: { refresh_token: "nope" } })).status).toBe(401);
    expect((await call("/.well-known/jwks.json", { ip })).status).toBe(200);
  });

  it("signed-in callers are counted per user across addresses, 100 a minute by default", async () => {
    const user = await signUp();
    let last: Response | undefined;
    for (let i = 0; i < 100; i++) {
      last = await call("/api/users/me", { token: user.access, ip: freshIp() });
      expect(last.status).toBe(200);
    }
    expect(headerNumbers(last!)).toMatchObject({ limit: 100, remaining: 0 });
    await expectError(await call("/api/users/me", { token: user.access, ip: freshIp() }), 429);
    // Another user is unaffected.
    const other = await signUp();
    expect((await call("/api/users/me", { token: other.access })).status).toBe(200);
  });

  it("concurrent requests never admit more than the limit", async () => {
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 25 }, () => call("/api/auth/refresh", { body: { refresh_token: "nope" }, ip })));
    expect(results.filter((r) => r.status === 401)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
  });

  it("every limited response carries the headers, errors included", async () => {
    const res = await call("/api/users/me");
    await expectError(res, 401);
    expect(res.headers.get("x-ratelimit-limit")).toBe("100");
    const notFound = await call("/api/nope");
    await expectError(notFound, 404);
    expect(notFound.headers.get("x-ratelimit-remaining")).not.toBeNull();
  });
});
