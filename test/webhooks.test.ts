import { env } from "cloudflare:test";
import { createHmac } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { webhookUrlProblem } from "../shared/notifications/webhooks";
import { call, createKey, expectError, json, signUp, until, type TestUser } from "./helpers";
import { placed, quotedMarket } from "./trading/helpers";

// Webhooks end to end: the Worker delivers to a real HTTP receiver the test run starts on
// 127.0.0.1 (test/webhooks-receiver.ts), which development allows and no other environment does.

const receiver = inject("webhooks").url;

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
}
interface Delivery {
  id: number;
  event_id: string;
  event_type: string;
  redelivery: number;
  status: string;
  attempts: number;
  response_status: number | null;
  latency_ms: number | null;
  error: string | null;
}

let admin: TestUser;
beforeAll(async () => {
  admin = await signUp("admin");
});

/** A fresh name on the receiver; `fail` answers 500 to that many requests first. */
function hookUrl(fail = 0): { url: string; received: () => Promise<Received[]> } {
  const name = crypto.randomUUID();
  return { url: `${receiver}/${name}?fail=${fail}`, received: async () => (await fetch(`${receiver}/${name}`)).json() };
}

async function register(user: TestUser, url: string, events: string[] = ["order.filled"]) {
  const res = await call("/api/webhooks", { body: { url, events }, token: user.access, ip: user.ip });
  if (res.status !== 201) throw new Error(`webhook refused: ${res.status} ${await res.text()}`);
  return json<{ id: string; secret: string; url: string; events: string[] }>(res);
}

/** A domain event's delivery (the fill of a market buy): the kind the queue retries, unlike a test or a redelivery. */
async function fillDelivery(user: TestUser, webhookId: string): Promise<{ id: number }> {
  const market = await quotedMarket(admin);
  await placed(user, { symbol: market.symbol, qty: "1", side: "buy", type: "market", time_in_force: "day" });
  return until(async () => (await env.DB.prepare("SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND event_type = 'order.filled'").bind(webhookId).first<{ id: number }>()) ?? undefined, "the fill's delivery", 20_000);
}

async function sendTest(user: TestUser, webhookId: string): Promise<Delivery> {
  const res = await call(`/api/webhooks/${webhookId}/test`, { method: "POST", token: user.access, ip: user.ip });
  expect(res.status).toBe(202);
  return json<Delivery>(res);
}

/** Waits (on D1, not spending the API's rate limit) until the delivery reaches `status`, then reads the log through the API. */
async function deliveryReaching(user: TestUser, webhookId: string, id: number, status: string, timeoutMs = 10_000): Promise<Delivery> {
  await until(async () => (await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE id = ?").bind(id).first<{ status: string }>())?.status === status, `delivery ${id} to be ${status}`, timeoutMs);
  const log = await json<{ deliveries: Delivery[] }>(await call(`/api/webhooks/${webhookId}/deliveries`, { token: user.access, ip: user.ip }));
  return log.deliveries.find((d) => d.id === id)!;
}

/** The receiver's own check, written apart from the platform's: node:crypto's HMAC over "<t>.<body>". */
function verify(secret: string, header: string, body: string): { t: number; valid: boolean } {
  const fields = Object.fromEntries(header.split(",").map((kv) => kv.split("=") as [string, string]));
  const expected = createHmac("sha256", secret).update(`${fields.t}.${body}`).digest("hex");
  return { t: Number(fields.t), valid: expected === fields.v1 };
}

describe("webhook deliveries", () => {
  it("a test event arrives signed with the webhook's secret, and the log says how it went", async () => {
    const user = await signUp();
    const hook = hookUrl();
    const webhook = await register(user, hook.url);
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9]{40}$/);
    const queued = await sendTest(user, webhook.id);
    expect(queued).toMatchObject({ event_type: "webhook.test", status: "pending", attempts: 0, redelivery: 0 });
    const delivery = await deliveryReaching(user, webhook.id, queued.id, "delivered");
    expect(delivery).toMatchObject({ attempts: 1, response_status: 200, error: null });
    expect(delivery.latency_ms).toBeGreaterThanOrEqual(0);

    const [request] = await hook.received();
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["redfire-event"]).toBe("webhook.test");
    expect(request!.headers["redfire-delivery"]).toBe(String(queued.id));
    expect(verify(webhook.secret, request!.headers["redfire-signature"]!, request!.body).valid).toBe(true);
    expect(verify("whsec_another", request!.headers["redfire-signature"]!, request!.body).valid).toBe(false);
    expect(verify(webhook.secret, request!.headers["redfire-signature"]!, `${request!.body} `).valid).toBe(false);
    expect(JSON.parse(request!.body)).toMatchObject({ id: queued.event_id, type: "webhook.test", data: { webhook_id: webhook.id } });
    // The list never shows the secret again.
    const listed = await json<Record<string, unknown>[]>(await call("/api/webhooks", { token: user.access, ip: user.ip }));
    expect(listed).toEqual([expect.objectContaining({ id: webhook.id, url: hook.url, events: ["order.filled"] })]);
    expect(listed[0]).not.toHaveProperty("secret");
  });

  it("a receiver that fails twice gets the same body a third time, and the delivery succeeds", async () => {
    const user = await signUp();
    const hook = hookUrl(2);
    const webhook = await register(user, hook.url);
    const queued = await fillDelivery(user, webhook.id);
    const delivery = await deliveryReaching(user, webhook.id, queued.id, "delivered", 40_000);
    expect(delivery).toMatchObject({ attempts: 3, response_status: 200, error: null });
    const requests = await hook.received();
    expect(requests.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const r of requests) expect(verify(webhook.secret, r.headers["redfire-signature"]!, r.body).valid).toBe(true);
  }, 60_000);

  it("a receiver that never answers 2xx: the delivery runs out of attempts, is dead-lettered and marked dead", async () => {
    const user = await signUp();
    const hook = hookUrl(1_000);
    const webhook = await register(user, hook.url);
    const queued = await fillDelivery(user, webhook.id);
    const delivery = await deliveryReaching(user, webhook.id, queued.id, "dead", 50_000);
    // max_retries = 3 for development in wrangler.toml: four attempts in all.
    expect(delivery).toMatchObject({ attempts: 4, response_status: 500, error: "the receiver answered 500" });
    expect(await hook.received()).toHaveLength(4);
  }, 70_000);

  it("a test or a redelivery that fails is tried once: sent by hand, it is not retried (each call made up to 13 requests to a URL of the caller's choosing)", async () => {
    const user = await signUp();
    const hook = hookUrl(1_000);
    const webhook = await register(user, hook.url);
    const queued = await sendTest(user, webhook.id);
    expect(await deliveryReaching(user, webhook.id, queued.id, "dead")).toMatchObject({ attempts: 1, response_status: 500, error: "the receiver answered 500" });
    const res = await call(`/api/webhooks/${webhook.id}/deliveries/${queued.id}/redeliver`, { method: "POST", token: user.access, ip: user.ip });
    expect(res.status).toBe(202);
    const again = await json<Delivery>(res);
    expect(await deliveryReaching(user, webhook.id, again.id, "dead")).toMatchObject({ attempts: 1, redelivery: 1 });
    // Well past the first retry's back-off (2 s): still one request each.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await hook.received()).toHaveLength(2);
  }, 30_000);

  it("a receiver that cannot be reached is logged as such, not as the runtime's internal error (QA)", async () => {
    const user = await signUp();
    for (const url of ["http://127.0.0.1:9/hook", "http://no-such-host.invalid/hook"]) {
      const webhook = await register(user, url);
      const queued = await sendTest(user, webhook.id);
      const delivery = await deliveryReaching(user, webhook.id, queued.id, "dead");
      expect(delivery, url).toMatchObject({ attempts: 1, response_status: null });
      expect(delivery.error, url).not.toMatch(/internal error|reference/);
      expect(delivery.error, url).toMatch(/^could not connect to the receiver|^no answer within/);
    }
  }, 30_000);

  it("a manual redelivery sends the same event again as a new delivery", async () => {
    const user = await signUp();
    const hook = hookUrl();
    const webhook = await register(user, hook.url);
    const first = await sendTest(user, webhook.id);
    await deliveryReaching(user, webhook.id, first.id, "delivered");
    const res = await call(`/api/webhooks/${webhook.id}/deliveries/${first.id}/redeliver`, { method: "POST", token: user.access, ip: user.ip });
    expect(res.status).toBe(202);
    const again = await json<Delivery>(res);
    expect(again).toMatchObject({ event_id: first.event_id, redelivery: 1, status: "pending" });
    await deliveryReaching(user, webhook.id, again.id, "delivered");
    const bodies = (await hook.received()).map((r) => JSON.parse(r.body) as { id: string });
    expect(bodies.map((b) => b.id)).toEqual([first.event_id, first.event_id]);
    // Six at once: each a new delivery with a number of its own, no 5xx.
    const many = await Promise.all([1, 2, 3, 4, 5, 6].map(() => call(`/api/webhooks/${webhook.id}/deliveries/${first.id}/redeliver`, { method: "POST", token: user.access, ip: user.ip })));
    expect(many.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect((await Promise.all(many.map((r) => json<Delivery>(r)))).map((d) => d.redelivery).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);
    // A webhook with deliveries deletes like any other: 204, and it is gone with its log.
    expect((await call(`/api/webhooks/${webhook.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);
    await expectError(await call(`/api/webhooks/${webhook.id}`, { method: "DELETE", token: user.access, ip: user.ip }), 404);
  });

  it("a fill is delivered to the webhooks that asked for fills, and only to them", async () => {
    const [user, market] = await Promise.all([signUp(), quotedMarket(admin)]);
    const fills = hookUrl();
    const rejects = hookUrl();
    const webhook = await register(user, fills.url, ["order.filled", "order.partially_filled"]);
    await register(user, rejects.url, ["order.rejected"]);
    const order = await placed(user, { symbol: market.symbol, qty: "2", side: "buy", type: "market", time_in_force: "day" });
    const [request] = await until(async () => {
      const got = await fills.received();
      return got.length > 0 && got;
    }, "the fill's delivery");
    expect(verify(webhook.secret, request!.headers["redfire-signature"]!, request!.body).valid).toBe(true);
    expect(JSON.parse(request!.body)).toMatchObject({ type: "order.filled", data: { order_id: order.id, symbol: market.symbol, qty: "2" } });
    expect(await rejects.received()).toEqual([]);
  });

  it("an admin's message reaches the webhook without the sending admin's user id (QA)", async () => {
    const user = await signUp();
    const hook = hookUrl();
    const webhook = await register(user, hook.url, ["admin.message"]);
    const title = `hello ${crypto.randomUUID()}`;
    expect((await call("/api/admin/notifications", { body: { user_id: user.id, title, body: "from the desk" }, token: admin.access, ip: admin.ip })).status).toBe(202);
    const [request] = await until(async () => {
      const got = await hook.received();
      return got.length > 0 && got;
    }, "the message's delivery");
    expect(verify(webhook.secret, request!.headers["redfire-signature"]!, request!.body).valid).toBe(true);
    const payload = JSON.parse(request!.body) as { type: string; title: string; data: Record<string, unknown> };
    expect(payload).toMatchObject({ type: "admin.message", title, body: "from the desk" });
    expect(payload.data).toEqual({});
    expect(request!.body).not.toContain(admin.id);
  });

  it("a disabled user's webhooks get no delivery of what happens after (QA: their trading block was sent)", async () => {
    const user = await signUp();
    const hook = hookUrl();
    const webhook = await register(user, hook.url, ["account.status_changed", "admin.message"]);
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    // The block's notification stays in the user's own list (it says why, for when they are
    // enabled again); its webhook delivery would have been written in the same D1 batch.
    await until(async () => env.DB.prepare("SELECT id FROM notifications WHERE user_id = ? AND kind = 'account.status_changed'").bind(user.id).first(), "the trading-blocked notification");
    const title = `to all ${crypto.randomUUID()}`;
    const sentinel = await signUp();
    expect((await call("/api/admin/notifications", { body: { title, body: "maintenance" }, token: admin.access, ip: admin.ip })).status).toBe(202);
    await until(async () => env.DB.prepare("SELECT id FROM notifications WHERE user_id = ? AND title = ?").bind(sentinel.id, title).first(), "the message to all");
    expect((await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE webhook_id = ?").bind(webhook.id).first<{ n: number }>())!.n).toBe(0);
    expect(await hook.received()).toEqual([]);
  });

  it("a delivery queued before its owner was disabled is not sent after: it ends dead and says why", async () => {
    const user = await signUp();
    const hook = hookUrl(1_000);
    const webhook = await register(user, hook.url);
    const queued = await fillDelivery(user, webhook.id);
    // The first attempt fails; the queue would try again after 2 s.
    await deliveryReaching(user, webhook.id, queued.id, "failing", 20_000);
    expect((await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: admin.access, ip: admin.ip })).status).toBe(200);
    await until(async () => (await env.DB.prepare("SELECT status FROM webhook_deliveries WHERE id = ?").bind(queued.id).first<{ status: string }>())?.status === "dead", "the delivery to end dead", 20_000);
    const row = await env.DB.prepare("SELECT attempts, error FROM webhook_deliveries WHERE id = ?").bind(queued.id).first<{ attempts: number; error: string }>();
    expect(row).toEqual({ attempts: 1, error: "not sent: the webhook's owner is disabled" });
    expect(await hook.received()).toHaveLength(1);
  }, 60_000);
});

describe("webhook URLs", () => {
  const REFUSED: [string, string][] = [
    ["http://93.184.216.34/hook", "must be an https URL"],
    ["ftp://example.com/hook", "must be an https URL"],
    ["not a url", "must be an absolute URL"],
    ["https://user:secret@example.com/hook", "must not carry credentials"],
    ["https://localhost/hook", "must not point at a loopback address"],
    ["https://api.localhost./hook", "must not point at a loopback address"],
    ["https://127.0.0.1/hook", "must not point at a loopback address"],
    ["https://127.1/hook", "must not point at a loopback address"],
    ["https://[::1]/hook", "must not point at a loopback address"],
    ["https://[::ffff:127.0.0.1]/hook", "must not point at a loopback address"],
    ["https://10.1.2.3/hook", "must not point at a private address"],
    ["https://0x0a.0.0.1/hook", "must not point at a private address"],
    ["https://167772161/hook", "must not point at a private address"],
    ["https://172.16.0.1/hook", "must not point at a private address"],
    ["https://172.31.255.255/hook", "must not point at a private address"],
    ["https://192.168.0.10/hook", "must not point at a private address"],
    ["https://100.64.0.1/hook", "must not point at a private address"],
    ["https://[::ffff:10.0.0.1]/hook", "must not point at a private address"],
    ["https://[64:ff9b::192.168.1.1]/hook", "must not point at a private address"],
    // The other IPv6 forms that carry an IPv4 address, and site-local.
    ["https://[::10.0.0.1]/hook", "must not point at a private address"],
    ["https://[::ffff:0:a00:1]/hook", "must not point at a private address"],
    ["https://[64:ff9b:1::a00:1]/hook", "must not point at a private address"],
    ["https://[2002:a00:1::]/hook", "must not point at a private address"],
    ["https://[2002:7f00:1::]/hook", "must not point at a loopback address"],
    ["https://[fec0::1]/hook", "must not point at a private address"],
    ["https://169.254.169.254/latest/meta-data", "must not point at a link-local address"],
    ["https://[fe80::1]/hook", "must not point at a link-local address"],
    ["https://[fd12:3456::1]/hook", "must not point at a unique-local address"],
    ["https://[fc00::1]/hook", "must not point at a unique-local address"],
    ["https://0.0.0.0/hook", "must not point at a reserved address"],
    ["https://[::]/hook", "must not point at a reserved address"],
    ["https://224.0.0.1/hook", "must not point at a reserved address"],
    // Documentation ranges, the retired 6to4 relay, Teredo (an IPv4 address inside), discard-only (security review).
    ["https://192.0.2.1/hook", "must not point at a reserved address"],
    ["https://198.51.100.7/hook", "must not point at a reserved address"],
    ["https://203.0.113.9/hook", "must not point at a reserved address"],
    ["https://192.88.99.1/hook", "must not point at a reserved address"],
    ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "must not point at a reserved address"],
    ["https://[2001:db8::1]/hook", "must not point at a reserved address"],
    ["https://[100::1]/hook", "must not point at a reserved address"],
    [`https://example.com/${"a".repeat(2048)}`, "must be at most 2048 characters"],
  ];
  const ALLOWED = ["https://example.com/hook", "https://8.8.8.8/hook", "https://172.32.0.1/hook", "https://[2606:4700:4700::1111]/hook", "https://hooks.example.com:8443/a?b=c", "https://[2002:808:808::]/hook", "https://[64:ff9b::808:808]/hook", "https://[2001:4860:4860::8888]/hook", "https://203.0.114.1/hook"];

  it.each(REFUSED)("outside development, %s is refused: %s", (url, problem) => {
    expect(webhookUrlProblem(url, "production")).toBe(problem);
    expect(webhookUrlProblem(url, "staging")).toBe(problem);
  });

  it.each(ALLOWED)("%s is allowed everywhere", (url) => {
    expect(webhookUrlProblem(url, "production")).toBeNull();
    expect(webhookUrlProblem(url, "development")).toBeNull();
  });

  it("development allows plain http and loopback (the tests' receiver), nothing else of the refused", () => {
    for (const url of ["http://127.0.0.1:8788/hook", "http://localhost/hook", "https://[::1]/hook", "http://example.com/hook"]) expect(webhookUrlProblem(url, "development")).toBeNull();
    for (const url of ["http://10.0.0.1/hook", "https://169.254.169.254/", "https://[fd00::1]/", "ftp://example.com/"]) expect(webhookUrlProblem(url, "development")).not.toBeNull();
  });

  it("the API refuses a private URL with a 422 naming the field, and stores nothing", async () => {
    const user = await signUp();
    for (const url of ["http://10.0.0.1/hook", "https://169.254.169.254/latest", "https://[fd00::1]/hook", "https://192.168.1.1/", "ftp://example.com/"]) {
      const error = await expectError(await call("/api/webhooks", { body: { url, events: ["order.filled"] }, token: user.access, ip: user.ip }), 422);
      expect(error.details[0]?.path).toBe("url");
    }
    expect(await json(await call("/api/webhooks", { token: user.access, ip: user.ip }))).toEqual([]);
  });

  it("a stored URL the rules now refuse is not called: its delivery ends dead, saying why (security review)", async () => {
    const user = await signUp();
    // Stored under an older, looser rule (written here directly: the API refuses it now).
    const id = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO webhooks (id, user_id, url, events, secret) VALUES (?, ?, ?, ?, ?)").bind(id, user.id, "http://10.0.0.1/hook", '["order.filled"]', "s").run();
    const queued = await sendTest(user, id);
    const delivery = await deliveryReaching(user, id, queued.id, "dead");
    expect(delivery).toMatchObject({ attempts: 0, error: "not sent: must not point at a private address" });
  });

  it("stores and shows the URL as parsed, the address deliveries go to", async () => {
    const user = await signUp();
    const hook = hookUrl();
    const [base, query] = hook.url.split("?") as [string, string];
    // As sent, the spaces, tab and line break were stored and listed; the request went to the parsed address.
    const created = await register(user, `  ${base.replace("http://", "http://\t")}\n?${query}  `);
    expect(created.url).toBe(new URL(hook.url).href);
    expect((await json<{ url: string }[]>(await call("/api/webhooks", { token: user.access, ip: user.ip })))[0]!.url).toBe(new URL(hook.url).href);
    const queued = await sendTest(user, created.id);
    await deliveryReaching(user, created.id, queued.id, "delivered");
    expect(await hook.received()).toHaveLength(1);
  });
});

describe("webhook API input", () => {
  it("bad input is a 4xx in the envelope and changes nothing; no 5xx", async () => {
    const [user, other] = await Promise.all([signUp(), signUp()]);
    const webhook = await register(user, hookUrl().url);
    const first = await sendTest(user, webhook.id);
    await deliveryReaching(user, webhook.id, first.id, "delivered");
    const bodies: [unknown, number][] = [
      [{ url: hookUrl().url, events: [] }, 422],
      // A description is read in the app: no control characters or text-direction marks (QA).
      [{ url: hookUrl().url, events: ["order.filled"], description: "\u202e" }, 422],
      [{ url: hookUrl().url, events: ["order.filled"], description: "a\u0000\u001b[2J\u202eevil" }, 422],
      [{ url: hookUrl().url, events: ["order.exploded"] }, 422],
      [{ url: hookUrl().url, events: ["order.filled", "order.filled"] }, 422],
      [{ url: hookUrl().url, events: ["order.filled"], secret: "mine" }, 422],
      [{ url: 42, events: ["order.filled"] }, 422],
      [{ events: ["order.filled"] }, 422],
      [[], 422],
    ];
    for (const [body, status] of bodies) await expectError(await call("/api/webhooks", { body, token: user.access, ip: user.ip }), status);
    await expectError(await call("/api/webhooks", { rawBody: "{", headers: { "content-type": "application/json" }, token: user.access, ip: user.ip }), 400);
    const paths: [string, string, number][] = [
      ["DELETE", "/api/webhooks/not-a-uuid", 422],
      ["DELETE", `/api/webhooks/${crypto.randomUUID()}`, 404],
      ["GET", `/api/webhooks/${webhook.id}/deliveries?limit=0`, 422],
      ["GET", `/api/webhooks/${webhook.id}/deliveries?page_token=x`, 422],
      ["POST", `/api/webhooks/${webhook.id}/deliveries/0/redeliver`, 422],
      ["POST", `/api/webhooks/${webhook.id}/deliveries/999999999/redeliver`, 404],
      ["POST", `/api/webhooks/${crypto.randomUUID()}/test`, 404],
    ];
    for (const [method, path, status] of paths) await expectError(await call(path, { method, token: user.access, ip: user.ip }), status);
    // Another user's webhook answers exactly like a missing one.
    for (const [method, path] of [
      ["DELETE", `/api/webhooks/${webhook.id}`],
      ["GET", `/api/webhooks/${webhook.id}/deliveries`],
      ["POST", `/api/webhooks/${webhook.id}/test`],
      ["POST", `/api/webhooks/${webhook.id}/deliveries/${first.id}/redeliver`],
    ] as const)
      await expectError(await call(path, { method, token: other.access, ip: other.ip }), 404);
    // API keys cannot manage webhooks: they would send the account's activity elsewhere.
    await expectError(await call("/api/webhooks", { body: { url: hookUrl().url, events: ["order.filled"] }, apiKey: await createKey(user) }), 403);
    const rows = await env.DB.prepare("SELECT (SELECT count(*) FROM webhooks WHERE user_id = ?) AS hooks, (SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?) AS deliveries")
      .bind(user.id, webhook.id)
      .first();
    expect(rows).toEqual({ hooks: 1, deliveries: 1 });
  });

  it(`a user has at most 10 webhooks, and deleting one makes room`, async () => {
    const user = await signUp();
    const made = [];
    for (let i = 0; i < 10; i++) made.push(await register(user, hookUrl().url));
    await expectError(await call("/api/webhooks", { body: { url: hookUrl().url, events: ["order.filled"] }, token: user.access, ip: user.ip }), 409);
    expect((await call(`/api/webhooks/${made[0]!.id}`, { method: "DELETE", token: user.access, ip: user.ip })).status).toBe(204);
    await register(user, hookUrl().url);
    // Created at once, they still stop at 10.
    const racer = await signUp();
    const raced = await Promise.all(Array.from({ length: 16 }, () => call("/api/webhooks", { body: { url: hookUrl().url, events: ["order.filled"] }, token: racer.access, ip: racer.ip })));
    expect(raced.filter((r) => r.status === 201)).toHaveLength(10);
    expect(raced.filter((r) => r.status !== 201).map((r) => r.status)).toEqual(Array(6).fill(409));
  });
});
