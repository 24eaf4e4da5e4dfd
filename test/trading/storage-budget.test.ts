import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { signUp, type TestUser } from "../helpers";
import { placed, quotedMarket, until, type Market } from "./helpers";

// What one order costs each object in storage, counted through the objects' real storage:
// the test wraps the storage methods of the live instances (SQL, synchronous KV, alarms)
// and groups the writes made with no await between them. Such a group is at most one
// storage transaction (writes issued in one synchronous run are committed together), so
// a new write on the order path, or a write moved behind an await, fails here.
// docs/order-path.md gives the figures, before and after.

type Op = "sql" | "kv.put" | "kv.delete" | "setAlarm" | "deleteAlarm";

interface Meter {
  /** Writes, grouped by the synchronous run that made them. */
  groups: Op[][];
  getAlarm: number;
  /** Counting only while true (the symbol object also stores its feed). */
  on: () => boolean;
  restore: () => void;
}

const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b/i;

/** Wraps the storage methods of the object behind `stub`; the meter sees every call from now on. */
async function meter(stub: DurableObjectStub, scope?: (instance: Record<string, unknown>, m: Meter) => void): Promise<Meter> {
  const m: Meter = { groups: [], getAlarm: 0, on: () => true, restore: () => undefined };
  let open: Op[] | null = null;
  const write = (op: Op) => {
    if (!m.on()) return;
    if (!open) {
      const group: Op[] = [];
      open = group;
      m.groups.push(group);
      // The group ends at the first await: later writes belong to another run.
      queueMicrotask(() => {
        if (open === group) open = null;
      });
    }
    open.push(op);
  };
  await runInDurableObject(stub, (instance, state) => {
    const storage = state.storage as unknown as Record<string, unknown> & DurableObjectStorage;
    const sql = storage.sql as unknown as Record<string, unknown> & SqlStorage;
    const exec = sql.exec.bind(sql);
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      if (WRITE.test(query)) write("sql");
      return exec(query, ...bindings);
    }) as SqlStorage["exec"];
    const kv = storage.kv as unknown as Record<string, unknown> & DurableObjectStorage["kv"];
    const put = kv.put.bind(kv);
    const del = kv.delete.bind(kv);
    kv.put = ((key: string, value: unknown) => (write("kv.put"), put(key, value))) as typeof kv.put;
    kv.delete = ((key: string) => (write("kv.delete"), del(key))) as typeof kv.delete;
    const getAlarm = storage.getAlarm.bind(storage);
    const setAlarm = storage.setAlarm.bind(storage);
    const deleteAlarm = storage.deleteAlarm.bind(storage);
    storage.getAlarm = ((options?: DurableObjectGetAlarmOptions) => {
      if (m.on()) m.getAlarm += 1;
      return getAlarm(options);
    }) as typeof storage.getAlarm;
    storage.setAlarm = ((at: number | Date, options?: DurableObjectSetAlarmOptions) => (write("setAlarm"), setAlarm(at, options))) as typeof storage.setAlarm;
    storage.deleteAlarm = ((options?: DurableObjectSetAlarmOptions) => (write("deleteAlarm"), deleteAlarm(options))) as typeof storage.deleteAlarm;
    scope?.(instance as unknown as Record<string, unknown>, m);
  });
  return m;
}

/**
 * Counts on the symbol object only while a venue call from an account runs on it. RPC
 * reaches methods through the class's prototype, so the wrapper goes there (and is taken
 * off by `restore`).
 */
function venueCallsOnly(instance: Record<string, unknown>, m: Meter): void {
  let active = 0;
  m.on = () => active > 0;
  const proto = Object.getPrototypeOf(instance) as Record<string, unknown>;
  const originals = new Map<string, unknown>();
  for (const name of ["venueSubmit", "venueCancel"]) {
    const method = proto[name] as (this: unknown, ...args: unknown[]) => Promise<unknown>;
    originals.set(name, method);
    proto[name] = async function (this: unknown, ...args: unknown[]) {
      const mine = this === instance;
      if (mine) active += 1;
      try {
        return await method.apply(this, args);
      } finally {
        if (mine) active -= 1;
      }
    };
  }
  m.restore = () => {
    for (const [name, method] of originals) proto[name] = method;
  };
}

/** Transactions (groups of writes), writes, and alarm reads. */
function summary(m: Meter) {
  return { transactions: m.groups.length, writes: m.groups.flat().length, getAlarm: m.getAlarm };
}

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

/**
 * A trader who has already traded `market` (the account exists, its first order is settled
 * and its retry alarm has run), with meters on both objects; `order` then places one order.
 */
async function metered(market: Market) {
  const user = await signUp();
  await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
  const account = () => env.ACCOUNT.getByName(user.id);
  await until(async () => (await account().audit()).outbox === 0, "the first order's events to reach the queue");
  await runDurableObjectAlarm(account());
  const accountMeter = await meter(account());
  const symbolMeter = await meter(env.MARKET.getByName(market.symbol), venueCallsOnly);
  return {
    async order(body: Record<string, unknown>) {
      const o = await placed(user, { symbol: market.symbol, ...body });
      // Events go to the queue after the answer; the order's storage work ends with them.
      await until(async () => (await account().audit()).outbox === 0, "the order's events to reach the queue");
      symbolMeter.restore();
      return { order: o, account: summary(accountMeter), symbol: summary(symbolMeter) };
    },
  };
}

describe("storage work per order", () => {
  it("a market order that fills at once costs the account two transactions and its symbol one", async () => {
    const market = await quotedMarket(admin);
    const { order, account, symbol } = await (await metered(market)).order({ qty: "2", side: "buy", type: "market", time_in_force: "day" });
    expect(order.status).toBe("filled");
    // The account: the order with its reservation, event and retry alarm; then the venue's
    // answer (order, fill activity, two events). No alarm read, no outbox delete of its own.
    expect(account).toEqual({ transactions: 2, writes: 9, getAlarm: 0 });
    // The symbol: the acknowledgement, the order, the fill (outbox and fill log) and the
    // venue state, in one transaction after one alarm read.
    expect(symbol).toEqual({ transactions: 1, writes: 5, getAlarm: 1 });
  });

  it("an order's safety alarm comes seconds later, not every second, and a second order does not move it", async () => {
    const market = await quotedMarket(admin);
    const user = await signUp();
    const account = env.ACCOUNT.getByName(user.id);
    const alarm = () => runInDurableObject(account, (_object, state) => state.storage.getAlarm());
    const before = Date.now();
    await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    const first = await alarm();
    // Stored with the order; due well after the second a failure's resend waits.
    expect(first).not.toBeNull();
    expect(first! - before).toBeGreaterThan(3_000);
    await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
    expect(await alarm()).toBe(first);
  });

  it("a resting limit order costs the account two transactions and its symbol one", async () => {
    const market = await quotedMarket(admin);
    const { order, account, symbol } = await (await metered(market)).order({ qty: "2", side: "buy", type: "limit", limit_price: "99.00", time_in_force: "gtc" });
    expect(order.status).toBe("new");
    expect(account).toEqual({ transactions: 2, writes: 7, getAlarm: 0 });
    expect(symbol).toEqual({ transactions: 1, writes: 3, getAlarm: 1 });
  });
});
