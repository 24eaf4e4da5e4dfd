import { z } from "@hono/zod-openapi";
import { shownName, wholeParam } from "./common";
import { API_KEY_SCOPES, ROLES } from "../rbac";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../password-policy";

const Email = z
  .email({ error: "must be a valid email address" })
  .max(254)
  .transform((e) => e.toLowerCase())
  .openapi({ example: "ada@example.com" });

const Username = z
  .string()
  .min(3, "must be at least 3 characters")
  .max(32, "must be at most 32 characters")
  .regex(/^[A-Za-z0-9_.-]+$/, "may contain only letters, digits, '_', '.' and '-'")
  .transform((u) => u.toLowerCase())
  .openapi({ example: "ada" });

// Length is bounded here only to refuse absurd inputs before hashing; the strength rules
// (with their names) are checked by shared/password-policy.ts.
const Password = z.string().min(1).max(PASSWORD_MAX_LENGTH * 4).openapi({ example: "correct horse battery staple" });

// A password being chosen: the same check here, so a short one gets the policy's named
// rules (min_length, …), not a schema message; the document shows the policy's lengths,
// which it counts in characters (code points), as JSON Schema's minLength/maxLength do.
const NewPassword = Password.openapi({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters, not a common password, not containing the email or username, at least 4 different characters (shared/password-policy.ts); a password that breaks a rule is a 422 naming each rule`,
});

export const RegisterRequest = z
  .object({ email: Email, username: Username, password: NewPassword, display_name: shownName(64).optional() })
  .strict()
  .openapi("RegisterRequest");

export const LoginRequest = z
  .object({ email: Email, password: Password })
  .strict()
  .openapi("LoginRequest");

export const RefreshRequest = z
  .object({ refresh_token: z.string().min(1).max(512) })
  .strict()
  .openapi("RefreshRequest");

export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ example: 900 }),
    refresh_token: z.string(),
  })
  .openapi("TokenResponse");

export const User = z
  .object({
    id: z.uuid(),
    email: z.string(),
    username: z.string(),
    display_name: z.string().nullable(),
    role: z.enum(ROLES),
    status: z.enum(["active", "disabled"]),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("User");

export const RegisterResponse = TokenResponse.extend({ user: User }).openapi("RegisterResponse");

export const UpdateProfileRequest = z
  .object({ username: Username.optional(), display_name: shownName(64).nullable().optional() })
  .strict()
  .refine((b) => b.username !== undefined || b.display_name !== undefined, { message: "nothing to update: give username or display_name" })
  .openapi("UpdateProfileRequest");

export const ChangePasswordRequest = z
  .object({ current_password: Password, new_password: NewPassword })
  .strict()
  .openapi("ChangePasswordRequest");

export const CreateApiKeyRequest = z
  .object({
    name: shownName(64).openapi({ example: "my trading bot" }),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1, "give at least one scope")
      .max(API_KEY_SCOPES.length)
      .refine((s) => new Set(s).size === s.length, "scopes must not repeat")
      .openapi({ example: ["read", "trade"] }),
  })
  .strict()
  .openapi("CreateApiKeyRequest");

export const ApiKey = z
  .object({
    key_id: z.string().openapi({ example: "RKQ4V7M2X9TB3KD8WZ1P" }),
    name: z.string(),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable(),
  })
  .openapi("ApiKey");

export const CreatedApiKey = ApiKey.extend({
  secret: z.string().openapi({ description: "Shown once; store it now. Only its hash is kept." }),
}).openapi("CreatedApiKey");

export const KeyIdParam = z.object({
  key_id: z.string().regex(/^RK[A-Z0-9]{18}$/, "is not an API key id").openapi({ param: { name: "key_id", in: "path" } }),
});

export const UserIdParam = z.object({
  user_id: z.uuid({ error: "must be a user id (UUID)" }).openapi({ param: { name: "user_id", in: "path" } }),
});

export const AdminUpdateUserRequest = z
  .object({ role: z.enum(ROLES).optional(), status: z.enum(["active", "disabled"]).optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.status !== undefined, { message: "nothing to update: give role or status" })
  .openapi("AdminUpdateUserRequest");

/** The longest text GET /api/admin/users searches for. */
export const USER_SEARCH_MAX = 100;

export const ListUsersQuery = z.object({
  limit: wholeParam("limit", 1, 500).default(100),
  page_token: z.uuid({ error: "not a page token from this list" }).optional().openapi({ description: "next_page_token of the previous page" }),
  after: z.uuid({ error: "must be a user id (UUID)" }).optional().openapi({ description: "cursor: the last user id of the previous page (the same as page_token)" }),
  // Each refusal names the parameter and what it takes (zod's own read "Invalid option: expected one of …").
  role: z.enum(ROLES, { error: `role must be one of ${ROLES.join(", ")}` }).optional(),
  status: z.enum(["active", "disabled"], { error: "status must be active or disabled" }).optional(),
  // An admin with many users finds one by a part of their email or username (QA: only id order, no search).
  q: z
    .string()
    .trim()
    .min(1, { error: "q must not be empty" })
    .max(USER_SEARCH_MAX, { error: `q must be at most ${USER_SEARCH_MAX} characters` })
    .optional()
    .describe(
      `Only users whose email or username contains this text, in any case (${USER_SEARCH_MAX} characters at most; % and _ are literal); combines with role and status, and the next page continues the same search when q is sent with page_token`,
    ),
});

export const UserList = z
  .object({ users: z.array(User), next_page_token: z.string().nullable() })
  .openapi("UserList");

/** One of a user's open sign-ins (GET /api/sessions). */
export const Session = z
  .object({
    id: z.uuid(),
    created_at: z.string().openapi({ description: "When the user signed in (RFC 3339)" }),
    last_refreshed_at: z.string().nullable().openapi({ description: "When its refresh token was last rotated; the sign-in's own time until then" }),
    expires_at: z.string().openapi({ description: "When its refresh token stops working, unless ended before" }),
    user_agent: z.string().nullable().openapi({ description: "The User-Agent it signed in with (256 characters at most)" }),
    current: z.boolean().openapi({ description: "Whether it is the session of the request's access token" }),
  })
  .openapi("Session");
