import { describe, expect, it } from "vitest";
import { closeQuietly, isWebSocketUpgrade, parseFrame, sendableCloseCode, SocketAttachments, upgradeRequired } from "../../platform/socket";

// A stand-in for the runtime's socket: records what the helpers do to it.
class FakeSocket {
  stored: unknown = null;
  reads = 0;
  closedWith: [number, string] | undefined;
  throwOnClose = false;
  serializeAttachment(value: unknown) {
    this.stored = structuredClone(value);
  }
  deserializeAttachment() {
    this.reads++;
    return structuredClone(this.stored);
  }
  close(code: number, reason: string) {
    if (this.throwOnClose) throw new TypeError("WebSocket already closed");
    this.closedWith = [code, reason];
  }
}
const socket = (fake: FakeSocket) => fake as unknown as WebSocket;

describe("socket attachments", () => {
  it("parse a socket's attachment once, and write through on set", () => {
    const fake = new FakeSocket();
    fake.stored = { id: "s1", n: 1 };
    const attachments = new SocketAttachments<{ id: string; n: number }>();
    expect(attachments.get(socket(fake))).toEqual({ id: "s1", n: 1 });
    attachments.get(socket(fake));
    expect(fake.reads).toBe(1);
    attachments.set(socket(fake), { id: "s1", n: 2 });
    expect(fake.stored).toEqual({ id: "s1", n: 2 });
    expect(attachments.get(socket(fake))).toEqual({ id: "s1", n: 2 });
    expect(fake.reads).toBe(1);
    // A new instance (after hibernation) reads what was written.
    expect(new SocketAttachments<{ n: number }>().get(socket(fake))?.n).toBe(2);
  });

  it("a socket without an attachment has none", () => {
    expect(new SocketAttachments().get(socket(new FakeSocket()))).toBeUndefined();
  });
});

describe("frames", () => {
  it("parse JSON text and JSON or custom binary", () => {
    expect(parseFrame('{"a":1}', { maxBytes: 100 })).toEqual({ ok: true, value: { a: 1 } });
    expect(parseFrame(new TextEncoder().encode("[1,2]").buffer as ArrayBuffer, { maxBytes: 100 })).toEqual({ ok: true, value: [1, 2] });
    expect(parseFrame(new Uint8Array([7]).buffer as ArrayBuffer, { maxBytes: 100, decodeBinary: (b) => b[0] })).toEqual({ ok: true, value: 7 });
  });

  it("refuse malformed frames with a reason", () => {
    const bad = parseFrame("{not json", { maxBytes: 100 });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^frame is not valid JSON: /);
  });

  it("refuse frames over the size limit before parsing, counting UTF-8 bytes", () => {
    expect(parseFrame(`"${"x".repeat(200)}"`, { maxBytes: 100 })).toEqual({ ok: false, error: "frame of 202 bytes is over the 100-byte limit" });
    // 40 characters, 120 bytes.
    expect(parseFrame(`${"€".repeat(40)}`, { maxBytes: 100 })).toEqual({ ok: false, error: "frame of 120 bytes is over the 100-byte limit" });
    expect(parseFrame(new ArrayBuffer(101), { maxBytes: 100 }).ok).toBe(false);
  });
});

describe("closing", () => {
  it("never sends a reserved or out-of-range close code", () => {
    for (const code of [1005, 1006, 1015, 1004, 999, 2000, 5000]) expect(sendableCloseCode(code)).toBe(1000);
    for (const code of [1000, 1001, 1008, 1011, 3000, 4999]) expect(sendableCloseCode(code)).toBe(code);
  });

  it("closes with a sendable code and a reason that fits, and swallows an already-closed socket", () => {
    const fake = new FakeSocket();
    closeQuietly(socket(fake), 1006, "x".repeat(200));
    expect(fake.closedWith?.[0]).toBe(1000);
    expect(fake.closedWith?.[1]).toHaveLength(123);
    fake.throwOnClose = true;
    expect(() => closeQuietly(socket(fake), 1000)).not.toThrow();
  });
});

it("tells an upgrade from a plain request", () => {
  expect(isWebSocketUpgrade(new Request("http://hub/", { headers: { Upgrade: "WebSocket" } }))).toBe(true);
  expect(isWebSocketUpgrade(new Request("http://hub/"))).toBe(false);
  expect(upgradeRequired().status).toBe(426);
});
