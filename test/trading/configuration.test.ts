import { describe, expect, it } from "vitest";
import { FIXED_CONFIGURATION } from "../../shared/trading/configuration";
import { harness } from "./engine-harness";

// The account's configuration on the engine: suspend_trade refuses new orders of every
// kind (placed, replaced, a position closed) and lets cancels through, survives a restart,
// and the fields a cash paper account fixes cannot change.

describe("account configuration", () => {
  it("suspend_trade refuses new orders, keeps open ones cancelable, and is kept across a restart", async () => {
    const h = harness();
    await h.quote("99.00", "100.00");
    await h.trade("99.50");
    expect((await h.place({ side: "buy", qty: "10" })).ok).toBe(true);
    const resting = await h.place({ side: "buy", qty: "5", type: "limit", limit_price: "90.00" });
    if (!resting.ok) throw new Error(resting.refusal.message);

    const suspended = await h.runner.configure({ suspend_trade: true });
    expect(suspended).toEqual({ ok: true, value: { ...FIXED_CONFIGURATION, suspend_trade: true } });
    h.restart();
    expect(h.engine.configuration().suspend_trade).toBe(true);
    expect(h.engine.accountView({}).trade_suspended_by_user).toBe(true);

    const refusals = [
      await h.place({ side: "buy", qty: "1" }),
      await h.place({ side: "sell", qty: "1", type: "limit", limit_price: "120.00" }),
      await h.runner.replace(resting.value.id, { limit_price: "91.00" }, h.asset(), null),
      await h.runner.closePosition("AAA", h.asset(), null, null, null),
    ];
    for (const r of refusals) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.refusal).toMatchObject({ rule: "trading_blocked", message: expect.stringContaining("suspend_trade") });
    }
    expect((await h.runner.cancel(resting.value.id)).ok).toBe(true);
    await h.deliver();
    expect(h.engine.order(resting.value.id)?.status).toBe("canceled");

    expect((await h.runner.configure({ suspend_trade: false })).ok).toBe(true);
    expect(h.engine.accountView({}).trade_suspended_by_user).toBe(false);
    expect((await h.place({ side: "buy", qty: "1" })).ok).toBe(true);
    h.reconcile();
  });

  it("takes the fixed fields with the account's own values and refuses another value, naming each, changing nothing", async () => {
    const h = harness();
    // What an SDK sends back after reading: accepted, suspend_trade applied.
    expect((await h.runner.configure({ ...FIXED_CONFIGURATION, suspend_trade: true })).ok).toBe(true);
    const refused = await h.runner.configure({ ...FIXED_CONFIGURATION, suspend_trade: false, no_shorting: false, max_margin_multiplier: "4", trade_confirm_email: "all" });
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.refusal.rule).toBe("configuration");
    expect(refused.refusal.message).toBe("trade_confirm_email, no_shorting, max_margin_multiplier cannot change on a RedFire paper account");
    expect(refused.refusal.details.map((d) => d.path)).toEqual(["trade_confirm_email", "no_shorting", "max_margin_multiplier"]);
    expect(refused.refusal.details[1]!.message).toBe("is true: a cash account cannot sell short");
    // The refusal changed nothing: suspend_trade is still on.
    expect(h.engine.configuration().suspend_trade).toBe(true);
  });
});
