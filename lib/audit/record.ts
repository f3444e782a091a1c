import "server-only";
import { auditEvents } from "@/db/schema";
import { insertRecords } from "@/db/records";
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

/** Whether an attribute name or path names a secret (its value is never logged). */
export function isSecretName(name: string): boolean {
  return SECRET_KEY.test(name);
}

// What a client sent can nest as deep as JSON allows: below this depth the trail keeps a marker (a
// recursion without a floor overflowed the stack after the change was written, and answered 500).
const MAX_DEPTH = 32;

export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object" && depth >= MAX_DEPTH) return "[nested too deep]";
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
    return out;
  }
  return value;
}

/** An audit row as jsonb_to_recordset reads it (AUDIT_COLUMNS). */
function row(ctx: DomainContext, entry: AuditEntry) {
  const actor = entry.actor ?? ctx.actor;
  return {
    actor_type: actor.type,
    actor_id: actor.id,
    actor_label: actor.label,
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId ?? null,
    target_label: entry.targetLabel ?? null,
    environment_id: entry.environment?.id ?? null,
    environment_key: entry.environment?.key ?? null,
    outcome: entry.outcome ?? ("success" as const),
    reason: entry.reason ?? null,
    before: entry.before === undefined ? null : redact(entry.before),
    after: entry.after === undefined ? null : redact(entry.after),
    request_id: ctx.requestId ?? null,
    ip: ctx.ip ?? null,
  };
}

const AUDIT_COLUMNS =
  "actor_type text, actor_id text, actor_label text, action text, target_type text, target_id text, target_label text, environment_id uuid, environment_key text, outcome text, reason text, before jsonb, after jsonb, request_id text, ip text";

/** One statement text whatever the number of rows (db/records.ts). */
async function insertAuditRows(executor: Executor, rows: ReturnType<typeof row>[]): Promise<void> {
  await executor.execute(insertRecords(auditEvents, AUDIT_COLUMNS, rows));
}

/** One row per changed target of a bulk change, in one statement (batched for very large sets). */
export async function recordAuditMany(executor: Executor, ctx: DomainContext, entries: AuditEntry[]): Promise<void> {
  await recordAuditOfMany(executor, [{ ctx, entries }]);
}

/** Writes the entries of several requests (each with its own context: request id, address) in one statement. */
export async function recordAuditOfMany(executor: Executor, items: { ctx: DomainContext; entries: AuditEntry[] }[]): Promise<void> {
  const rows = items.flatMap(({ ctx, entries }) => entries.map((e) => row(ctx, e)));
  for (let i = 0; i < rows.length; i += 5000) await insertAuditRows(executor, rows.slice(i, i + 5000));
}

/** Writes one audit row with `executor` — inside the caller's transaction, so both commit or neither. */
export async function recordAudit(executor: Executor, ctx: DomainContext, entry: AuditEntry): Promise<void> {
  await insertAuditRows(executor, [row(ctx, entry)]);
}
