import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "../shared/principal";

export type { Principal };


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
