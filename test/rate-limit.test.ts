import { createExecutionContext, env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../workers/app";
import { clientAddress } from "../workers/middleware/request-context";
import { call, expectError, freshIp, ORIGIN, signUp } from "./helpers";

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

  it("signed-in callers are counted per user across addresses, 200 a minute by default", async () => {
    // Windows are aligned to the minute, and a run that crossed into the next one would
    // see its earlier requests weighted down (the sliding-window estimate): start early
    // enough in a window for the 201 requests to land in it.
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 40_000) await new Promise((r) => setTimeout(r, 60_000 - intoWindow + 50));
    const user = await signUp();
    let last: Response | undefined;
    for (let i = 0; i < 200; i++) {
      last = await call("/api/users/me", { token: user.access, ip: freshIp() });
      expect(last.status).toBe(200);
    }
    expect(headerNumbers(last!)).toMatchObject({ limit: 200, remaining: 0 });
    await expectError(await call("/api/users/me", { token: user.access, ip: freshIp() }), 429);
    // Another user is unaffected.
    const other = await signUp();
    expect((await call("/api/users/me", { token: other.access })).status).toBe(200);
  }, 90_000);

  it("concurrent requests never admit more than the limit", async () => {
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 25 }, () => call("/api/auth/refresh", { body: { refresh_token: "nope" }, ip })));
    expect(results.filter((r) => r.status === 401)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
  });

  it("every limited response carries the headers, errors included", async () => {
    const res = await call("/api/users/me");
    await expectError(res, 401);
    expect(res.headers.get("x-ratelimit-limit")).toBe("200");
    const notFound = await call("/api/nope");
    await expectError(notFound, 404);
    expect(notFound.headers.get("x-ratelimit-remaining")).not.toBeNull();
    // Refused for its body (415, 413, malformed JSON): counted and answered with the headers too.
    const ip = `203.0.113.${Math.floor(Math.random() * 200) + 1}`;
    const remaining: number[] = [];
    for (const refused of [
      () => call("/api/auth/login", { rawBody: "email=a&password=b", headers: { "content-type": "text/plain" }, ip }),
      () => call("/api/auth/login", { rawBody: "{not json", headers: { "content-type": "application/json" }, ip }),
      () => call("/api/auth/login", { rawBody: "x".repeat(2_000_000), headers: { "content-type": "application/json" }, ip }),
    ]) {
      const res = await refused();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.get("x-ratelimit-limit")).toBe("10");
      remaining.push(Number(res.headers.get("x-ratelimit-remaining")));
    }
    expect(remaining).toEqual([9, 8, 7]);
  });
});

describe("the client address", () => {
  it("is CF-Connecting-IP; without it only development pools requests as local, every other environment has none", () => {
    expect(clientAddress("203.0.113.7", "production")).toBe("203.0.113.7");
    expect(clientAddress("203.0.113.7", "development")).toBe("203.0.113.7");
    expect(clientAddress(undefined, "development")).toBe("local");
    for (const environment of ["production", "staging", "", "Development"]) {
      expect(clientAddress(undefined, environment), environment).toBeUndefined();
      expect(clientAddress("", environment), environment).toBeUndefined();
    }
  });

  // The tests run as development; the same app under another environment's vars.
  const asEnvironment = (environment: string, path: string, headers: Record<string, string> = {}) =>
    createApp().request(`${ORIGIN}${path}`, { headers }, { ...env, ENVIRONMENT: environment }, createExecutionContext());

  it("outside development, a request without one is refused with 400 before any route or limiter sees it", async () => {
    for (const environment of ["production", "staging"]) {
      for (const path of ["/v2/clock", "/api/users/me", "/.well-known/jwks.json"]) {
        const res = await asEnvironment(environment, path);
        const error = await expectError(res, 400);
        expect(error.message, `${environment} ${path}`).toMatch(/^missing client address/);
        expect(res.headers.get("x-ratelimit-limit")).toBeNull();
        expect(res.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      }
      // With the header, the same environment answers as usual, counted per address.
      const res = await asEnvironment(environment, "/.well-known/jwks.json", { "cf-connecting-ip": freshIp() });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-remaining")).toBe("199");
    }
  });

  it("in development, requests without one share the local bucket as before", async () => {
    const res = await exports.default.fetch(new Request(`${ORIGIN}/.well-known/jwks.json`));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-limit")).toBe("200");
  });
});
