import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

// A stand-in for an external market-data feed speaking Alpaca's protocol, started by the
// test run (Node side). Tests steer it over HTTP: send frames, send garbage, drop every
// connection, or go silent.
export interface FakeUpstream {
  url: string;
  control: string;
  close(): Promise<void>;
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const sockets = new Set<WebSocket>();
  const received: unknown[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      if (req.method === "GET") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ connections, open: sockets.size, received }));
        return;
      }
      const command = JSON.parse(body || "{}") as { action: string; frames?: unknown[]; raw?: string };
      for (const ws of sockets) {
        if (command.action === "send") ws.send(JSON.stringify(command.frames ?? []));
        if (command.action === "raw") ws.send(command.raw ?? "");
        if (command.action === "drop") ws.terminate();
      }
      res.end(JSON.stringify({ delivered: sockets.size }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => {
    connections += 1;
    sockets.add(ws);
    ws.send(JSON.stringify([{ T: "success", msg: "connected" }]));
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as { action?: string };
      received.push(message);
      if (message.action === "auth") ws.send(JSON.stringify([{ T: "success", msg: "authenticated" }]));
      if (message.action === "subscribe") ws.send(JSON.stringify([{ T: "subscription", ...message, action: undefined }]));
    });
    ws.on("close", () => sockets.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/v2/test`,
    control: `http://127.0.0.1:${port}/control`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
