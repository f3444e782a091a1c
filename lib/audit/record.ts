import "server-only";
import { auditEvents } from "@/db/schema";
import type { Executor } from "@/db/client";
import type { AuditOutcome } from "@/db/enums";
import type { Actor, DomainContext } from "@/lib/auth/actor";

export type AuditEntry = {
  action: string;
  targetType: string;
  targetId?: string | null;
  targetLabel?: string | null;
  environment?: { id: string; key: string } | null;
  before?: unknown;
  after?: unknown;
  outcome?: AuditOutcome;
  reason?: string | null;
  /** Who acted, when a batch records several actors at once (default: the context's). */
  actor?: Actor;
};

// Secrets never reach the trail, whatever a caller passes in before/after.
const SECRET_KEY = /pass(word)?|secret|token|hash|signature|private/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v);
    return out;
  }
  return value;
}

function row(ctx: DomainContext, entry: AuditEntry) {
  const actor = entry.actor ?? ctx.actor;
  return {
    actorType: actor.type,
    actorId: actor.id,
    actorLabel: actor.label,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    targetLabel: entry.targetLabel ?? null,
    environmentId: entry.environment?.id ?? null,
    environmentKey: entry.environment?.key ?? null,
    outcome: entry.outcome ?? ("success" as const),
    reason: entry.reason ?? null,
    before: entry.before === undefined ? null : redact(entry.before),
    after: entry.after === undefined ? null : redact(entry.after),
    requestId: ctx.requestId ?? null,
    ip: ctx.ip ?? null,
  };
}

/** One row per changed target of a bulk change, in one statement (batched for very large sets). */
export async function recordAuditMany(executor: Executor, ctx: DomainContext, entries: AuditEntry[]): Promise<void> {
  await recordAuditOfMany(executor, [{ ctx, entries }]);
}

/** Writes the entries of several requests (each with its own context: request id, address) in one statement. */
export async function recordAuditOfMany(executor: Executor, items: { ctx: DomainContext; entries: AuditEntry[] }[]): Promise<void> {
  const rows = items.flatMap(({ ctx, entries }) => entries.map((e) => row(ctx, e)));
  for (let i = 0; i < rows.length; i += 5000) await executor.insert(auditEvents).values(rows.slice(i, i + 5000));
}

/** Writes one audit row with `executor` — inside the caller's transaction, so both commit or neither. */
export async function recordAudit(executor: Executor, ctx: DomainContext, entry: AuditEntry): Promise<void> {
  await executor.insert(auditEvents).values(row(ctx, entry));
}
