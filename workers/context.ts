import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ApiKeyScope, Permission, Role } from "../shared/rbac";

export interface Principal {
  userId: string;
  role: Role;
  permissions: ReadonlySet<Permission>;
  /** How the request authenticated: a login session (JWT) or an API key. */
  via: { kind: "session"; sessionId: string } | { kind: "api_key"; keyId: string; scopes: readonly ApiKeyScope[] };
}

export interface Variables {
  requestId: string;
  traceId: string;
  spanId: string;
  traceparent: string;
  clientIp: string;
  principal: Principal | undefined;
  /** Why presented credentials were refused; reported only on routes that need them. */
  authFailure: string | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: Variables;
}

export type App = OpenAPIHono<AppEnv>;
