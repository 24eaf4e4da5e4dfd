import { describe, expect, it } from "vitest";
import { createKey, signUp } from "./helpers";
import { StreamClient } from "./stream-client";

// The trade_updates socket authenticated in-band (docs/alpaca-compat.md §6): the gateway
// relays it to the user's account object once the credential stands. Found in QA: a listen
// sent right behind the authenticate was dropped while the credential was checked, and a
// binary frame (which reaches the relay as a Blob) was read as "[object Blob]".

const bytes = (message: unknown) => new TextEncoder().encode(JSON.stringify(message));

describe("the trade stream's in-band relay", () => {
  it("takes a listen sent right behind the authenticate, in order, with a key and with a token", async () => {
    const user = await signUp();
    const key = await createKey(user, ["read"]);
    for (const data of [{ key_id: key.key_id, secret_key: key.secret }, { oauth_token: user.access }]) {
      const client = await StreamClient.open("/stream");
      client.send({ action: "authenticate", data });
      client.send({ action: "listen", data: { streams: ["trade_updates"] } });
      await client.waitFor((m) => m.stream === "authorization" && (m.data as { status?: string }).status === "authorized");
      const listening = await client.waitFor((m) => m.stream === "listening");
      expect(listening.data).toEqual({ streams: ["trade_updates"] });
      // Authorized, then listening: the held frame went on after the answer.
      const order = client.messages.map((m) => m.stream);
      expect(order.indexOf("authorization")).toBeLessThan(order.indexOf("listening"));
      client.ws.close(1000, "done");
    }
  });

  it("reads binary frames as JSON bytes, before and after the authorization", async () => {
    const user = await signUp();
    const client = await StreamClient.open("/stream");
    client.ws.send(bytes({ action: "authenticate", data: { oauth_token: user.access } }));
    await client.waitFor((m) => m.stream === "authorization" && (m.data as { status?: string }).status === "authorized");
    client.ws.send(bytes({ action: "listen", data: { streams: ["trade_updates"] } }));
    expect((await client.waitFor((m) => m.stream === "listening")).data).toEqual({ streams: ["trade_updates"] });
    expect(client.messages.filter((m) => m.stream === "error")).toEqual([]);
    client.ws.close(1000, "done");
  });
});
