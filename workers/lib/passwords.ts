import { scrypt, timingSafeEqual } from "node:crypto";

// scrypt at OWASP's recommended strength (Password Storage Cheat Sheet: N=2^17,r=8,p=1 or
// the equivalent-cost N=2^14,r=8,p=5). We take N=2^14, r=8, p=5: 16 MiB per hash keeps
// several concurrent logins inside a Worker isolate's 128 MB. workerd runs scrypt natively
// (BoringSSL), so the cost is CPU time, not JavaScript. The password is first keyed with
// the pepper, so a stolen database alone cannot be brute-forced.
export const SCRYPT = { N: 2 ** 14, r: 8, p: 5, keyLength: 32 } as const;
const MAXMEM = 64 * 1024 * 1024;

function derive(password: string, pepper: string, salt: Uint8Array, params: { N: number; r: number; p: number }, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(`${pepper}\u0000${password}`, salt, keyLength, { ...params, maxmem: MAXMEM }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export async function hashPassword(password: string, pepper: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await derive(password, pepper, salt, SCRYPT, SCRYPT.keyLength);
  return `$scrypt$ln=${Math.log2(SCRYPT.N)},r=${SCRYPT.r},p=${SCRYPT.p}$${b64(salt)}$${b64(key)}`;
}

export async function verifyPassword(password: string, pepper: string, stored: string): Promise<boolean> {
  const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!match) return false;
  const [, ln, r, p, salt, hash] = match as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, "base64");
  const actual = await derive(password, pepper, Buffer.from(salt, "base64"), { N: 2 ** Number(ln), r: Number(r), p: Number(p) }, expected.length);
  return timingSafeEqual(actual, expected);
}

/** Whether a stored hash uses weaker parameters than today's and should be rehashed. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(`$scrypt$ln=${Math.log2(SCRYPT.N)},r=${SCRYPT.r},p=${SCRYPT.p}$`);
}

// A hash of a random password, verified against when the email is unknown so that both
// failures take the same time.
let decoy: Promise<string> | undefined;
export function decoyHash(pepper: string): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID(), pepper);
  return decoy;
}
