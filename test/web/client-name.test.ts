import { describe, expect, it } from "vitest";
import { clientName } from "../../web/src/client-name";

describe("a session's client", () => {
  it("is named as people name browsers, and a program by its product token", () => {
    expect(clientName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")).toBe("Chrome 131 · Linux");
    expect(clientName("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86")).toBe("Edge 131 · Windows");
    expect(clientName("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0")).toBe("Firefox 133 · macOS");
    expect(clientName("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")).toBe("Safari 18 · iOS");
    expect(clientName("Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")).toBe("Chrome 131 · Android");
    expect(clientName("python-requests/2.32.3")).toBe("python-requests/2.32.3");
    expect(clientName("node")).toBe("node");
    expect(clientName(null)).toBe("unknown client");
  });
});
