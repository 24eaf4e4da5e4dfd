import { describe, expect, it } from "vitest";
import { queryText } from "../../web/src/list-query";

// A paged list's own parameters (the admin's user search) follow `limit` on every page it
// reads (web/src/list-query.ts, used by web/src/ui/paged-list.tsx): "Load more" continues the same search.
describe("a paged list's query", () => {
  it("is each given parameter, encoded, after limit", () => {
    expect(queryText({ q: "ada lovelace", role: "admin" })).toBe("&q=ada%20lovelace&role=admin");
    expect(queryText({ q: "50%_&x=1" })).toBe("&q=50%25_%26x%3D1");
  });

  it("leaves out a parameter not given or empty (a cleared search lists everyone)", () => {
    expect(queryText({ q: "", role: undefined })).toBe("");
    expect(queryText()).toBe("");
  });
});
