import { z } from "zod";
import { DEFAULT_LIMITS, RiskLimits } from "../trading/risk";

// The configuration keys an admin may change at run time (docs/config.md), each with its
// schema, the scopes it may be set at and its default from the environment's vars. Only
// these keys exist: secrets are vars of another kind and can never be stored or shown here.

export const SCOPE_KINDS = ["global", "account", "symbol"] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

/** "global", "account:<user id>" or "symbol:<SYMBOL>". */
export type Scope = string;

export const RateLimits = z.object({
  windowSeconds: z.number().int().positive().max(86_400),
  auth: z.number().int().positive(),
  trading: z.number().int().positive(),
  default: z.number().int().positive(),
});
export type RateLimits = z.infer<typeof RateLimits>;

const FlagName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be lower_snake_case, at most 64 characters");

/** The vars a key's default comes from (strings, as wrangler.toml gives them). */
export interface ConfigVars {
  RISK_LIMITS?: string;
  RATE_LIMITS?: string;
}

interface KeySpec {
  /** What a stored value must be: a partial object, merged field by field over the scopes below it. */
  schema: z.ZodType<Record<string, unknown>>;
  scopes: readonly ScopeKind[];
  description: string;
  defaults: (vars: ConfigVars) => Record<string, unknown>;
}

const parsedVar = (value: string | undefined): object => (value ? (JSON.parse(value) as object) : {});

export const CONFIG_KEYS = {
  risk_limits: {
    schema: RiskLimits.partial().strict(),
    scopes: ["global", "account"],
    description: "Pre-trade risk limits (RISK_LIMITS); per account over global",
    defaults: (vars) => RiskLimits.parse({ ...DEFAULT_LIMITS, ...parsedVar(vars.RISK_LIMITS) }),
  },
  rate_limits: {
    schema: RateLimits.partial().strict(),
    scopes: ["global", "account"],
    description: "Requests per window per user and route class (RATE_LIMITS); per account over global",
    defaults: (vars) => RateLimits.parse(parsedVar(vars.RATE_LIMITS)),
  },
  feature_flags: {
    schema: z.record(FlagName, z.boolean()),
    scopes: ["global"],
    description: "Named on/off switches",
    defaults: () => ({}),
  },
} satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

export const isConfigKey = (key: string): key is ConfigKey => Object.hasOwn(CONFIG_KEYS, key);

const SCOPE = /^(global|account:[A-Za-z0-9_-]{1,64}|symbol:[A-Z0-9./-]{1,32})$/;

export function scopeKind(scope: Scope): ScopeKind | null {
  if (!SCOPE.test(scope)) return null;
  return scope.split(":")[0] as ScopeKind;
}

/** The scopes a value at `scope` is merged over, least specific first, ending with `scope`. */
export function scopeChain(scope: Scope): Scope[] {
  return scope === "global" ? ["global"] : ["global", scope];
}
