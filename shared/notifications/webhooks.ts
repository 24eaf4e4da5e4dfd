import { z } from "zod";
import type { WebhookEventType } from "./notifications";

// Webhooks' rules, shared by the gateway (registration) and the queue consumer (delivery):
// which URLs may receive deliveries, how a delivery is signed, and when a failed one is
// tried again. docs/notifications.md is the receiver's side of the same contract.

export const MAX_WEBHOOKS_PER_USER = 10;
export const MAX_URL_LENGTH = 2048;
/** The header a receiver checks: `t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<body>">`. */
export const SIGNATURE_HEADER = "RedFire-Signature";

/**
 * Why `raw` may not receive webhooks, or null if it may. Deliveries leave from the platform,
 * so an address inside a private network must not be reachable through them: hosts that are
 * private, loopback, link-local, unique-local or otherwise special IP literals are refused,
 * and so is `localhost`. Development (a local run, and the tests' local receiver) also
 * allows plain http and loopback; no other environment does. A name that resolves to a
 * private address cannot be seen here; Workers' outbound fetch does not reach private
 * networks in the first place.
 */
export function webhookUrlProblem(raw: string, environment: string): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  const development = environment === "development";
  if (url.protocol !== "https:" && !(development && url.protocol === "http:")) return development ? "must be an http or https URL" : "must be an https URL";
  if (url.username || url.password) return "must not carry credentials";
  // The URL parser has already normalized the host: IPv4 in any notation is dotted decimal, IPv6 is bracketed.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const kind = host === "localhost" || host.endsWith(".localhost") ? "loopback" : host.startsWith("[") ? ipv6Kind(host.slice(1, -1)) : ipv4Kind(host);
  if (kind === null || (kind === "loopback" && development)) return null;
  return `must not point at a ${kind} address`;
}

type AddressKind = "loopback" | "private" | "link-local" | "unique-local" | "reserved";

/** The special kind of a dotted-decimal IPv4 host, or null (a public address or not an IPv4 literal). */
function ipv4Kind(host: string): AddressKind | null {
  const parts = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host)?.slice(1).map(Number);
  if (!parts) return null;
  return v4Kind(parts[0]! * 2 ** 24 + parts[1]! * 2 ** 16 + parts[2]! * 2 ** 8 + parts[3]!);
}

const V4_RANGES: [string, number, AddressKind][] = [
  ["0.0.0.0", 8, "reserved"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  // Documentation (TEST-NET-1, -2, -3) and the retired 6to4 relay anycast.
  ["192.0.2.0", 24, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["224.0.0.0", 4, "reserved"],
  ["240.0.0.0", 4, "reserved"],
];

function v4Kind(address: number): AddressKind | null {
  for (const [base, bits, kind] of V4_RANGES) {
    const b = base.split(".").map(Number);
    const start = b[0]! * 2 ** 24 + b[1]! * 2 ** 16 + b[2]! * 2 ** 8 + b[3]!;
    if (Math.floor(address / 2 ** (32 - bits)) === Math.floor(start / 2 ** (32 - bits))) return kind;
  }
  return null;
}

/** The special kind of an IPv6 literal (as the URL parser prints it: lower case, compressed). */
function ipv6Kind(host: string): AddressKind | null {
  const words = ipv6Words(host);
  if (!words) return "reserved";
  if (words.slice(0, 7).every((w) => w === 0)) return words[7] === 1 ? "loopback" : "reserved";
  // Forms that carry an IPv4 address in their last 32 bits reach it: IPv4-mapped
  // (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d) and
  // NAT64, the well-known prefix (64:ff9b::/96) and the local-use one (64:ff9b:1::/48).
  const mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
  const translated = words.slice(0, 4).every((w) => w === 0) && words[4] === 0xffff && words[5] === 0;
  const compatible = words.slice(0, 6).every((w) => w === 0);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && (words.slice(2, 6).every((w) => w === 0) || words[2] === 1);
  if (mapped || translated || compatible || nat64) return v4Kind(words[6]! * 2 ** 16 + words[7]!) ?? (nat64 && words[2] === 1 ? "private" : null);
  // 6to4 (2002::/16) carries an IPv4 address in bits 16–47.
  if (words[0] === 0x2002) return v4Kind(words[1]! * 2 ** 16 + words[2]!);
  // Teredo (2001::/32) hides an IPv4 address (inverted) in its last 32 bits; documentation
  // (2001:db8::/32) and discard-only (100::/64) reach nothing a webhook should.
  if (words[0] === 0x2001 && (words[1] === 0 || words[1] === 0xdb8)) return "reserved";
  if (words[0] === 0x100 && words.slice(1, 4).every((w) => w === 0)) return "reserved";
  if ((words[0]! & 0xfe00) === 0xfc00) return "unique-local";
  if ((words[0]! & 0xffc0) === 0xfe80) return "link-local";
  // Site-local (fec0::/10), deprecated but still routed as private by some stacks.
  if ((words[0]! & 0xffc0) === 0xfec0) return "private";
  if ((words[0]! & 0xff00) === 0xff00) return "reserved";
  return null;
}

function ipv6Words(host: string): number[] | null {
  const [head, tail, ...rest] = host.split("::");
  if (rest.length > 0 || head === undefined) return null;
  const parse = (s: string | undefined) => (s ? s.split(":").map((w) => (/^[0-9a-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN)) : []);
  const left = parse(head);
  const right = parse(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const words = [...left, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...right];
  return words.some(Number.isNaN) ? null : words;
}

/** Seconds before attempt `attempts + 1` of a delivery: 2, 4, 8, … doubling, at most an hour. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(3600, 2 ** Math.max(1, attempts));
}

/** The signature header's value for `body` sent at `unixSeconds` with the webhook's secret. */
export async function signatureHeader(secret: string, unixSeconds: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The one message on the webhooks queue (and its dead-letter queue): the delivery's row id. */
export const DeliveryMessage = z.object({ delivery_id: z.number().int().positive() });
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;

/** The body a webhook receives: the notification, under the id of the event that made it (the same on every retry and redelivery). */
export function webhookPayload(eventId: string, occurredAt: string, type: WebhookEventType, title: string, body: string, data: Record<string, unknown>): string {
  return JSON.stringify({ id: eventId, type, created_at: occurredAt, title, body, data });
}
