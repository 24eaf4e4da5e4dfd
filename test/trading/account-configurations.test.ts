import { beforeAll, describe, expect, it } from "vitest";
import { FIXED_CONFIGURATION } from "../../shared/trading/configuration";
import { call, createKey, expectError, json, signUp, type TestUser } from "../helpers";
import { placed, placeOrder, traderAndMarket } from "./helpers";

// `/v2/account/configurations` through the API: Alpaca's shape, suspend_trade as the
// trader's switch (every new order refused with 403, cancels still go, the account shows
// it), the fixed fields refused when changed, and the permissions.

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

const patch = (user: TestUser, body: unknown) => call("/v2/account/configurations", { method: "PATCH", body, token: user.access, ip: user.ip });
const read = async (user: TestUser) => json<Record<string, unknown>>(await call("/v2/account/configurations", { token: user.access, ip: user.ip }));

describe("account configurations", () => {
  it("suspend_trade refuses new orders with 403 until it is set back, and cancels still go", async () => {
    const { user, market } = await traderAndMarket(admin);
    expect(await read(user)).toEqual({ ...FIXED_CONFIGURATION, suspend_trade: false });
    const resting = await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "limit", limit_price: "90.00", time_in_force: "gtc" });

    const suspended = await patch(user, { suspend_trade: true });
    expect(await json(suspended)).toEqual({ ...FIXED_CONFIGURATION, suspend_trade: true });
    expect(await read(user)).toMatchObject({ suspend_trade: true });
    expect((await json<{ trade_suspended_by_user: boolean; status: string }>(await call("/v2/account", { token: user.access, ip: user.ip }))).trade_suspended_by_user).toBe(true);

    const refused = await expectError(await placeOrder(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" }), 403);
    expect(refused.message).toContain("suspend_trade");
    expect(refused.details[0]?.rule).toBe("trading_blocked");
    expect((await call(`/v2/orders/${resting.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);

    expect(await json(await patch(user, { suspend_trade: false }))).toMatchObject({ suspend_trade: false });
    expect((await placeOrder(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" })).status).toBe(200);
  });

  it("takes back what it answered, refuses another value of a fixed field or an unknown field, and needs trading:write to change", async () => {
    const user = await signUp();
    const current = await read(user);
    // An SDK sends back the whole object it read: accepted.
    expect(await json(await patch(user, current))).toEqual(current);
    const fixed = await expectError(await patch(user, { no_shorting: false, suspend_trade: true }), 422);
    expect(fixed.message).toBe("no_shorting cannot change on a RedFire paper account");
    expect(fixed.details).toEqual([{ path: "no_shorting", message: "is true: a cash account cannot sell short", rule: "configuration" }]);
    await expectError(await patch(user, { max_margin_multiplier: "3" }), 422);
    await expectError(await patch(user, { suspend: true }), 422);
    await expectError(await patch(user, { suspend_trade: "yes" }), 422);
    // Nothing changed.
    expect(await read(user)).toEqual(current);

    const [readKey, tradeKey] = await Promise.all([createKey(user, ["read"]), createKey(user, ["trade"])]);
    expect((await call("/v2/account/configurations", { apiKey: readKey })).status).toBe(200);
    await expectError(await call("/v2/account/configurations", { method: "PATCH", body: { suspend_trade: true }, apiKey: readKey }), 403);
    expect((await json<{ suspend_trade: boolean }>(await call("/v2/account/configurations", { method: "PATCH", body: { suspend_trade: true }, apiKey: tradeKey }))).suspend_trade).toBe(true);
    await expectError(await call("/v2/account/configurations"), 401);
  });
});
