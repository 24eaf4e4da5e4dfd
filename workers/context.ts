import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "../shared/principal";
import type { Caller } from "../platform/credentials";
import type { DeferredGate } from "./middleware/admission";
import type { SpanLine } from "../platform/trace";

export type { Principal };


export interface Variables {
  requestId: string;
  traceId: string;
  spanId: string;
  traceparent: string;
  clientIp: string;
  /** Who the credentials name, before the user's object has admitted the request. */
  caller: Caller | undefined;
  /** The caller as admitted by the user's object. */
  principal: Principal | undefined;
  /** On a one-hop route: the gate the route hands to the user's object with its command. */
  deferredGate: DeferredGate | undefined;
  /** The spans of the calls this request made that answered with them, for its log line (platform/trace.ts). */
  spans: SpanLine[];
  /** Why presented credentials were refused; reported only on routes that need them. */
  authFailure: string | undefined;
}

export interface AppEnv {
  Bindings: Env;
  Variables: Variables;
}

export type App = OpenAPIHono<AppEnv>;
