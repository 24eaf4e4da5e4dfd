import { importJWK, type JWK, type CryptoKey } from "jose";
import { z } from "zod";
import { ApiError } from "../shared/errors";

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

/**
 * The keys, or a 503 saying what is wrong with the secret: no token can be signed or
 * checked without them, and a request that needs one is refused as a fault of the
 * platform's configuration, not answered with an unexplained 500 (found in QA: with `[]`,
 * a sign-up stored its user and then failed).
 */
export function signingKeys(source: string): Promise<SigningKeys> {
  if (cached?.source !== source) cached = { source, keys: load(source) };
  return cached.keys;
}

async function load(source: string): Promise<SigningKeys> {
  try {
    return await loadKeys(source);
  } catch (error) {
    const why = error instanceof z.ZodError ? (error.issues[0]?.message ?? "not a list of Ed25519 JWKs") : error instanceof Error ? error.message : String(error);
    throw new ApiError(503, `the platform has no usable signing key (JWT_SIGNING_KEYS: ${why}); an operator must set the secret`, [], 10000);
  }
}

async function loadKeys(source: string): Promise<SigningKeys> {
  const jwks = z.array(PrivateJwk).min(1, "holds no key").parse(JSON.parse(source));
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
