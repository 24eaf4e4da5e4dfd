import type { z } from "zod";
import { firstPerPath } from "../zod-messages";
import { CONFIG_KEYS, isConfigKey, scopeChain, scopeKind, type ConfigKey, type ConfigVars, type Scope } from "./keys";

// The rules of the versioned store, pure: a change is checked (key, scope, schema, the
// version it was based on) and becomes a new version recording who, when, why and the
// field-by-field diff; a rollback is a new version too. The ConfigStore object keeps
// the versions and the current overrides; the effective value of a key at a scope is
// its default from the vars, overlaid by the global override, then by the scope's own.

/** Every key's value is a flat object of JSON scalars (its schema says which); typed so, it crosses an RPC. */
export type Json = string | number | boolean | null;
export type Value = Record<string, Json>;

export interface Override {
  key: ConfigKey;
  scope: Scope;
  value: Value;
}

export interface FieldDiff {
  field: string;
  /** null when the field was not set. */
  before: Json;
  after: Json;
}

export interface Change {
  key: ConfigKey;
  scope: Scope;
  /** The override before and after; null when there was none (or it was deleted). */
  before: Value | null;
  after: Value | null;
  diff: FieldDiff[];
}

export interface Version {
  version: number;
  at: number;
  author: string;
  reason: string;
  action: "set" | "delete" | "rollback";
  rolledBackTo: number | null;
  changes: Change[];
}

export interface Refusal {
  status: 404 | 409 | 412 | 422;
  message: string;
  details: { path: string; message: string }[];
}

export type Applied = { ok: true; version: Version; overrides: Override[] } | { ok: false; refusal: Refusal };

/** What a write answers: its new version, or why it was refused. */
export type WriteResult = { ok: true; version: Version } | { ok: false; refusal: Refusal };

export interface Author {
  author: string;
  reason: string;
  at: number;
}

const refuse = (status: Refusal["status"], message: string, details: Refusal["details"] = []): Applied => ({ ok: false, refusal: { status, message, details } });

const sameTarget = (o: Override, key: string, scope: Scope) => o.key === key && o.scope === scope;

/** Field-level diff of two flat values; fields in neither are absent. */
export function diff(before: Value | null, after: Value | null): FieldDiff[] {
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  return fields
    .map((field) => ({ field, before: before?.[field] ?? null, after: after?.[field] ?? null }))
    .filter((d) => JSON.stringify(d.before) !== JSON.stringify(d.after));
}

/**
 * Where a key may be stored, and whether the value fits its schema and, given the
 * defaults from the vars, the key's bounds; a refusal names each bad field's path under `value`.
 */
export function check(key: string, scope: Scope, value: unknown, base?: Record<ConfigKey, Value>): { ok: true; key: ConfigKey; value: Value } | { ok: false; refusal: Refusal } {
  if (!isConfigKey(key)) return { ok: false, refusal: { status: 404, message: `no configuration key ${key}`, details: [] } };
  const wrongScope = scopeRefusal(key, scope);
  if (wrongScope) return { ok: false, refusal: wrongScope };
  const spec = CONFIG_KEYS[key];
  const parsed = (spec.schema as unknown as z.ZodType<Value>).safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      refusal: { status: 422, message: `value is invalid for ${key}`, details: firstPerPath(parsed.error.issues.map((i) => ({ path: ["value", ...i.path.map(String)].join("."), message: i.message }))) },
    };
  const out = outOfBounds(key, parsed.data, base);
  if (out) return { ok: false, refusal: out };
  return { ok: true, key, value: parsed.data };
}

/** Why `key` can have no value at `scope` (a malformed scope, or a kind of scope the key does not take); null when it can. */
export function scopeRefusal(key: ConfigKey, scope: Scope): Refusal | null {
  const kind = scopeKind(scope);
  const spec = CONFIG_KEYS[key];
  if (kind && (spec.scopes as readonly string[]).includes(kind)) return null;
  return { status: 422, message: `${key} cannot be set at scope ${scope}`, details: [{ path: "scope", message: `one of ${spec.scopes.map((s) => (s === "global" ? "global" : `${s}:<id>`)).join(", ")}` }] };
}

function outOfBounds(key: ConfigKey, value: Value, base: Record<ConfigKey, Value> | undefined): Refusal | null {
  const spec = CONFIG_KEYS[key];
  const issues = base && "bound" in spec ? spec.bound(value, base[key]) : [];
  return issues.length === 0 ? null : { status: 422, message: `value is out of bounds for ${key}`, details: issues.map((i) => ({ path: `value.${i.field}`, message: i.message })) };
}

function based(current: number, ifMatch: number): Refusal | null {
  return ifMatch === current ? null : { status: 412, message: `configuration is at version ${current}, not ${ifMatch}; read it again and retry`, details: [] };
}

/** Stores `value` as the override of `key` at `scope`, if the store is still at `ifMatch`. */
export function setOverride(current: number, overrides: readonly Override[], key: string, scope: Scope, value: unknown, ifMatch: number, by: Author, base?: Record<ConfigKey, Value>): Applied {
  const checked = check(key, scope, value, base);
  if (!checked.ok) return { ok: false, refusal: checked.refusal };
  const stale = based(current, ifMatch);
  if (stale) return { ok: false, refusal: stale };
  const before = overrides.find((o) => sameTarget(o, key, scope))?.value ?? null;
  const change: Change = { key: checked.key, scope, before, after: checked.value, diff: diff(before, checked.value) };
  return {
    ok: true,
    version: { version: current + 1, ...by, action: "set", rolledBackTo: null, changes: [change] },
    overrides: [...overrides.filter((o) => !sameTarget(o, key, scope)), { key: checked.key, scope, value: checked.value }],
  };
}

/** Removes the override of `key` at `scope` (the scope then inherits), if the store is still at `ifMatch`. */
export function deleteOverride(current: number, overrides: readonly Override[], key: string, scope: Scope, ifMatch: number, by: Author): Applied {
  if (!isConfigKey(key)) return refuse(404, `no configuration key ${key}`);
  const stale = based(current, ifMatch);
  if (stale) return { ok: false, refusal: stale };
  const before = overrides.find((o) => sameTarget(o, key, scope));
  if (!before) return refuse(404, `${key} has no override at ${scope}`);
  return {
    ok: true,
    version: { version: current + 1, ...by, action: "delete", rolledBackTo: null, changes: [{ key, scope, before: before.value, after: null, diff: diff(before.value, null) }] },
    overrides: overrides.filter((o) => o !== before),
  };
}

/** The overrides as they stood right after version `target`, from the versions up to it in order. */
export function overridesAt(history: readonly Version[], target: number): Override[] {
  const state = new Map<string, Override>();
  for (const v of history) {
    if (v.version > target) break;
    for (const c of v.changes) {
      const id = `${c.key}\u0000${c.scope}`;
      if (c.after) state.set(id, { key: c.key, scope: c.scope, value: c.after });
      else state.delete(id);
    }
  }
  return [...state.values()];
}

/**
 * Puts every override back as it stood right after version `target` (0: before any
 * change), as one new version whose changes undo everything since. `history` holds the
 * versions up to `target` at least, in order.
 */
export function rollback(current: number, overrides: readonly Override[], history: readonly Version[], target: number, ifMatch: number, by: Author, base?: Record<ConfigKey, Value>): Applied {
  if (!Number.isInteger(target) || target < 0 || target > current) return refuse(404, `no version ${target}; the latest is ${current}`);
  const stale = based(current, ifMatch);
  if (stale) return { ok: false, refusal: stale };
  const then = overridesAt(history, target);
  const targets = new Map<string, { key: ConfigKey; scope: Scope }>();
  for (const o of [...overrides, ...then]) targets.set(`${o.key}\u0000${o.scope}`, o);
  const changes: Change[] = [];
  for (const { key, scope } of targets.values()) {
    const before = overrides.find((o) => sameTarget(o, key, scope))?.value ?? null;
    const after = then.find((o) => sameTarget(o, key, scope))?.value ?? null;
    const d = diff(before, after);
    if (d.length > 0 || (before === null) !== (after === null)) changes.push({ key, scope, before, after, diff: d });
  }
  if (changes.length === 0) return refuse(409, `the configuration already stands as it did at version ${target}`);
  // The vars may have changed since (a deploy lowered the venue's fees): what was allowed then may not be now.
  for (const c of changes) {
    const out = c.after ? outOfBounds(c.key, c.after, base) : null;
    if (out) return { ok: false, refusal: { ...out, message: `${out.message} at ${c.scope}: cannot roll back to version ${target}` } };
  }
  return { ok: true, version: { version: current + 1, ...by, action: "rollback", rolledBackTo: target, changes }, overrides: then };
}

/** Every key's defaults from the vars; a bad var fails loudly, as the rest of the configuration does. */
export function defaults(vars: ConfigVars): Record<ConfigKey, Value> {
  return Object.fromEntries(Object.entries(CONFIG_KEYS).map(([key, spec]) => [key, spec.defaults(vars)])) as Record<ConfigKey, Value>;
}

/** A key's value at `scope`: its default, then the override of each scope from global to `scope`, field by field. */
export function effective(overrides: readonly Override[], base: Record<ConfigKey, Value>, key: ConfigKey, scope: Scope): Value {
  let value: Value = { ...base[key] };
  for (const s of scopeChain(scope)) {
    const o = overrides.find((x) => sameTarget(x, key, s));
    if (o) value = { ...value, ...o.value };
  }
  return value;
}

/** Every key's value at `scope`. */
export function effectiveAll(overrides: readonly Override[], base: Record<ConfigKey, Value>, scope: Scope): Record<ConfigKey, Value> {
  return Object.fromEntries(Object.keys(base).map((key) => [key, effective(overrides, base, key as ConfigKey, scope)])) as Record<ConfigKey, Value>;
}
