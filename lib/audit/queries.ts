import "server-only";
import { and, desc, eq, getTableColumns, gte, ilike, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/client";
import { ACTOR_TYPES, AUDIT_OUTCOMES } from "@/db/enums";
import { auditEvents, type AuditEvent } from "@/db/schema";
import { parseInput } from "@/lib/validation";
import { escapeLike } from "@/lib/domain/like";
import { SEALED_CONTENT } from "./sealed-content";

// Reading the trail: filters (actor, action, target, environment, outcome, time range), newest
// first by keyset on id, and the same filters streamed for the CSV export.

/** The newest audit events. */
export async function latestAuditEvents(limit = 50): Promise<AuditEvent[]> {
  return getDb().select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(Math.min(limit, 500));
}

const optionalText = z.string().trim().max(200).optional().transform((v) => v || undefined);
/** A date or a time of a filter, as Postgres's timestamps hold one; undefined when blank. */
function readDate(v: string | undefined, ctx: z.RefinementCtx): Date | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  // Years Postgres's timestamps hold as a person means them (year 0 and before 4713 BC it refuses).
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) {
    ctx.addIssue({ code: "custom", message: "Not a date (use YYYY-MM-DD or an ISO time)." });
    return undefined;
  }
  return d;
}

const optionalDate = z.string().trim().optional().transform(readDate);
// The end of a range: a day (YYYY-MM-DD, as the console's date field sends it) runs to its end, so
// "to 2026-12-06" includes that day's events; a time is the instant itself.
const optionalEnd = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => {
    const at = readDate(v, ctx);
    return at && { at, day: /^\d{4}-\d{2}-\d{2}$/.test(v!) };
  });

export const auditFilterInput = z
  .object({
    actorType: z.enum(ACTOR_TYPES).optional().or(z.literal("").transform(() => undefined)),
    actor: optionalText.describe("part of the actor's label, or its id"),
    action: optionalText.describe("an action (user.create) or a prefix: user. or user (a word without a dot matches every action it starts)"),
    target: optionalText.describe("part of the target's label, or its id"),
    environment: optionalText.describe("an environment key"),
    accountWide: z
      .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
      .optional()
      .describe("with environment: also the account-wide events (those of no environment: members, tokens, IdPs…)"),
    outcome: z.enum(AUDIT_OUTCOMES).optional().or(z.literal("").transform(() => undefined)),
    from: optionalDate,
    to: optionalEnd,
    before: z.coerce.number().int().positive().optional().describe("keyset: events with a smaller id"),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .refine((f) => !f.from || !f.to || f.from <= f.to.at, { message: "The start is after the end.", path: ["to"] });
export type AuditFilter = z.output<typeof auditFilterInput>;

const like = (value: string) => `%${escapeLike(value)}%`;

/** Up to the end's instant, or before the day after an end given as a day (none after 9999-12-31: the trail ends there). */
function endBound(to: NonNullable<AuditFilter["to"]>): SQL | undefined {
  if (!to.day) return lte(auditEvents.occurredAt, to.at);
  const next = new Date(to.at.getTime() + 86_400_000);
  return next.getUTCFullYear() > 9999 ? undefined : lt(auditEvents.occurredAt, next);
}

function where(f: AuditFilter): SQL | undefined {
  return and(
    f.actorType ? eq(auditEvents.actorType, f.actorType) : undefined,
    f.actor ? or(eq(auditEvents.actorId, f.actor), ilike(auditEvents.actorLabel, like(f.actor))) : undefined,
    // "user.create" is one action; "user." and "user" (no dot) are prefixes.
    f.action ? (f.action.endsWith(".") || !f.action.includes(".") ? sql`${auditEvents.action} like ${`${escapeLike(f.action)}%`}` : eq(auditEvents.action, f.action)) : undefined,
    f.target ? or(eq(auditEvents.targetId, f.target), ilike(auditEvents.targetLabel, like(f.target))) : undefined,
    f.environment
      ? f.accountWide
        ? or(eq(auditEvents.environmentKey, f.environment.toLowerCase()), sql`${auditEvents.environmentId} is null`)
        : eq(auditEvents.environmentKey, f.environment.toLowerCase())
      : undefined,
    f.outcome ? eq(auditEvents.outcome, f.outcome) : undefined,
    f.from ? gte(auditEvents.occurredAt, f.from) : undefined,
    f.to ? endBound(f.to) : undefined,
    f.before ? lt(auditEvents.id, f.before) : undefined,
  );
}

/**
 * The console's audit filters (the page and its CSV export): the URL's `environment` is an
 * environment key, or "all"; without one, the page's environment. An environment's view includes
 * the account-wide events (members, tokens, IdPs), which belong to no environment.
 */
export function consoleAuditFilter(query: Record<string, string | undefined>, pageEnvironment: string): Record<string, unknown> {
  const { environment, ...rest } = query;
  if (environment === "all") return rest;
  return { ...rest, environment: environment || pageEnvironment, accountWide: true };
}

/**
 * Every action the trail holds (a skip scan over the action index: one index probe per distinct
 * action, fast at millions of events), with their prefixes (`user.`), for the action filter.
 */
export async function knownActions(): Promise<string[]> {
  const rows = await getDb().execute<{ action: string }>(sql`
    with recursive a(action) as (
      (select action from audit_events order by action limit 1)
      union all
      select (select e.action from audit_events e where e.action > a.action order by e.action limit 1) from a where a.action is not null)
    select action from a where action is not null`);
  const actions = rows.map((r) => r.action);
  const prefixes = [...new Set(actions.filter((a) => a.includes(".")).map((a) => `${a.slice(0, a.indexOf("."))}.`))];
  return [...prefixes, ...actions].sort();
}

/** An event as a copy of the trail carries it (REST, CSV): a sealed one with the content its hash covers. */
export type ExportedAuditEvent = AuditEvent & { sealedContent: string | null };

const sealedContent = sql<string | null>`case when ${auditEvents.seq} is not null then ${sql.raw(SEALED_CONTENT)} end`;

/** One page of filtered events, newest first; `next` continues after the last. With `sealed`, each with the content its hash covers (the console page has no use for it). */
export async function listAuditEvents(input: unknown, options: { sealed?: boolean } = {}): Promise<{ rows: ExportedAuditEvent[]; next: number | null }> {
  const f = parseInput(auditFilterInput, input);
  const rows = await getDb()
    .select({ ...getTableColumns(auditEvents), sealedContent: options.sealed ? sealedContent : sql<null>`null` })
    .from(auditEvents)
    .where(where(f))
    .orderBy(desc(auditEvents.id))
    .limit(f.limit + 1);
  return { rows: rows.slice(0, f.limit), next: rows.length > f.limit ? rows[f.limit - 1]!.id : null };
}

/** Every filtered event, a thousand at a time, for the CSV export: before and after as Postgres prints them (as sealed), and the sealed content. */
export async function* iterateAuditEvents(input: unknown): AsyncGenerator<(Omit<ExportedAuditEvent, "before" | "after"> & { before: string | null; after: string | null })[]> {
  const f = { ...parseInput(auditFilterInput, input), limit: 1000 };
  const columns = { ...getTableColumns(auditEvents), before: sql<string | null>`${auditEvents.before}::text`, after: sql<string | null>`${auditEvents.after}::text`, sealedContent };
  for (;;) {
    const rows = await getDb().select(columns).from(auditEvents).where(where(f)).orderBy(desc(auditEvents.id)).limit(f.limit);
    if (rows.length) yield rows;
    if (rows.length < f.limit) return;
    f.before = rows.at(-1)!.id;
  }
}

export type Change = { path: string; before: unknown; after: unknown };

/** What changed between an event's before and after, key by key (nested objects by dotted path). */
export function diffOf(before: unknown, after: unknown, path = ""): Change[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  // A creation (no before) or a deletion (no after) lists every field.
  if ((before == null && isObject(after)) || (isObject(before) && after == null)) return diffOf(before ?? {}, after ?? {}, path);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffOf(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || "(value)", before: before ?? null, after: after ?? null }];
}

export type SignInDay = { day: string; passwordSuccess: number; ssoSuccess: number; passwordFailure: number; ssoFailure: number };

/** End-user sign-ins of an environment per day (UTC) over the last `days`, by method and outcome; days without any are zeros. */
export async function signInActivity(environmentId: string, days = 14): Promise<SignInDay[]> {
  const rows = await getDb().execute<{ day: string; method: string | null; outcome: string; n: number }>(sql`
    select to_char(date_trunc('day', occurred_at at time zone 'UTC'), 'YYYY-MM-DD') as day, after->>'method' as method, outcome, count(*)::int as n
    from audit_events
    where action = 'end_user.sign_in' and environment_id = ${environmentId}::uuid and occurred_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - make_interval(days => ${days - 1})
    group by 1, 2, 3`);
  const out: SignInDay[] = [];
  const today = new Date();
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    const count = (method: string, ok: boolean) => rows.filter((r) => r.day === day && r.method === method && (r.outcome === "success") === ok).reduce((n, r) => n + r.n, 0);
    out.push({ day, passwordSuccess: count("password", true), ssoSuccess: count("sso", true), passwordFailure: count("password", false), ssoFailure: count("sso", false) });
  }
  return out;
}
