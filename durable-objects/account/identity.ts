import { identityRecords, keyUsedWrite, userRecord } from "../../platform/credentials";
import { can, permissionsOf, type Permission } from "../../shared/rbac";
import { logger } from "../../platform/log";
import { admit, type Credential, type GateOutcome, type GateRequest, type Gated, type KeyRecord, type RateBucket, type SessionRecord, type UserRecord } from "../../shared/identity/gate";
import type { WindowState } from "../../shared/sliding-window";

const log = logger("account");

/**
 * How long a user or credential learnt from D1 is trusted without reading it again. Every
 * change made through the API reaches the object at once (`forget`, awaited before the
 * change answers); this bounds what a change made around it (a direct D1 write, a push
 * that failed twice) can take to be seen.
 */
export const IDENTITY_FRESH_MS = 60_000;
const MAX_READS = 3;

interface Known<T> {
  value: T | null;
  readAt: number;
}

/**
 * The user's side of the gate (shared/identity/gate.ts), in the user's object: what D1 says
 * of the user and of the credentials seen lately, in memory, and the rate windows. An
 * evicted object has forgotten them and reads D1 again once; the windows restart, which in
 * production happens only after the object was idle longer than a window.
 */
export class IdentityDesk {
  #user: Known<UserRecord> | undefined;
  readonly #records = new Map<string, Known<SessionRecord | KeyRecord>>();
  readonly #windows = new Map<RateBucket, WindowState>();
  readonly #keyUsedAt = new Map<string, number>();
  /** Bumped by every change, so a D1 read that raced one is not kept. */
  #generation = 0;

  constructor(
    private readonly env: Env,
    private readonly userId: string,
  ) {}

  async admit(request: GateRequest): Promise<GateOutcome> {
    return (await this.#check(request)).outcome;
  }

  /** The gate, then the user as D1 last said (GET /api/users/me). */
  async me(request: GateRequest): Promise<Gated<UserRecord>> {
    const { outcome, user } = await this.#check(request);
    // An admitted request has a user: the gate refuses a credential without one.
    return outcome.admitted ? { admitted: true, rate: outcome.rate, value: user! } : outcome;
  }

  async #check(request: GateRequest): Promise<{ outcome: GateOutcome; user: UserRecord | null }> {
    const { user, record } = await this.#known(request.credential);
    const now = Date.now();
    const outcome = admit(user, record, request, this.#windows, now);
    if (outcome.admitted && request.credential.kind === "api_key") this.#touchKey(request.credential.keyId, now);
    return { outcome, user };
  }

  /**
   * Why the user may not act with `permission` now (disabled, deleted, or a role without it),
   * or null: the check of what the user's live strategies do, which carry no credential of
   * their own. The user is read from D1 as the gate reads it (kept, and forgotten on change).
   */
  async refusal(permission: Permission): Promise<string | null> {
    let user = this.#user;
    if (!user || Date.now() - user.readAt >= IDENTITY_FRESH_MS) {
      const generation = this.#generation;
      const now = Date.now();
      const value = await userRecord(this.env, this.userId);
      user = { value, readAt: now };
      if (generation === this.#generation) this.#user = user;
    }
    const found = user.value;
    if (!found) return "the user no longer exists";
    if (found.status !== "active") return "the user is disabled";
    return can(permissionsOf(found.role), permission) ? null : `the owner's role (${found.role}) no longer has ${permission}`;
  }

  /** A change to the user or their credentials was committed in D1: read them again on next use. */
  forget(): void {
    this.#generation += 1;
    this.#user = undefined;
    this.#records.clear();
  }

  async #known(credential: Credential): Promise<{ user: UserRecord | null; record: SessionRecord | KeyRecord | null }> {
    const id = credential.kind === "session" ? `session:${credential.sessionId}` : `key:${credential.keyId}`;
    for (let read = 1; ; read++) {
      const now = Date.now();
      const user = this.#user;
      const record = this.#records.get(id);
      if (user && record && now - user.readAt < IDENTITY_FRESH_MS && now - record.readAt < IDENTITY_FRESH_MS) return { user: user.value, record: record.value };
      const generation = this.#generation;
      const found = await identityRecords(this.env, this.userId, credential);
      // A change that came in while D1 was read may not be in what it answered: read again.
      // After a few, the answer is used for this request and not kept.
      if (generation !== this.#generation && read < MAX_READS) continue;
      if (generation === this.#generation) {
        this.#user = { value: found.user, readAt: now };
        this.#records.set(id, { value: found.record, readAt: now });
        if (credential.kind === "api_key" && found.keyUsedAt !== null) this.#keyUsedAt.set(credential.keyId, found.keyUsedAt);
      }
      return found;
    }
  }

  // The key list shows when each key was last used, to the minute; the write goes to D1 in
  // the background, off the request's path.
  #touchKey(keyId: string, now: number): void {
    const write = keyUsedWrite(this.env, keyId, now, this.#keyUsedAt.get(keyId) ?? null);
    if (!write) return;
    this.#keyUsedAt.set(keyId, now);
    write.catch((error: unknown) => log("warn", "could not record when the API key was last used", { keyId, error: String(error) }));
  }
}
