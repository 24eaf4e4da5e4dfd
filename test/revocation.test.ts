import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { call, createKey, json, signUp, type TestUser } from "./helpers";
import { StreamClient, type StreamMessage } from "./stream-client";

// Revoking a credential closes every socket opened with it within a second, with the
// stream's error, and only those: REST checks a credential on each request, a socket only
// when it authenticates, so the revocation itself has to reach the sockets.

type CredentialKind = "session" | "api key";
type SocketKind = "trade_updates (handshake)" | "trade_updates (in-band)" | "market data (handshake)" | "market data (in-band)";
type Credential = { kind: "session"; access: string } | { kind: "api key"; key_id: string; secret: string };

const SOCKET_KINDS: SocketKind[] = ["trade_updates (handshake)", "trade_updates (in-band)", "market data (handshake)", "market data (in-band)"];

const handshakeHeaders = (c: Credential): Record<string, string> =>
  c.kind === "session" ? { authorization: `Bearer ${c.access}` } : { "apca-api-key-id": c.key_id, "apca-api-secret-key": c.secret };

/** Opens an authenticated socket of `kind` with `credential`. */
async function open(kind: SocketKind, credential: Credential): Promise<StreamClient> {
  const inBand = kind.endsWith("(in-band)");
  if (kind.startsWith("trade_updates")) {
    const client = await StreamClient.open("/stream", inBand ? {} : handshakeHeaders(credential));
    if (inBand) {
      client.send({ action: "authenticate", data: credential.kind === "session" ? { oauth_token: credential.access } : { key_id: credential.key_id, secret_key: credential.secret } });
      await client.waitFor((m) => m.stream === "authorization" && (m.data as { status?: string }).status === "authorized");
    }
    client.send({ action: "listen", data: { streams: ["trade_updates"] } });
    await client.waitFor((m) => m.stream === "listening");
    return client;
  }
  const client = await StreamClient.open("/v2/iex", inBand ? {} : handshakeHeaders(credential));
  await client.waitFor((m) => m.T === "success" && m.msg === "connected");
  if (inBand) client.send(credential.kind === "session" ? { action: "auth", token: credential.access } : { action: "auth", key: credential.key_id, secret: credential.secret });
  await client.waitFor((m) => m.T === "success" && m.msg === "authenticated");
  return client;
}

/** The stream's error, then close code 1008, within a second of the revocation answering. */
async function expectEnded(client: StreamClient, kind: SocketKind): Promise<StreamMessage> {
  const closed = await client.waitForClose(1000);
  expect(closed.code).toBe(1008);
  const error = kind.startsWith("trade_updates")
    ? client.messages.find((m) => m.stream === "error" && /access revoked/.test(String((m.data as { error?: string }).error)))
    : client.messages.find((m) => m.T === "error" && m.code === 402);
  expect(error, `the error frame before the close; got ${JSON.stringify(client.messages)}`).toBeDefined();
  return error!;
}

async function expectStillOpen(client: StreamClient, kind: SocketKind): Promise<void> {
  // A control message still gets its answer.
  if (kind.startsWith("trade_updates")) {
    const before = client.messages.filter((m) => m.stream === "listening").length;
    client.send({ action: "listen", data: { streams: ["trade_updates"] } });
    await client.waitFor(() => client.messages.filter((m) => m.stream === "listening").length > before, 2000);
  } else {
    const before = client.messages.filter((m) => m.T === "subscription").length;
    client.send({ action: "subscribe", trades: [] });
    await client.waitFor(() => client.messages.filter((m) => m.T === "subscription").length > before, 2000);
  }
  expect(client.closed).toBeUndefined();
}


interface Setup {
  user: TestUser;
  /** The credential the revocation ends. */
  target: Credential;
  /** A credential it must leave alone (another key, another session, another user). */
  bystander: Credential;
}

async function login(user: TestUser, password = user.password): Promise<{ access: string; refresh: string }> {
  const body = await json<{ access_token: string; refresh_token: string }>(await call("/api/auth/login", { body: { email: user.email, password } }));
  return { access: body.access_token, refresh: body.refresh_token };
}

const keyCredential = async (user: TestUser): Promise<Credential> => ({ kind: "api key", ...(await createKey(user, ["read"])) });

interface Revocation {
  name: string;
  /** The credential kinds it applies to, and whether it ends the target (a password change keeps API keys). */
  ends: Partial<Record<CredentialKind, boolean>>;
  setup(kind: CredentialKind): Promise<Setup>;
  revoke(setup: Setup): Promise<void>;
}

let admin: TestUser | undefined;
const adminUser = async () => (admin ??= await signUp("admin"));

const REVOCATIONS: Revocation[] = [
  {
    name: "API key revoked (DELETE /api/keys/{id})",
    ends: { "api key": true },
    async setup() {
      const user = await signUp();
      return { user, target: await keyCredential(user), bystander: await keyCredential(user) };
    },
    async revoke({ user, target }) {
      expect((await call(`/api/keys/${(target as { key_id: string }).key_id}`, { method: "DELETE", token: user.access })).status).toBe(204);
    },
  },
  {
    name: "every API key revoked (DELETE /api/keys)",
    ends: { "api key": true },
    async setup() {
      const user = await signUp();
      return { user, target: await keyCredential(user), bystander: { kind: "session", access: user.access } };
    },
    async revoke({ user }) {
      const res = await call("/api/keys", { method: "DELETE", token: user.access });
      expect(await json(res)).toEqual({ revoked: 1 });
    },
  },
  {
    name: "logout",
    ends: { session: true },
    async setup() {
      const user = await signUp();
      const other = await login(user);
      return { user, target: { kind: "session", access: user.access }, bystander: { kind: "session", access: other.access } };
    },
    async revoke({ user }) {
      expect((await call("/api/auth/logout", { body: { refresh_token: user.refresh } })).status).toBe(204);
    },
  },
  {
    name: "session ended from another (DELETE /api/sessions/{id})",
    ends: { session: true },
    async setup() {
      const user = await signUp();
      const other = await login(user);
      return { user, target: { kind: "session", access: user.access }, bystander: { kind: "session", access: other.access } };
    },
    async revoke({ user, target, bystander }) {
      const res = await call(`/api/sessions/${String(decodeJwt((target as { access: string }).access).sid)}`, { method: "DELETE", token: (bystander as { access: string }).access, ip: user.ip });
      expect(res.status).toBe(204);
    },
  },
  {
    name: "refresh token replayed after the grace",
    ends: { session: true },
    async setup() {
      const user = await signUp();
      const other = await login(user);
      return { user, target: { kind: "session", access: user.access }, bystander: { kind: "session", access: other.access } };
    },
    async revoke({ user }) {
      expect((await call("/api/auth/refresh", { body: { refresh_token: user.refresh } })).status).toBe(200);
      // Past the reuse grace, presenting the rotated token again is a replay: the session ends.
      await env.DB.prepare("UPDATE refresh_tokens SET used_at = used_at - 3600000 WHERE used_at IS NOT NULL AND session_id IN (SELECT id FROM sessions WHERE user_id = ?)").bind(user.id).run();
      expect((await call("/api/auth/refresh", { body: { refresh_token: user.refresh } })).status).toBe(401);
    },
  },
  {
    name: "password change",
    ends: { session: true, "api key": false },
    async setup(kind) {
      const user = await signUp();
      // The session that changes the password stays; the others end.
      const other = await login(user);
      const target: Credential = kind === "session" ? { kind: "session", access: other.access } : await keyCredential(user);
      return { user, target, bystander: { kind: "session", access: user.access } };
    },
    async revoke({ user }) {
      const res = await call("/api/users/me/password", { body: { current_password: user.password, new_password: "a-brand-new-passphrase" }, token: user.access });
      expect(res.status).toBe(200);
    },
  },
  {
    name: "user disabled",
    ends: { session: true, "api key": true },
    setup: userAndBystander,
    async revoke({ user }) {
      const res = await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { status: "disabled" }, token: (await adminUser()).access });
      expect(res.status).toBe(200);
    },
  },
  {
    // Not a revocation, but a socket was checked under the old role: it is closed, and its
    // reconnect is checked under the new one.
    name: "role changed",
    ends: { session: true, "api key": true },
    setup: userAndBystander,
    async revoke({ user }) {
      const res = await call(`/api/admin/users/${user.id}`, { method: "PATCH", body: { role: "guest" }, token: (await adminUser()).access });
      expect(res.status).toBe(200);
    },
  },
];

/** A user whose every socket an admin's change ends, and another user's socket that stays open. */
async function userAndBystander(kind: CredentialKind) {
  const [user, other] = await Promise.all([signUp(), signUp()]);
  const target: Credential = kind === "session" ? { kind: "session", access: user.access } : await keyCredential(user);
  return { user, target, bystander: { kind: "session", access: other.access } as Credential };
}

const CASES = REVOCATIONS.flatMap((revocation) =>
  (Object.entries(revocation.ends) as [CredentialKind, boolean][]).flatMap(([credential, ends]) => SOCKET_KINDS.map((socket) => ({ revocation, credential, ends, socket }))),
);

describe("revocation reaches open sockets", () => {
  it.each(CASES.map((c) => [c.revocation.name, c.credential, c.socket, c.ends ? "closes" : "stays open", c] as const))(
    "%s, %s credential, %s socket: %s",
    async (_name, _credential, _socket, _expect, { revocation, credential, ends, socket }) => {
      const setup = await revocation.setup(credential);
      const [target, bystander] = await Promise.all([open(socket, setup.target), open(socket, setup.bystander)]);
      await revocation.revoke(setup);
      if (ends) await expectEnded(target, socket);
      else await expectStillOpen(target, socket);
      await expectStillOpen(bystander, socket);
      target.close();
      bystander.close();
    },
  );

  it("a revoked market-data socket can subscribe to nothing more", async () => {
    const user = await signUp();
    const key = await keyCredential(user);
    const client = await open("market data (in-band)", key);
    await call(`/api/keys/${(key as { key_id: string }).key_id}`, { method: "DELETE", token: user.access });
    await expectEnded(client, "market data (in-band)");
    const before = client.messages.length;
    try {
      client.send({ action: "subscribe", trades: ["*"] });
    } catch {
      // Closed: nothing can be sent at all.
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(client.messages.slice(before)).toEqual([]);
  });
});
