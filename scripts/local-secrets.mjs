// Fresh local secrets: an Ed25519 signing key (as a private JWK with a kid) and a
// pepper. Used by `npm run dev` (written once to .dev.vars) and by the test config.
import { generateKeyPairSync, randomBytes } from "node:crypto";

export function newSigningKey(kid = `local-${randomBytes(4).toString("hex")}`) {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d, kid };
}

export function localSecrets() {
  return {
    JWT_SIGNING_KEYS: JSON.stringify([newSigningKey()]),
    PASSWORD_PEPPER: randomBytes(32).toString("base64url"),
  };
}
