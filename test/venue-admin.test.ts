import { beforeAll, describe, expect, it } from "vitest";
import { call, expectError, json, signUp, type TestUser } from "./helpers";
import { orderReaching, placed, steeredMarket } from "./trading/helpers";

interface VenueFillJson {
  seq: number;
  execution_id: string;
  order_id: string;
  account: string;
  price: string;
  qty: string;
  fee: string;
  liquidity: string;
}

interface VenueFillPageJson {
  symbol: string;
  account: string;
  fills: VenueFillJson[];
  next_after: number | null;
}

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

const fillsPath = (symbol: string, account: string, after?: number) =>
  `/api/admin/venues/${encodeURIComponent(symbol)}/fills?account=${account}${after === undefined ? "" : `&after=${after}`}`;

describe("GET /api/admin/venues/{symbol}/fills", () => {
  it("answers the venue's own fills for an account, priced and sized on the instrument's grid like its FILL activities", async () => {
    const user = await signUp();
    const market = await steeredMarket(admin, { class: "crypto" });
    await market.quote("100.00", "100.05");
    await market.trade("100.02");
    const order = await placed(user, { symbol: market.symbol, qty: "0.5", side: "buy", type: "market", time_in_force: "gtc" });
    await orderReaching(user, order.id, "filled");

    const page = await json<VenueFillPageJson>(await call(fillsPath(market.symbol, user.id), { token: admin.access, ip: admin.ip }));
    expect(page).toMatchObject({ symbol: market.symbol, account: user.id, next_after: null });
    expect(page.fills.length).toBeGreaterThan(0);
    expect(page.fills.every((f) => f.order_id === order.id && f.account === user.id && f.liquidity === "taker")).toBe(true);
    const activities = await json<{ execution_id: string; price: string; qty: string; fee: string }[]>(
      await call("/v2/account/activities/FILL?direction=asc", { token: user.access, ip: user.ip }),
    );
    const view = (f: { execution_id: string; price: string; qty: string; fee: string }) => [f.execution_id, f.price, f.qty, f.fee];
    expect(page.fills.map(view)).toEqual(activities.map(view));
    expect(page.fills.map((f) => f.price)).toEqual(page.fills.map(() => "100.05"));

    // `after` is exclusive: past the last fill there is nothing more.
    const rest = await json<VenueFillPageJson>(await call(fillsPath(market.symbol, user.id, page.fills.at(-1)!.seq), { token: admin.access, ip: admin.ip }));
    expect(rest.fills).toEqual([]);
  });

  it("answers an account with no fills an empty page", async () => {
    const [market, user] = await Promise.all([steeredMarket(admin), signUp()]);
    const page = await json<VenueFillPageJson>(await call(fillsPath(market.symbol, user.id), { token: admin.access, ip: admin.ip }));
    expect(page.fills).toEqual([]);
  });

  it("answers 404 naming an account no user has, not an empty page (QA)", async () => {
    const account = crypto.randomUUID();
    const refused = await expectError(await call(fillsPath("AAPL", account), { token: admin.access, ip: admin.ip }), 404);
    expect(refused.message).toBe(`user ${account} not found`);
  });

  it("is for admins only: a trader gets 403, no credentials 401", async () => {
    const user = await signUp();
    const path = fillsPath("AAPL", user.id);
    await expectError(await call(path, { token: user.access, ip: user.ip }), 403);
    await expectError(await call(path, { ip: user.ip }), 401);
  });

  it("refuses an unknown symbol with 404 and a malformed symbol or account with 422", async () => {
    const account = (await signUp()).id;
    await expectError(await call(fillsPath("NOSUCHSYM", account), { token: admin.access, ip: admin.ip }), 404);
    await expectError(await call(fillsPath("NO SUCH!", account), { token: admin.access, ip: admin.ip }), 422);
    await expectError(await call(fillsPath("AAPL", "not-a-user-id"), { token: admin.access, ip: admin.ip }), 422);
    await expectError(await call(`/api/admin/venues/AAPL/fills`, { token: admin.access, ip: admin.ip }), 422);
    await expectError(await call(fillsPath("AAPL", account, -1), { token: admin.access, ip: admin.ip }), 422);
  });

  it("names the parameter and what it takes in each refusal (QA: zod's own messages, and after= read as 0)", async () => {
    const account = (await signUp()).id;
    const cases: [string, string][] = [
      ["/api/admin/venues/AAPL/fills", "Invalid format for parameter account: is required: the account's user id (UUID)"],
      ["/api/admin/venues/AAPL/fills?account=nope", "Invalid format for parameter account: must be a user id (UUID)"],
      [`${fillsPath("AAPL", account)}&after=abc`, "Invalid format for parameter after: must be a whole number"],
      [`${fillsPath("AAPL", account)}&after=1.5`, "Invalid format for parameter after: must be a whole number"],
      [`${fillsPath("AAPL", account)}&after=1e3`, "Invalid format for parameter after: must be a whole number"],
      [`${fillsPath("AAPL", account)}&after=`, "Invalid format for parameter after: must be a whole number"],
      [fillsPath("AAPL", account, -1), "Invalid format for parameter after: must be at least 0"],
      [`${fillsPath("AAPL", account)}&after=99999999999999999999`, `Invalid format for parameter after: must be at most ${Number.MAX_SAFE_INTEGER}`],
      [fillsPath("A".repeat(65), account), "Invalid format for parameter symbol: must be at most 64 characters"],
    ];
    for (const [path, message] of cases) expect((await expectError(await call(path, { token: admin.access, ip: admin.ip }), 422)).message, path).toBe(message);
  });

  it("is in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, Record<string, unknown>> }>(await call("/openapi.json"));
    expect(Object.keys(doc.paths["/api/admin/venues/{symbol}/fills"] ?? {})).toEqual(["get"]);
  });
});
