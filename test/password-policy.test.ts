import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { passwordViolations, PASSWORD_MIN_LENGTH } from "../shared/password-policy";
import { hashPassword, needsRehash, verifyPassword } from "../workers/lib/passwords";
import { loginDelayMs } from "../workers/lib/login-throttle";

describe("password policy", () => {
  it("accepts long passphrases and names every rule a password breaks", () => {
    expect(passwordViolations("correct horse battery staple", { email: "ada@example.com", username: "ada" })).toEqual([]);
    expect(passwordViolations("ada-lovelace-1815", { email: "lovelace@example.com" }).map((v) => v.rule)).toEqual(["contains_identity"]);
    // The whole address, however short its local part.
    expect(passwordViolations("eve@ex.com-Zebra99", { email: "eve@ex.com" }).map((v) => v.rule)).toEqual(["contains_identity"]);
    expect(passwordViolations("x".repeat(129), {}).map((v) => v.rule)).toEqual(["max_length", "repeated_characters"]);
    expect(passwordViolations("Password1234", {}).map((v) => v.rule)).toEqual(["common_password"]);
  });

  it("refuses every password shorter than the minimum, counting characters not bytes", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: PASSWORD_MIN_LENGTH - 1, unit: "grapheme" }), (pw) => {
        fc.pre([...pw].length < PASSWORD_MIN_LENGTH);
        expect(passwordViolations(pw, {}).map((v) => v.rule)).toContain("min_length");
      }),
    );
    expect(passwordViolations("🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥ab", {}).map((v) => v.rule)).not.toContain("min_length");
  });
});

describe("scrypt password hashes", () => {
  it("verify the right password only, with a fresh salt each time", async () => {
    const a = await hashPassword("correct horse battery", "pepper");
    const b = await hashPassword("correct horse battery", "pepper");
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse battery", "pepper", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", "pepper", a)).toBe(false);
    // The pepper is part of the key: a stolen database without it verifies nothing.
    expect(await verifyPassword("correct horse battery", "other-pepper", a)).toBe(false);
    expect(await verifyPassword("anything", "pepper", "not-a-hash")).toBe(false);
    expect(needsRehash(a)).toBe(false);
    expect(needsRehash(a.replace("ln=14", "ln=12"))).toBe(true);
  });
});

describe("login back-off", () => {
  it("is free for the first failures, then doubles up to the cap", () => {
    const policy = { freeFailures: 3, maxDelayMs: 2000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((n) => loginDelayMs(n, policy))).toEqual([0, 0, 0, 250, 500, 1000, 2000, 2000, 2000]);
  });
});
