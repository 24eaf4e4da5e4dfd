import type { ApiKeyScope, Permission, Role } from "./rbac";

// Who a request or a socket acts for, as the credential checks establish it.
export interface Principal {
  userId: string;
  role: Role;
  permissions: ReadonlySet<Permission>;
  /** How the request authenticated: a login session (JWT) or an API key. */
  via: { kind: "session"; sessionId: string } | { kind: "api_key"; keyId: string; scopes: readonly ApiKeyScope[] };
}
