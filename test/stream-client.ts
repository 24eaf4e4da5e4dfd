import { decode } from "@msgpack/msgpack";
import { exports } from "cloudflare:workers";
import { freshIp, ORIGIN } from "./helpers";

export type StreamMessage = Record<string, unknown> & { T: string };

/** A market-data WebSocket client inside the test runtime, with a queue to await on. */
export class StreamClient {
  readonly frames: StreamMessage[][] = [];
  /** Each binary frame's bytes as received, for a test to decode its own way. */
  readonly rawFrames: Uint8Array[] = [];
  binaryFrames = 0;
  closed: { code: number; reason: string } | undefined;
  #waiters: (() => void)[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly binary: boolean,
  ) {
    // Binary frames may arrive as Blobs, decoded asynchronously: chain them to keep order.
    let decoding = Promise.resolve();
    ws.addEventListener("message", (event) => {
      const data: unknown = event.data;
      decoding = decoding.then(async () => {
        if (typeof data !== "string") this.binaryFrames += 1;
        const bytes = data instanceof Blob ? await data.arrayBuffer() : data;
        if (typeof bytes !== "string") this.rawFrames.push(new Uint8Array(bytes as ArrayBuffer));
        // msgpack's timestamp extension (a data message's `t`) decodes to a Date.
        const frame = (typeof bytes === "string" ? JSON.parse(bytes) : decode(new Uint8Array(bytes as ArrayBuffer))) as StreamMessage[];
        this.frames.push(frame);
        this.#wake();
      });
    });
    ws.addEventListener("close", (event) => {
      void decoding.then(() => {
        this.closed = { code: event.code, reason: event.reason };
        this.#wake();
      });
    });
  }

  static async open(path: string, headers: Record<string, string> = {}): Promise<StreamClient> {
    const res = await exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers: { upgrade: "websocket", "cf-connecting-ip": freshIp(), ...headers } }));
    if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
    res.webSocket.accept();
    return new StreamClient(res.webSocket, /msgpack/.test(headers["content-type"] ?? ""));
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  get messages(): StreamMessage[] {
    return this.frames.flat();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits until some received message satisfies `match`; returns it. */
  async waitFor(match: (m: StreamMessage) => boolean, timeoutMs = 5000): Promise<StreamMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before a matching message; got ${JSON.stringify(this.messages)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitForClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // Already closed.
    }
  }
}
