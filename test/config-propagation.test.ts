import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, restartObject, signUp, until, type TestUser } from "./helpers";
import { placed, placeOrder, quotedMarket, type Market } from "./trading/helpers";

// A change reaches the running account objects it concerns before the write answers
// (docs/config.md): the next order or request obeys it, with no restart and no read of
// its own. Account-scoped values only: other test files share the ConfigStore.

let admin: TestUser;
let market: Market;

const restingBuy = (qty: string) => ({ symbol: market.symbol, qty, side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });

async function configure(key: string, scope: string, value: Record<string, unknown>): Promise<number> {
  const read = await call("/api/admin/config", { token: admin.access, ip: admin.ip });
  const res = await call(`/api/admin/config/${key}`, { method: "PUT", body: { scope, value, reason: "test" }, token: admin.access, ip: admin.ip, headers: { "if-match": read.headers.get("etag")! } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json<{ version: number }>()).version;
}

/** The version of the configuration an account object holds (its stored copy). */
const heldVersion = (owner: string) => runInDurableObject(env.ACCOUNT.getByName(owner), (_o, state) => state.storage.kv.get<{ version: number }>("config")?.version ?? 0);

beforeAll(async () => {
  admin = await signUp("admin");
  market = await quotedMarket(admin);
});

describe("config propagation", () => {
  it("a lowered risk limit refuses the running account's next order with the new limit", async () => {
    const user = await signUp();
    await placed(user, restingBuy("3"));
    const started = performance.now();
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "2" });
    const refused = await expectError(await placeOrder(user, restingBuy("3")), 422);
    const elapsed = performance.now() - started;
    expect(refused.details[0]).toMatchObject({ rule: "max_order_qty", path: "qty" });
    expect(refused.details[0]!.message).toContain("maximum order quantity 2");
    // The figure for docs/config.md: from sending the change to the refused order's answer.
    console.info(`config propagation: change -> first order that obeys it: ${elapsed.toFixed(1)} ms`);
    await placed(user, restingBuy("2"));
  });

  it("a per-account limit set by the account API still counts over the configuration", async () => {
    const user = await signUp();
    await placed(user, restingBuy("1"));
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "2" });
    const limits = await call(`/api/admin/accounts/${user.id}/limits`, { method: "PATCH", body: { maxOrderQty: "4" }, token: admin.access, ip: admin.ip });
    expect(limits.status).toBe(200);
    await placed(user, restingBuy("4"));
    await expectError(await placeOrder(user, restingBuy("5")), 422);
  });

  it("an account object restarted after a change wakes with it", async () => {
    const user = await signUp();
    await placed(user, restingBuy("1"));
    await configure("risk_limits", `account:${user.id}`, { maxOrderQty: "1" });
    await restartObject(env.ACCOUNT.getByName(user.id));
    const refused = await expectError(await placeOrder(user, restingBuy("2")), 422);
    expect(refused.details[0]).toMatchObject({ rule: "max_order_qty" });
  });

  it("a lowered rate limit counts from the user's next request, in the same window, with the same headers", async () => {
    const user = await signUp();
    const get = () => call("/v2/account", { token: user.access, ip: user.ip });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit")).toBe("100");
    await configure("rate_limits", `account:${user.id}`, { default: 3 });
    // The window the object already counted in memory goes on: the object was not restarted.
    const second = await get();
    expect(second.status).toBe(200);
    expect([second.headers.get("x-ratelimit-limit"), second.headers.get("x-ratelimit-remaining")]).toEqual(["3", "1"]);
    expect((await get()).status).toBe(200);
    const limited = await expectError(await get(), 429);
    expect(limited.message).toContain("rate limit exceeded for default requests");
    // Other users keep the limit from the vars.
    const other = await signUp();
    expect((await call("/v2/account", { token: other.access, ip: other.ip })).headers.get("x-ratelimit-limit")).toBe("100");
  });

  it("a global change reaches every running account before the write answers", async () => {
    // A version to wake with, so that each account keeps a copy once it has registered.
    await configure("feature_flags", "global", { fan_out_probe: false });
    const owners = Array.from({ length: 200 }, (_, i) => `fan-out-${crypto.randomUUID()}-${i}`);
    await Promise.all(owners.map((owner) => env.ACCOUNT.getByName(owner).positions()));
    // Each woke and registered in the background; a copy in its storage says it was answered.
    await until(async () => (await Promise.all(owners.map(heldVersion))).every((v) => v > 0), "the accounts to register");
    const started = performance.now();
    const version = await configure("feature_flags", "global", { fan_out_probe: true });
    const elapsed = performance.now() - started;
    expect(new Set(await Promise.all(owners.map(heldVersion)))).toEqual(new Set([version]));
    console.info(`config propagation: a global change pushed to ${owners.length}+ running accounts, answered in ${elapsed.toFixed(1)} ms`);
  });
});
