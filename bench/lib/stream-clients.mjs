// Market-data WebSocket clients for the fan-out benchmark: open many (a bounded number of
// handshakes in flight), subscribe them, and record what each receives inside a
// measurement window. Latency goes into one shared histogram rather than an array, so
// 10,000 clients x hundreds of messages cost a few hundred kB instead of a sort of millions.
import WebSocket from "ws";

/** Fixed-width bins (0.1 ms up to 60 s); quantiles are bin upper edges (at most the max). */
export class Histogram {
  constructor(binMs = 0.1, maxMs = 60_000) {
    this.binMs = binMs;
    this.bins = new Uint32Array(Math.ceil(maxMs / binMs) + 1);
    this.count = 0;
    this.max = 0;
  }
  add(ms) {
    const value = Math.max(0, ms);
    this.bins[Math.min(this.bins.length - 1, Math.floor(value / this.binMs))]++;
    this.count++;
    if (value > this.max) this.max = value;
  }
  quantile(q) {
    if (this.count === 0) return NaN;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= rank) return Math.min((i + 1) * this.binMs, this.max);
    }
    return this.max;
  }
}

// Sub-millisecond wall clock, comparable with the server's event time `t` (same machine).
const nowMs = () => performance.timeOrigin + performance.now();

/**
 * What one client saw while a window was open (trade ids in arrival order, the number of
 * quotes) and the newest trade id it saw at all (to know when stragglers have arrived).
 */
class Client {
  constructor(ws) {
    this.ws = ws;
    this.tradeIds = [];
    this.quotes = 0;
    this.lastTradeId = 0;
  }
}

/**
 * Opens one authenticated client (key headers at the handshake, so the hub authenticates
 * it before the first frame). Resolves once the server says "authenticated".
 */
function openClient(url, headers, localAddress, recorder, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, localAddress, perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const client = new Client(ws);
    const timer = setTimeout(() => fail(new Error(`no "authenticated" within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const fail = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    ws.on("error", fail);
    ws.on("close", (code) => fail(new Error(`closed before authenticated (code ${code})`)));
    ws.on("message", (data) => {
      const messages = JSON.parse(data.toString());
      if (!settled) {
        if (messages.some((m) => m.T === "error")) return fail(new Error(`server error ${JSON.stringify(messages)}`));
        if (messages.some((m) => m.T === "success" && m.msg === "authenticated")) {
          settled = true;
          clearTimeout(timer);
          ws.removeAllListeners("close");
          resolve(client);
        }
        return;
      }
      recorder.onFrame(client, messages);
    });
  });
}

/** Runs fn(i) for i < n with at most `limit` in flight; returns results or errors. */
async function pool(n, limit, fn) {
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await fn(i).catch((error) => error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return results;
}

/**
 * Records frames into the window [from, to) by event time. Subscription echoes resolve the
 * waiters set up by subscribeAll.
 */
export class Recorder {
  constructor() {
    this.histogram = new Histogram();
    this.from = Infinity;
    this.to = Infinity;
    this.echoes = new Map();
  }
  open(from, to) {
    this.histogram = new Histogram();
    this.from = from;
    this.to = to;
  }
  onFrame(client, messages) {
    const received = nowMs();
    for (const m of messages) {
      if (m.T === "subscription") this.echoes.get(client)?.();
      if (m.T !== "t" && m.T !== "q") continue;
      if (m.T === "t") client.lastTradeId = Math.max(client.lastTradeId, m.i);
      const t = Date.parse(m.t);
      if (t < this.from || t >= this.to) continue;
      this.histogram.add(received - t);
      if (m.T === "t") client.tradeIds.push(m.i);
      else client.quotes++;
    }
  }
}

/**
 * Opens n clients with at most `inFlight` handshakes at a time. Source addresses rotate
 * over 127.0.0.2-.33 so repeated runs cannot exhaust one address's ephemeral ports
 * (closed sockets sit in TIME_WAIT for a minute).
 */
export async function connectAll({ url, headers, n, inFlight, recorder, timeoutMs = 60_000 }) {
  const outcomes = await pool(n, inFlight, (i) => openClient(url, headers, `127.0.0.${2 + (i % 32)}`, recorder, timeoutMs));
  const clients = outcomes.filter((o) => o instanceof Client);
  const errors = new Map();
  for (const o of outcomes) if (!(o instanceof Client)) errors.set(String(o?.message ?? o), (errors.get(String(o?.message ?? o)) ?? 0) + 1);
  return { clients, errors: Object.fromEntries(errors) };
}

/** Subscribes every client and waits for each echo (from which data flows to it). */
export async function subscribeAll(clients, recorder, message, timeoutMs = 60_000) {
  const text = JSON.stringify(message);
  const echoed = clients.map(
    (client) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        recorder.echoes.set(client, () => (clearTimeout(timer), recorder.echoes.delete(client), resolve(true)));
        client.ws.send(text);
      }),
  );
  const results = await Promise.all(echoed);
  return results.filter(Boolean).length;
}

/** Closes every client; terminates those that do not finish the close handshake in time. */
export async function closeAll(clients, timeoutMs = 10_000) {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => (c.ws.terminate(), resolve()), timeoutMs);
          c.ws.once("close", () => (clearTimeout(timer), resolve()));
          c.ws.close(1000, "bench done");
        }),
    ),
  );
}
