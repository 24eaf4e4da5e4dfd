import { SignJWT, jwtVerify, errors, type JWTHeaderParameters, type FlattenedJWSInput } from "jose";
import { signingKeys } from "./signing-keys";

// Access tokens are short-lived EdDSA JWTs naming the user and the session. The typ
// header ("at+jwt", RFC 9068) and the fixed algorithm close the classic confusions: no
// "alg: none", no HMAC-with-public-key, no other token type accepted as access.
const ISSUER = "redfire";
const AUDIENCE = "redfire-api";
const TYP = "at+jwt";

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

export async function issueAccessToken(secret: string, claims: AccessClaims, ttlSeconds: number): Promise<string> {
  const { signer } = await signingKeys(secret);
  return new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: TYP })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(signer.key);
}

/**
 * Tokens this isolate has verified, per set of signing keys: a client sends the same token
 * with every request of its lifetime (15 minutes), and checking an Ed25519 signature is
 * the costliest step of authenticating it. Only the verdict on a valid token is kept; its
 * expiry is checked again on every use, and whether its session still stands is the
 * account object's answer on every request (docs/identity.md). A new set of keys (a
 * rotation's step) is a new map, so a retired key's tokens are verified afresh.
 */
const verified = new Map<string, Map<string, { claims: AccessClaims; exp: number }>>();
/** Tokens remembered per set of keys (about 300 bytes each); the oldest go first. */
const VERIFIED_KEPT = 10_000;

/** The claims of a valid access token, or undefined for anything else. */
export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims | undefined> {
  let known = verified.get(secret);
  const hit = known?.get(token);
  if (hit) return Date.now() / 1000 < hit.exp ? { ...hit.claims } : undefined;
  const claims = await verifySignature(secret, token);
  if (!claims) return undefined;
  if (!known) {
    verified.clear();
    verified.set(secret, (known = new Map()));
  }
  if (known.size >= VERIFIED_KEPT) known.delete(known.keys().next().value!);
  known.set(token, claims);
  return { ...claims.claims };
}

async function verifySignature(secret: string, token: string): Promise<{ claims: AccessClaims; exp: number } | undefined> {
  const { verifiers } = await signingKeys(secret);
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters, _token: FlattenedJWSInput) => {
        const key = header.kid ? verifiers.get(header.kid) : undefined;
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      { algorithms: ["EdDSA"], issuer: ISSUER, audience: AUDIENCE, typ: TYP, requiredClaims: ["sub", "exp", "iat"] },
    );
    if (typeof payload.sub !== "string" || typeof payload.sid !== "string" || typeof payload.exp !== "number") return undefined;
    return { claims: { userId: payload.sub, sessionId: payload.sid }, exp: payload.exp };
  } catch {
    return undefined;
  }
}
