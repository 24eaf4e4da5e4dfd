import { z } from "zod";
import { VenueSettings } from "../trading/config";
import { parseMoney } from "../trading/money";
import { DEFAULT_LIMITS, RiskLimits } from "../trading/risk";
import { DEFAULT_VENUE } from "../venue/venue";
import { DEFAULT_SOCKET_LIMITS, SocketLimits } from "../stream/limits";

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
  /** Market data (`/v2/stocks/…`, `/v1beta3/crypto/…`): its own budget, as Alpaca counts its data API apart, so a history walk never starves the account's calls. */
  data: z.number().int().positive(),
  default: z.number().int().positive(),
});
export type RateLimits = z.infer<typeof RateLimits>;

/** How failed sign-ins are counted (LOGIN_THROTTLE): per account and per client, slowed after `freeFailures`, refused past the limits. */
export const LoginThrottle = z.object({
  windowSeconds: z.number().int().positive().max(86_400),
  perAccount: z.number().int().positive(),
  perClient: z.number().int().positive(),
  freeFailures: z.number().int().nonnegative(),
  maxDelayMs: z.number().int().nonnegative().max(60_000),
});
export type LoginThrottle = z.infer<typeof LoginThrottle>;

const FlagName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be lower_snake_case, at most 64 characters");
/**
 * Flags the store keeps at most. Each version stores the whole value before and after, so
 * with no bound a few thousand flags made a version row larger than SQLite takes (found in
 * QA): every later write, rollback and delete of the key failed, and nothing could undo it.
 */
export const MAX_FEATURE_FLAGS = 200;

/** The vars a key's default comes from (strings, as wrangler.toml gives them). */
export interface ConfigVars {
  RISK_LIMITS?: string;
  RATE_LIMITS?: string;
  LOGIN_THROTTLE?: string;
  VENUE?: string;
  SOCKET_LIMITS?: string;
}

/** A field of a stored value that is well-formed but not allowed here, with why. */
export interface BoundIssue {
  field: string;
  message: string;
}

interface KeySpec {
  /** What a stored value must be: a partial object, merged field by field over the scopes below it. */
  schema: z.ZodType<Record<string, unknown>>;
  scopes: readonly ScopeKind[];
  description: string;
  defaults: (vars: ConfigVars) => Record<string, unknown>;
  /** Limits a value must keep relative to the key's defaults (a value checked by the schema, the defaults from the vars). */
  bound?: (value: Record<string, unknown>, defaults: Record<string, unknown>) => BoundIssue[];
}

/**
 * Accounts hold cash for an order's worst fee by the vars' VENUE before it reaches the
 * venue (shared/trading/risk.ts), so a venue may charge less than that, never more: a fill
 * costing more than its reservation would be refused by the account's ledger.
 */
function venueBound(value: Record<string, unknown>, defaults: Record<string, unknown>): BoundIssue[] {
  const issues: BoundIssue[] = [];
  for (const field of ["makerBps", "takerBps"] as const) {
    const v = value[field];
    if (typeof v === "number" && v > (defaults[field] as number))
      issues.push({ field, message: `at most ${defaults[field] as number}, the fee accounts reserve for (VENUE); a higher fee needs a deploy` });
  }
  const min = value.minFee;
  if (typeof min === "string" && parseMoney(min)! > parseMoney(defaults.minFee as string)!)
    issues.push({ field: "minFee", message: `at most ${defaults.minFee as string}, the minimum fee accounts reserve for (VENUE); a higher one needs a deploy` });
  return issues;
}

/**
 * Rate limits that leave every class at least one request a minute, over the defaults: a
 * limit of 1 a day (found in QA) locked its user out of everything, the configuration API
 * that could undo it included, and at global scope it would lock out every admin.
 */
function rateBound(value: Record<string, unknown>, defaults: Record<string, unknown>): BoundIssue[] {
  const merged = { ...defaults, ...value } as RateLimits;
  const issues: BoundIssue[] = [];
  for (const field of ["auth", "trading", "data", "default"] as const) {
    // A class the override did not set is short because of the window: one issue names it.
    const named = field in value ? field : "windowSeconds";
    if (merged[field] * 60 < merged.windowSeconds && !issues.some((i) => i.field === named))
      issues.push({ field: named, message: `${merged[field]} requests in ${merged.windowSeconds} s is less than one a minute; allow at least ${Math.ceil(merged.windowSeconds / 60)} in that window, or shorten the window` });
  }
  return issues;
}

/**
 * A sign-in window of at least a minute: a window of a second forgot every failure at once
 * and turned the brute-force lockout off (found in QA); rate limits keep a like floor.
 */
function throttleBound(value: Record<string, unknown>): BoundIssue[] {
  const window = value.windowSeconds;
  return typeof window === "number" && window < 60 ? [{ field: "windowSeconds", message: "at least 60: a shorter window forgets failed sign-ins before they are counted" }] : [];
}

/** One message may name no more symbols than one socket may hold (a subscribe of more could never be taken). */
function socketBound(value: Record<string, unknown>, defaults: Record<string, unknown>): BoundIssue[] {
  const merged = { ...defaults, ...value } as SocketLimits;
  if (merged.symbolsPerMessage <= merged.symbolsPerConnection) return [];
  const field = "symbolsPerMessage" in value ? "symbolsPerMessage" : "symbolsPerConnection";
  return [{ field, message: `symbolsPerMessage (${merged.symbolsPerMessage}) must be at most symbolsPerConnection (${merged.symbolsPerConnection})` }];
}

const parsedVar = (value: string | undefined): object => (value ? (JSON.parse(value) as object) : {});

export const CONFIG_KEYS = {
  risk_limits: {
    schema: RiskLimits.partial().strict(),
    scopes: ["global", "account"],
    description: "Pre-trade risk limits (RISK_LIMITS); per account over global; decimal limits above 0",
    defaults: (vars) => RiskLimits.parse({ ...DEFAULT_LIMITS, ...parsedVar(vars.RISK_LIMITS) }),
  },
  rate_limits: {
    schema: RateLimits.partial().strict(),
    scopes: ["global", "account"],
    description: "Requests per window per user and route class (RATE_LIMITS); per account over global; at least one a minute in every class",
    defaults: (vars) => RateLimits.parse(parsedVar(vars.RATE_LIMITS)),
    bound: rateBound,
  },
  feature_flags: {
    schema: z.record(FlagName, z.boolean()).refine((flags) => Object.keys(flags).length <= MAX_FEATURE_FLAGS, `at most ${MAX_FEATURE_FLAGS} flags`),
    scopes: ["global"],
    description: `Named on/off switches; at most ${MAX_FEATURE_FLAGS}`,
    defaults: () => ({}),
  },
  venue: {
    schema: VenueSettings.partial().strict(),
    scopes: ["global", "symbol"],
    description: "The venue's fees (basis points, minimum in USD) and liquidity model (VENUE); per symbol over global; fees at most the vars'",
    defaults: (vars) => VenueSettings.parse({ ...DEFAULT_VENUE, ...parsedVar(vars.VENUE) }),
    bound: venueBound,
  },
  login_throttle: {
    schema: LoginThrottle.partial().strict(),
    scopes: ["global"],
    description: "Failed sign-ins per account and per client before refusal, and the slow-down (LOGIN_THROTTLE); a window of at least 60 s",
    defaults: (vars) => LoginThrottle.parse(parsedVar(vars.LOGIN_THROTTLE)),
    bound: throttleBound,
  },
  socket_limits: {
    schema: SocketLimits.partial().strict(),
    scopes: ["global"],
    description: "Client sockets: connections per user, frame size, messages per window, symbols per message and per socket (SOCKET_LIMITS); no more symbols per message than per socket",
    defaults: (vars) => SocketLimits.parse({ ...DEFAULT_SOCKET_LIMITS, ...parsedVar(vars.SOCKET_LIMITS) }),
    bound: socketBound,
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
