import { describe, expect, it } from "vitest";
import { z } from "zod";
import { zodMessage } from "../shared/zod-messages";

// The refusals a schema says in the API's words when its definition set no message (the
// setup file imports shared/zod-messages.ts, as the Worker and the backtest command do).

const messages = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);

describe("a schema's refusals without messages of its own", () => {
  it("say what the field must be and what came instead", () => {
    const order = z.strictObject({
      qty: z.number().int().min(1).max(10),
      side: z.enum(["buy", "sell"]),
      name: z.string().min(1).max(5),
      code: z.string().length(3),
      at: z.iso.datetime(),
      tags: z.array(z.string()).max(2),
      url: z.url(),
      id: z.uuid(),
      step: z.number().multipleOf(5).gt(0).lt(100),
      kind: z.literal("limit"),
      either: z.union([z.string(), z.number()]),
    });
    expect(messages(order, { qty: "x", side: "hold", name: "", code: "ab", at: "yesterday", tags: ["a", "b", "c"], url: "nope", id: "1", step: 7, kind: "stop", either: true, extra: 1, more: 2 })).toEqual([
      "qty: must be a number, not a string",
      "side: must be one of buy, sell",
      "name: must not be empty",
      "code: must be exactly 3 characters",
      "at: must be an RFC 3339 time such as 2024-01-02T15:04:05Z",
      "tags: must have at most 2 items",
      "url: must be a URL",
      "id: must be a UUID",
      "step: must be a multiple of 5",
      "kind: must be limit",
      "either: matches none of the accepted forms",
      '(body): unknown fields "extra", "more"',
    ]);
    expect(messages(order, { qty: 1.5, side: "buy", name: "toolong", code: "abc", at: "2024-01-02T15:04:05Z", tags: [], url: "https://example.com", id: "00000000-0000-4000-8000-000000000000", step: 100, kind: "limit", either: 1 })).toEqual([
      "qty: must be a whole number, not the number 1.5",
      "name: must be at most 5 characters",
      "step: must be less than 100",
    ]);
    expect(messages(order, { qty: 0, step: 0, extra: 1 })).toEqual([
      "qty: must be at least 1",
      "side: is required",
      "name: is required",
      "code: is required",
      "at: is required",
      "tags: is required",
      "url: is required",
      "id: is required",
      "step: must be more than 0",
      "kind: is required",
      "either: is required",
      '(body): unknown field "extra"',
    ]);
    expect(messages(z.object({ flag: z.boolean(), n: z.number() }), { flag: null, n: [1] })).toEqual(["flag: must be true or false, not null", "n: must be a number, not an array"]);
  });

  it("keep a message the schema sets itself", () => {
    expect(messages(z.number().min(1, "must be a positive count"), 0)).toEqual(["(body): must be a positive count"]);
    expect(messages(z.enum(["a", "b"], { error: "pick a or b" }), "c")).toEqual(["(body): pick a or b"]);
  });

  it("leave a custom refusal without a message to zod", () => {
    const refined = z.number().refine((n) => n % 2 === 0);
    expect(zodMessage({ code: "custom", input: 1, path: [], message: "" } as unknown as Parameters<typeof zodMessage>[0])).toBeUndefined();
    expect(messages(refined, 1)).toEqual(["(body): Invalid input"]);
  });
});
