import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { restartObject as restart } from "../helpers";

// The Account object's own wiring, beyond what the engine tests cover: what it finds in
// storage when it wakes.


describe("the Account object", () => {
  it("opens an account stored before the engine (ledger and meta keys) with its cash, limits and cursors", async () => {
    const name = `legacy-${crypto.randomUUID()}`;
    const stub = env.ACCOUNT.getByName(name);
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.kv.delete("account");
      const ledger = { cash: "1234500000000000000000n", reservedCash: "0n", deposits: "1234500000000000000000n", fees: "0n", buys: "0n", sells: "0n", positions: {}, reservations: {} };
      const meta = { accountId: "3f1c2e4a-0000-4000-8000-000000000001", createdAt: Date.UTC(2026, 0, 2), limits: { ordersPerMinute: 7 }, day: { date: "2026-01-02", loss: "0", startEquity: null }, cursors: { AAA: 41 }, eventSeq: 9 };
      state.storage.kv.put("ledger", JSON.stringify(ledger));
      state.storage.kv.put("meta", JSON.stringify(meta));
    });
    await restart(stub);
    const fresh = env.ACCOUNT.getByName(name);
    const account = await fresh.account();
    expect(account.cash).toBe("1234.50");
    expect(account.id).toBe("3f1c2e4a-0000-4000-8000-000000000001");
    const audit = await fresh.audit();
    expect(audit.cursors).toEqual({ AAA: 41 });
    expect((await fresh.setLimits({})).ordersPerMinute).toBe(7);
  });
});
