import { Hono, type Context } from "hono";
import { ApiError, forbidden, unauthorized } from "../../shared/errors";
import { can } from "../../shared/rbac";
import type { SocketKind } from "../../shared/stream/protocol";
import type { AppEnv } from "../context";

// Market-data WebSockets at Alpaca's paths. The gateway authenticates a handshake that
// carries credentials (key headers or a bearer token), picks a hub at random, and hands
// the upgrade to it; clients without handshake credentials authenticate with an "auth"
// message, which the hub checks.
export const streams = new Hono<AppEnv>();

const STOCK_FEEDS = ["iex", "sip", "delayed_sip", "test"];

function upgrade(kind: SocketKind) {
  return async (c: Context<AppEnv>) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "this endpoint speaks WebSocket; send an Upgrade request");
    const principal = c.get("principal");
    const failure = c.get("authFailure");
    if (!principal && failure) throw unauthorized(failure);
    if (principal && !can(principal.permissions, "trading:read")) throw forbidden("forbidden: requires permission trading:read");
    const shards = Math.max(1, Number(c.env.STREAM_HUBS) || 1);
    const hub = `hub-${Math.floor(Math.random() * shards)}`;
    const headers = new Headers(c.req.raw.headers);
    headers.set("x-redfire-stream", kind);
    headers.delete("x-redfire-user");
    if (principal) headers.set("x-redfire-user", principal.userId);
    return c.env.STREAM_HUB.getByName(hub).fetch(new Request(c.req.raw, { headers }));
  };
}

for (const feed of STOCK_FEEDS) streams.get(`/v2/${feed}`, upgrade("stocks"));
streams.get("/v1beta3/crypto/us", upgrade("crypto"));
// RedFire's own: one socket for stocks and crypto together (a mixed watchlist), in the same protocol.
streams.get("/v2/all", upgrade("all"));
// ccxt pro's default crypto path.
streams.get("/v1beta2/crypto", upgrade("crypto"));
