import { describe, expect, it } from "vitest";
import { FrameTurns } from "../../shared/stream/frame-turns";

/** A take whose answers the test releases by hand, recording when each frame starts and ends. */
function manualTakes() {
  const log: string[] = [];
  const pending = new Map<string, () => void>();
  const take = (frame: string) =>
    new Promise<void>((resolve) => {
      log.push(`start ${frame}`);
      pending.set(frame, () => {
        log.push(`end ${frame}`);
        resolve();
      });
    });
  const finish = async (frame: string) => {
    const release = pending.get(frame);
    if (!release) throw new Error(`${frame} is not being taken`);
    pending.delete(frame);
    release();
    // Let the run start the next frame.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { log, take, finish, pending };
}

describe("a socket's frame turns", () => {
  it("take one frame at a time in arrival order, however long the first takes", async () => {
    const m = manualTakes();
    const turns = new FrameTurns(m.take, () => undefined);
    const run = turns.push("subscribe book");
    expect(turns.push("subscribe trades")).toBeUndefined();
    expect(turns.push("unsubscribe book")).toBeUndefined();
    await Promise.resolve();
    // The second is not read while the first (an order book read) is out.
    expect(m.log).toEqual(["start subscribe book"]);
    expect(turns.waiting).toBe(2);
    await m.finish("subscribe book");
    await m.finish("subscribe trades");
    await m.finish("unsubscribe book");
    await run;
    expect(m.log).toEqual(["start subscribe book", "end subscribe book", "start subscribe trades", "end subscribe trades", "start unsubscribe book", "end unsubscribe book"]);
    expect(turns.idle).toBe(true);
  });

  it("a frame whose answer fails is reported and the next is taken", async () => {
    const failures: unknown[] = [];
    const taken: string[] = [];
    const turns = new FrameTurns(async (frame: string) => {
      if (frame === "bad") throw new Error("no");
      taken.push(frame);
    }, (error) => failures.push(error));
    const run = turns.push("bad");
    turns.push("good");
    await run;
    expect(taken).toEqual(["good"]);
    expect(failures).toHaveLength(1);
    expect(turns.idle).toBe(true);
  });

  it("frames set aside wait out of line, and come back in their order: to the caller, or first in line", async () => {
    const m = manualTakes();
    const turns = new FrameTurns(m.take, () => undefined);
    // A subscribe before any auth is set aside while it is taken (the hub's early frames).
    const run = turns.push("subscribe 1");
    turns.push("subscribe 2");
    await Promise.resolve();
    turns.setAside("subscribe 1");
    await m.finish("subscribe 1");
    turns.setAside("subscribe 2");
    await m.finish("subscribe 2");
    await run;
    expect(turns.idle).toBe(false);
    expect(turns.waiting).toBe(2);
    // The auth: its taker answers them itself, in order.
    expect(turns.takeAside()).toEqual(["subscribe 1", "subscribe 2"]);
    expect(turns.idle).toBe(true);

    // No auth came: they go first in line, before a frame already waiting.
    turns.setAside("a");
    turns.setAside("b");
    const busy = turns.push("c");
    turns.setAside("c");
    await m.finish("c");
    await busy;
    m.log.length = 0;
    const again = turns.requeueAside();
    await m.finish("a");
    await m.finish("b");
    await m.finish("c");
    await again;
    expect(m.log.filter((l) => l.startsWith("start"))).toEqual(["start a", "start b", "start c"]);
    expect(turns.idle).toBe(true);
  });
});
