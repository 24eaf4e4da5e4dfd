import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

// A webhook receiver for the tests, started by the test run (Node side) on 127.0.0.1: what
// a user's server would be. POST /hook/<name>?fail=<n> records the request and answers 500
// to the first n requests of <name>, 200 after; GET /hook/<name> answers what <name> received.
export interface WebhookReceiver {
  url: string;
  close(): Promise<void>;
}

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, Received[]>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const name = url.pathname.replace(/^\/hook\//, "");
    const log = received.get(name) ?? [];
    received.set(name, log);
    if (req.method === "GET") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(log));
      return;
    }
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const status = log.length < Number(url.searchParams.get("fail") ?? 0) ? 500 : 200;
      log.push({ headers: req.headers, body, status });
      res.statusCode = status;
      res.end(status === 200 ? "ok" : "failing on purpose");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
