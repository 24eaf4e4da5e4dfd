// Bindings that record every call made through them, so a test can hold a path to its
// budget of hops: every RPC on a Durable Object stub (with the object's name), every D1
// statement, every queue send. In the Workers test runtime the gateway, every object and
// the test share one `env`, so instrumenting it records the calls of all of them; each
// entry names its target, which says who made it (only the gateway calls the account
// object on an order, only the account calls the symbol's venue).

export type CallLog = string[];

const NAMESPACES = ["ACCOUNT", "MARKET", "RATE_LIMITER", "STREAM_HUB", "BACKTEST", "CONFIG", "METRICS"] as const;

function recording<T extends object>(real: T, label: string, log: CallLog): T {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof prop !== "string" || prop === "then" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        log.push(`${label}.${prop}`);
        return (target as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args);
      };
    },
  });
}

function namespace(real: DurableObjectNamespace, binding: string, log: CallLog): DurableObjectNamespace {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (prop === "getByName") return (name: string) => recording(target.getByName(name), `${binding}(${name})`, log);
      if (prop === "get") return (id: DurableObjectId) => recording(target.get(id), `${binding}(${id.name ?? id.toString()})`, log);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

// D1 is wrapped in place, not behind a Proxy: code keys caches by the binding's identity.
function recordStatements(db: D1Database, log: CallLog): () => void {
  const target = db as unknown as Record<string, unknown>;
  const own = ["prepare", "exec"].map((method) => [method, Object.getOwnPropertyDescriptor(target, method)] as const);
  for (const [method] of own) {
    const real = target[method] as (...a: unknown[]) => unknown;
    target[method] = (...args: unknown[]) => {
      log.push(method === "prepare" ? `DB: ${String(args[0]).slice(0, 80)}` : "DB.exec");
      return real.apply(db, args);
    };
  }
  return () => {
    for (const [method, descriptor] of own) {
      if (descriptor) Object.defineProperty(target, method, descriptor);
      else delete target[method];
    }
  };
}

/**
 * Makes every call through `env`'s bindings (Durable Object namespaces, D1, the events
 * queue) land in `log` as "BINDING(name).method" or "DB: <sql>", until the returned
 * function puts the real bindings back.
 */
export function instrument(env: Env, log: CallLog): () => void {
  const wrapped: Record<string, unknown> = { EVENTS: recording(env.EVENTS, "EVENTS", log) };
  for (const name of NAMESPACES) wrapped[name] = namespace(env[name] as unknown as DurableObjectNamespace, name, log);
  const originals = Object.fromEntries(Object.keys(wrapped).map((key) => [key, env[key as keyof Env]]));
  Object.assign(env, wrapped);
  const restoreDb = recordStatements(env.DB, log);
  return () => {
    Object.assign(env, originals);
    restoreDb();
  };
}

/**
 * Waits until nothing has called through a binding for 1.5 s: the queue consumer, which
 * runs in this isolate too, works off the events of earlier requests (notifications,
 * projections) up to a batch timeout (1 s) after they were sent, and its calls are not the
 * measured request's.
 */
export async function quiet(env: Env): Promise<void> {
  const seen: CallLog = [];
  const restore = instrument(env, seen);
  try {
    const deadline = Date.now() + 15_000;
    let still = 0;
    while (still < 5 && Date.now() < deadline) {
      const before = seen.length;
      await new Promise((r) => setTimeout(r, 300));
      still = seen.length === before ? still + 1 : 0;
    }
  } finally {
    restore();
  }
}
