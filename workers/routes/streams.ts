import { Hono, type Context } from "hono";
import { ApiError, permissionDenied, unauthorized } from "../../shared/errors";
import { credentialOf, mayStream } from "../../shared/stream/access";
import type { SocketKind } from "../../shared/stream/protocol";
import { internalHeaders } from "../../platform/socket";
import type { AppEnv } from "../context";
import { randomHub } from "../lib/stream-hubs";

// Market-data WebSockets at Alpaca's paths. The gateway authenticates a handshake that
// carries credentials (key headers or a bearer token), picks a hub at random, and hands
// the upgrade to it with the credential it checked; clients without handshake credentials
// authenticate with an "auth" message, which the hub checks by the same rule (mayStream).
export const streams = new Hono<AppEnv>();

const STOCK_FEEDS = ["iex", "sip", "delayed_sip", "test"];

function upgrade(kind: SocketKind) {
  return async (c: Context<AppEnv>) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "this endpoint speaks WebSocket; send an Upgrade request");
    const principal = c.get("principal");
    const failure = c.get("authFailure");
    if (!principal && failure) throw unauthorized(failure);
    if (principal && !mayStream(kind, principal.permissions)) throw permissionDenied("trading:read");
    const headers = internalHeaders(c.req.raw.headers, principal && credentialOf(principal), { "x-redfire-stream": kind });
    return c.env.STREAM_HUB.getByName(randomHub(c.env)).fetch(new Request(c.req.raw, { headers }));
  };
}

for (const feed of STOCK_FEEDS) streams.get(`/v2/${feed}`, upgrade("stocks"));
streams.get("/v1beta3/crypto/us", upgrade("crypto"));
// RedFire's own: one socket for stocks and crypto together (a mixed watchlist), in the same protocol.
streams.get("/v2/all", upgrade("all"));
// ccxt pro's default crypto path.
streams.get("/v1beta2/crypto", upgrade("crypto"));
