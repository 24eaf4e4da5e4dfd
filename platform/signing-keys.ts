import { importJWK, type JWK, type CryptoKey } from "jose";
import { z } from "zod";

// JWT_SIGNING_KEYS is a JSON array of private Ed25519 JWKs, each with a kid. The first
// signs; every key verifies and is published in the JWKS. Rotation: append a new key,
// move it to the front, and drop the old one once the access-token TTL has passed.
const PrivateJwk = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  kid: z.string().min(1),
  x: z.string().min(1),
  d: z.string().min(1),
});

export interface SigningKeys {
  signer: { kid: string; key: CryptoKey };
  verifiers: ReadonlyMap<string, CryptoKey>;
  jwks: { keys: JWK[] };
}

let cached: { source: string; keys: Promise<SigningKeys> } | undefined;

export function signingKeys(source: string): Promise<SigningKeys> {
  if (cached?.source !== source) cached = { source, keys: load(source) };
  return cached.keys;
}

async function load(source: string): Promise<SigningKeys> {
  const jwks = z.array(PrivateJwk).min(1, "JWT_SIGNING_KEYS holds no key").parse(JSON.parse(source));
  const verifiers = new Map<string, CryptoKey>();
  const published: JWK[] = [];
  for (const jwk of jwks) {
    const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" };
    verifiers.set(jwk.kid, (await importJWK(publicJwk, "EdDSA")) as CryptoKey);
    published.push(publicJwk);
  }
  const first = jwks[0]!;
  const signer = { kid: first.kid, key: (await importJWK({ ...first, alg: "EdDSA" }, "EdDSA")) as CryptoKey };
  return { signer, verifiers, jwks: { keys: published } };
}
