import { type ApiError, unprocessable } from "./errors";

// NIST SP 800-63B / OWASP: length over composition rules, no known-breached or
// context-derived passwords. Each violated rule is reported by name so clients can say
// which one failed.
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

// The most common passwords of at least the minimum length in public breach corpora.
const COMMON = new Set([
  "123456789012",
  "password1234",
  "passwordpassword",
  "qwertyuiopas",
  "qwerty123456",
  "iloveyou1234",
  "111111111111",
  "000000000000",
  "1q2w3e4r5t6y",
  "aaaaaaaaaaaa",
  "abcdefghijkl",
  "abc123abc123",
  "letmeinletmein",
  "administrator",
  "welcome12345",
  "changeme1234",
  "trustno1trustno1",
  "football1234",
  "baseball1234",
  "monkey123456",
  "dragon123456",
  "sunshine1234",
  "princess1234",
  "superman1234",
  "1234567890ab",
  "redfire12345",
]);

export type PasswordRule = "min_length" | "max_length" | "common_password" | "contains_identity" | "repeated_characters";

export interface PasswordViolation {
  rule: PasswordRule;
  message: string;
}

/** The 422 for a password that breaks rules, naming each one; undefined when it is fine. */
export function weakPasswordError(violations: PasswordViolation[], path: string): ApiError | undefined {
  if (violations.length === 0) return undefined;
  return unprocessable(
    `password is too weak: ${violations.map((v) => v.rule).join(", ")}`,
    violations.map((v) => ({ path, message: v.message, rule: v.rule })),
  );
}

export function passwordViolations(password: string, identity: { email?: string; username?: string }): PasswordViolation[] {
  const violations: PasswordViolation[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH)
    violations.push({ rule: "min_length", message: `password must be at least ${PASSWORD_MIN_LENGTH} characters` });
  if (length > PASSWORD_MAX_LENGTH)
    violations.push({ rule: "max_length", message: `password must be at most ${PASSWORD_MAX_LENGTH} characters` });
  const lower = password.toLowerCase();
  if (COMMON.has(lower))
    violations.push({ rule: "common_password", message: "password is too common; choose a less predictable one" });
  const email = identity.email?.toLowerCase();
  const localPart = email?.split("@")[0];
  // The whole address whatever its length (eve@ex.com); its local part and the username
  // from four characters (shorter ones match too many honest passwords).
  const names = [email, ...[localPart, identity.username?.toLowerCase()].filter((n) => !!n && n.length >= 4)].filter((n): n is string => !!n);
  if (names.some((n) => lower.includes(n)))
    violations.push({ rule: "contains_identity", message: "password must not contain your email or username" });
  if (length > 0 && new Set(password).size < 4)
    violations.push({ rule: "repeated_characters", message: "password must use at least 4 different characters" });
  return violations;
}
