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

/** The claims of a valid access token, or undefined for anything else. */
export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims | undefined> {
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
    if (typeof payload.sub !== "string" || typeof payload.sid !== "string") return undefined;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return undefined;
  }
}
