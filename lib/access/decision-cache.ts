import "server-only";
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { drainBeforeClose, getSql } from "@/db/client";
import type { Feature } from "@/db/enums";
import { env } from "@/env";
import type { Entitlements, Facts } from "./policy";

// Live decisions from memory. Each instance keeps what `decide` reads (lib/access/policy.ts
// `factsOf`) in bounded LRU maps, filled on demand from the same query, and forgets entries when
// Postgres says they changed: triggers (migration 0023) send 'u:<user ids>', 'e:<environment ids>',
// 's:<session ids>' or '*' on the channel below at commit, and this module LISTENs on one dedicated
// connection. It is an optimisation only: the rule stays in `decide`, which gets the same facts
// either way, and whenever this instance cannot be sure its memory is current (listener not yet
// confirmed, connection lost, heartbeat missed) it answers `null` and `decide` reads the database.

export const DECISIONS_CHANNEL = "iam_decisions";
const LISTENER_APP_NAME = "iam-decisions-listener";

/** A Map kept in least-recently-used order (a Map iterates in insertion order). */
class Lru<K, V> {
  private map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get size() {
    return this.map.size;
  }
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  delete(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
}

type UserRow = Pick<Facts, "id" | "email" | "status" | "revoked_before">;
/** One user's facts in one environment and feature; valid while the environment's generation is `gen`. */
type Scope = { gen: number; hasAccess: boolean; grants: Facts["grants"] };
type UserEntry = { row?: UserRow; scopes: Map<string, Scope>; entitlements: Map<string, { gen: number; value: Entitlements }> };
type Event = { seq: number; kind: "u" | "e" | "s" | "t" | "*"; ids: Set<string> };

export type DecisionCacheOptions = {
  /** Users kept (each with their facts per environment and feature and their token entitlements). */
  maxUsers?: number;
  maxSessions?: number;
  maxResources?: number;
  /** The listener connection is checked this often; a check that fails marks the cache stale. */
  heartbeatMs?: number;
  /** Awaited before listening again after a drop (tests hold the cache stale with it). */
  beforeReconnect?: () => Promise<void>;
};

export type DecisionCacheStats = { live: boolean; users: number; sessions: number; resources: number; hits: number; misses: number; bypassed: number; listenerPid: number | null };

// A user with more grants than this in one environment and feature is read from the database
// each time (the cache's memory per user stays small).
const MAX_GRANTS_PER_SCOPE = 200;
// Invalidations remembered to settle fills that raced them (see `mayStore`): a fill is a few
// milliseconds, and one that started more than this many invalidations ago is simply not kept.
// Each holds at most 100 ids, so this stays under ~10 MB even when every one is full.
const RECENT_EVENTS = 1024;

export class DecisionCache {
  private readonly users: Lru<string, UserEntry>;
  /** A subject looked up by email (the exact string asked), with the email the user had then. */
  private readonly emails: Lru<string, { id: string; email: string }>;
  private readonly sessions: Lru<string, { userId: string; open: boolean }>;
  /** `${environment}|${feature}|${resource}` → its name, or null when no such resource there. */
  private readonly resources: Lru<string, { gen: number; name: string | null }>;
  /** Per environment, the sequence number of its last invalidation: entries older than it are void. */
  private readonly envGen = new Map<string, number>();
  /**
   * Other lookups every machine request starts with (an API token by its hash, an environment by
   * its key): `${bucket}|${key}` → the value and the ids whose invalidation voids it ('t:<token
   * ids>'; environments change rarely and flush everything).
   */
  private readonly lookups = new Lru<string, { value: unknown; ids: readonly string[] }>(20_000);
  private readonly lookupKeysById = new Map<string, Set<string>>();
  private readonly recent: Event[] = [];
  private seq = 0;
  private live = false;
  private client: postgres.Sql | undefined;
  private connecting: Promise<void> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private listenerPid: number | null = null;
  private readonly markers = new Map<string, () => void>();
  private readonly liveWaiters = new Set<() => void>();
  private counters = { hits: 0, misses: 0, bypassed: 0 };

  constructor(
    private readonly url: string,
    private readonly options: DecisionCacheOptions = {},
  ) {
    this.users = new Lru(options.maxUsers ?? 50_000);
    this.emails = new Lru(options.maxUsers ?? 50_000);
    this.sessions = new Lru(options.maxSessions ?? 50_000);
    this.resources = new Lru(options.maxResources ?? 20_000);
  }

  get databaseUrl() {
    return this.url;
  }

  stats(): DecisionCacheStats {
    return { live: this.live, users: this.users.size, sessions: this.sessions.size, resources: this.resources.size, ...this.counters, listenerPid: this.listenerPid };
  }

  /** Starts listening (once; again after a drop). Decisions read the database until it is confirmed. */
  start(): void {
    if (this.stopped || this.live || this.connecting) return;
    this.connecting = this.connect().finally(() => (this.connecting = undefined));
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      // `onnotify` is an option postgres.js reads but does not type; `sql.listen` is not used because
      // its reconnect is silent (and gives up for good when Postgres is down at that moment), while
      // this cache must know the instant its connection is gone.
      const options = {
        max: 1,
        max_lifetime: null,
        fetch_types: false,
        connect_timeout: 10,
        onnotice: () => {},
        connection: { application_name: LISTENER_APP_NAME },
        onnotify: (_channel: string, payload: string) => this.onMessage(payload),
        onclose: () => {
          if (this.client === client) this.drop();
        },
      };
      const client = postgres(this.url, options as postgres.Options<Record<string, never>>);
      this.client = client;
      try {
        await client.unsafe(`listen ${DECISIONS_CHANNEL}`);
        const [row] = await client<{ pid: number }[]>`select pg_backend_pid() as pid`;
        if (this.stopped) return;
        if (this.client !== client) continue; // dropped between the two queries: listen again
        // Anything may have changed while nobody listened: forget it all, then trust what follows.
        this.listenerPid = row!.pid;
        this.flush();
        this.live = true;
        for (const resolve of this.liveWaiters) resolve();
        this.liveWaiters.clear();
        this.heartbeat ??= setInterval(() => void this.check(), this.options.heartbeatMs ?? 5_000);
        this.heartbeat.unref();
        return;
      } catch {
        if (this.client === client) this.client = undefined;
        await client.end({ timeout: 0 }).catch(() => undefined);
        // Postgres is away: back off (up to 2 s) and try again; decisions read the database meanwhile.
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt)).unref());
      }
    }
  }

  /** The listener is gone or unsure: stale until a new connection has listened and the memory is cleared. */
  private drop(): void {
    this.live = false;
    this.listenerPid = null;
    const client = this.client;
    this.client = undefined;
    if (client) void client.end({ timeout: 0 }).catch(() => undefined);
    this.flush();
    if (!this.stopped) void (this.options.beforeReconnect?.() ?? Promise.resolve()).then(() => this.start());
  }

  /** A query on the listener connection: a connection that silently died (no close seen) fails it. */
  private async check(): Promise<void> {
    const client = this.client;
    if (!this.live || !client) return;
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("listener heartbeat timed out")), 5_000).unref());
    try {
      await Promise.race([client`select 1`, timeout]);
    } catch {
      if (this.client === client) this.drop();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const client = this.client;
    this.client = undefined;
    this.flush();
    await this.connecting?.catch(() => undefined);
    if (client) await client.end({ timeout: 1 }).catch(() => undefined);
  }

  private onMessage(payload: string): void {
    const colon = payload.indexOf(":");
    const kind = colon < 0 ? payload : payload.slice(0, colon);
    const ids = colon < 0 ? [] : payload.slice(colon + 1).split(",");
    if (kind === "m") {
      this.markers.get(ids[0] ?? "")?.();
      return;
    }
    if (kind !== "u" && kind !== "e" && kind !== "s" && kind !== "t") return this.flush();
    const event: Event = { seq: ++this.seq, kind, ids: new Set(ids) };
    this.remember(event);
    for (const id of ids) {
      if (kind === "u") this.users.delete(id);
      else if (kind === "s") this.sessions.delete(id);
      else if (kind === "t") this.forgetLookups(id);
      else this.envGen.set(id, event.seq);
    }
  }

  private flush(): void {
    this.remember({ seq: ++this.seq, kind: "*", ids: new Set() });
    this.users.clear();
    this.emails.clear();
    this.sessions.clear();
    this.resources.clear();
    this.lookups.clear();
    this.lookupKeysById.clear();
    // A flush clears everything, so nothing is still caught up on anything that was in flight.
    for (const resolve of this.markers.values()) resolve();
  }

  private remember(event: Event): void {
    this.recent.push(event);
    if (this.recent.length > RECENT_EVENTS) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
  }

  /**
   * Whether facts read from the database when the sequence was `since` may be kept: not when any
   * invalidation that arrived since touches them (it may have been committed after the read), nor
   * when too many arrived to tell.
   */
  private mayStore(since: number, userId: string, environmentId: string, sessionId: string | null): boolean {
    return this.unraced(since, (e) => (e.kind === "u" && e.ids.has(userId)) || (e.kind === "e" && e.ids.has(environmentId)) || (e.kind === "s" && sessionId !== null && e.ids.has(sessionId)));
  }

  /** True when no invalidation since `since` is a flush or `touches` what was read (see mayStore). */
  private unraced(since: number, touches: (e: Event) => boolean): boolean {
    if (!this.live) return false;
    if (this.seq === since) return true;
    const oldest = this.recent[0];
    if (!oldest || oldest.seq > since + 1) return false;
    for (let i = this.recent.length - 1; i >= 0 && this.recent[i]!.seq > since; i--) {
      const e = this.recent[i]!;
      if (e.kind === "*" || touches(e)) return false;
    }
    return true;
  }

  private forgetLookups(id: string): void {
    for (const key of this.lookupKeysById.get(id) ?? []) this.lookups.delete(key);
    this.lookupKeysById.delete(id);
  }

  /**
   * A lookup kept in memory until an invalidation names one of `idsOf(value)` (kind 't') or
   * everything is flushed: from memory when there, else from `load` and kept (a value that raced
   * an invalidation is not). `null` when the cache cannot be trusted right now (read the database).
   * Absent values (`undefined`) are not remembered.
   */
  async lookup<T>(bucket: string, key: string, idsOf: (value: T) => readonly string[], load: () => Promise<T | undefined>): Promise<T | undefined | null> {
    this.start();
    if (!this.live) {
      this.counters.bypassed++;
      return null;
    }
    const full = `${bucket}|${key}`;
    const hit = this.lookups.get(full);
    if (hit) {
      this.counters.hits++;
      return hit.value as T;
    }
    this.counters.misses++;
    const since = this.seq;
    const value = await load();
    if (value === undefined) return undefined;
    const ids = idsOf(value);
    if (this.mayStoreLookup(since, ids)) {
      this.lookups.set(full, { value, ids });
      for (const id of ids) {
        const keys = this.lookupKeysById.get(id) ?? new Set<string>();
        keys.add(full);
        this.lookupKeysById.set(id, keys);
      }
    }
    return value;
  }

  private mayStoreLookup(since: number, ids: readonly string[]): boolean {
    return this.unraced(since, (e) => e.kind === "t" && ids.some((id) => e.ids.has(id)));
  }

  /** Resolves once the listener is confirmed (tests, benchmarks). */
  whenLive(timeoutMs = 10_000): Promise<void> {
    this.start();
    if (this.live) return Promise.resolve();
    return withDeadline(new Promise<void>((resolve) => this.liveWaiters.add(resolve)), timeoutMs, "the decisions listener");
  }

  /**
   * Resolves once every invalidation committed before this call has been applied: sends a marker
   * through the channel (delivered after everything committed earlier) and waits for it to come back.
   */
  async whenCaughtUp(timeoutMs = 10_000): Promise<void> {
    await this.whenLive(timeoutMs);
    const id = randomUUID();
    const back = new Promise<void>((resolve) => this.markers.set(id, resolve));
    try {
      await getSql()`select pg_notify(${DECISIONS_CHANNEL}, ${`m:${id}`})`;
      await withDeadline(back, timeoutMs, "the decisions marker");
    } finally {
      this.markers.delete(id);
    }
  }

  /**
   * The facts `decide` needs, from memory when everything is there, else from `load` (factsOf with
   * every grant of the user in the environment and feature) and kept; `null` when the cache cannot
   * be trusted right now (the caller reads the database).
   */
  async facts(
    q: { environmentId: string; user: { id?: string; email?: string }; feature: Feature; resourceIds: string[]; sessionId: string | null },
    load: () => Promise<Facts | undefined>,
  ): Promise<Facts | undefined | null> {
    this.start();
    if (!this.live) {
      this.counters.bypassed++;
      return null;
    }
    const scopeKey = `${q.environmentId}|${q.feature}`;
    const gen = this.envGen.get(q.environmentId) ?? 0;
    const hint = q.user.id === undefined ? this.emails.get(q.user.email ?? "") : undefined;
    const userId = q.user.id ?? hint?.id;
    const entry = userId ? this.users.get(userId) : undefined;
    const row = entry?.row && (!hint || entry.row.email === hint.email) ? entry.row : undefined;
    const scope = entry?.scopes.get(scopeKey);
    const names = q.resourceIds.map((id) => this.resources.get(`${scopeKey}|${id}`));
    const session = q.sessionId === null ? null : this.sessions.get(q.sessionId);
    if (row && scope && scope.gen === gen && names.every((n) => n !== undefined && n.gen === gen) && session !== undefined) {
      this.counters.hits++;
      return {
        ...row,
        has_access: scope.hasAccess,
        resources: q.resourceIds.flatMap((id, i) => (names[i]!.name === null ? [] : [{ id, name: names[i]!.name! }])),
        grants: scope.grants.filter((g) => g.resource_id === null || q.resourceIds.includes(g.resource_id)),
        session_open: session === null ? null : session.userId === row.id ? session.open : null,
      };
    }
    this.counters.misses++;
    const since = this.seq;
    const facts = await load();
    if (!facts) return undefined; // unknown users are not remembered (a new user sends nothing)
    if (this.mayStore(since, facts.id, q.environmentId, q.sessionId)) {
      const stored: UserEntry = this.users.get(facts.id) ?? { scopes: new Map(), entitlements: new Map() };
      stored.row = { id: facts.id, email: facts.email, status: facts.status, revoked_before: facts.revoked_before };
      if (facts.grants.length <= MAX_GRANTS_PER_SCOPE) stored.scopes.set(scopeKey, { gen, hasAccess: facts.has_access, grants: facts.grants });
      this.users.set(facts.id, stored);
      if (q.user.id === undefined) this.emails.set(q.user.email ?? "", { id: facts.id, email: facts.email });
      const found = new Map(facts.resources.map((r) => [r.id, r.name]));
      for (const id of q.resourceIds) this.resources.set(`${scopeKey}|${id}`, { gen, name: found.get(id) ?? null });
      // A session that is not the user's, or none at all, is not remembered (a new session sends nothing).
      if (q.sessionId !== null && facts.session_open !== null) this.sessions.set(q.sessionId, { userId: facts.id, open: facts.session_open });
    }
    return { ...facts, grants: facts.grants.filter((g) => g.resource_id === null || q.resourceIds.includes(g.resource_id)) };
  }

  /** A token's `groups` and `entitlements` claims, from memory or `load` (entitlementsOf); `null`: read the database. */
  async entitlements(environmentId: string, userId: string, load: () => Promise<Entitlements>): Promise<Entitlements | null> {
    this.start();
    if (!this.live) {
      this.counters.bypassed++;
      return null;
    }
    const gen = this.envGen.get(environmentId) ?? 0;
    const cached = this.users.get(userId)?.entitlements.get(environmentId);
    if (cached && cached.gen === gen) {
      this.counters.hits++;
      return structuredClone(cached.value);
    }
    this.counters.misses++;
    const since = this.seq;
    const value = await load();
    if (this.mayStore(since, userId, environmentId, null)) {
      const stored: UserEntry = this.users.get(userId) ?? { scopes: new Map(), entitlements: new Map() };
      stored.entitlements.set(environmentId, { gen, value: structuredClone(value) });
      this.users.set(userId, stored);
    }
    return value;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// The process's cache, created on first use (never at import: `next build` has no database).
// On by default; DECISION_CACHE=off turns it off. Under vitest it is off unless DECISION_CACHE=on
// or a test turns it on: a test that changes something and decides right after, in one process,
// would otherwise race the notification (the lag this design accepts, but a flaky test).
const holder = globalThis as unknown as { __iamDecisionCache?: DecisionCache; __iamDecisionCacheOn?: boolean };

export function setDecisionCacheEnabled(on: boolean): void {
  holder.__iamDecisionCacheOn = on;
}

function enabled(): boolean {
  if (holder.__iamDecisionCacheOn !== undefined) return holder.__iamDecisionCacheOn;
  const setting = env().DECISION_CACHE;
  if (setting === "off") return false;
  return setting === "on" || !process.env.VITEST;
}

/** The process's decision cache, or undefined when it is off. */
export function decisionCache(): DecisionCache | undefined {
  if (!enabled()) return undefined;
  const url = env().DATABASE_URL;
  const current = holder.__iamDecisionCache;
  if (current && current.databaseUrl === url) return current;
  if (current) void current.stop();
  const cache = new DecisionCache(url);
  holder.__iamDecisionCache = cache;
  drainBeforeClose("decision-cache", async () => {
    if (holder.__iamDecisionCache === cache) holder.__iamDecisionCache = undefined;
    await cache.stop();
  });
  return cache;
}
