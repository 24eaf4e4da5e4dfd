import fc from "fast-check";
import { beforeAll, describe, it } from "vitest";
import { fuzzSetup, request, sendAndCheck, type Fuzz } from "./fuzz-requests";

// Random and malformed requests against every endpoint (test/fuzz-requests.ts), eight at
// a time by the same three users and key, so they meet on the same accounts, keys and
// records: never a 5xx, every failure in the envelope. (Its own file: the local runtime
// answers each request of a test file a little slower than the one before, so after the
// one-at-a-time runs these took minutes instead of seconds.)

let fuzz: Fuzz;
beforeAll(async () => {
  fuzz = await fuzzSetup();
});

describe("any requests at once", () => {
  it("sent eight at a time, by the same users to the same things, still never gets a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request(fuzz), { minLength: 8, maxLength: 8 }), async (batch) => {
        await Promise.all(batch.map((r) => sendAndCheck(fuzz, r)));
      }),
      { numRuns: 60 },
    );
  }, 300_000);
});
