import "server-only";
import { randomBytes } from "node:crypto";
import { desc, eq, sql } from "drizzle-orm";
import type postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import { getDb, getSql, type Executor } from "@/db/client";
import { webhookDeliveries, webhookEndpoints } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { inTransaction } from "@/lib/domain/transaction";
import { env } from "@/env";
import { ConflictError, NotFoundError, ValidationError } from "@/lib/errors";
import { privateHostReason, requestOnce } from "@/lib/net/outbound";
import { authorize } from "@/lib/permissions";
import { fromDigits, parseInput, uuidSchema } from "@/lib/validation";

// Signed webhooks for the audit trail. Delivery rows are written by the audit sealer inside the
// transaction that seals the events (a transactional outbox: a sealed event always has its
// deliveries, and a rolled-back seal has none). A worker claims due rows with a short lease, posts
// them signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256),
// and on failure retries with backoff; after the last attempt the delivery is dead (the console's
// dead-letter list can send it again). At-least-once: receivers dedupe by webhook-id. A webhook
// turned off posts nothing: its pending deliveries wait until it is on again.

const SECRET_PURPOSE = "webhook-secrets/v1";
/** Wait before attempt n+1 after n failures; after the last, the delivery is dead. */
export const RETRY_DELAYS_SECONDS = [10, 30, 120, 600, 1800, 3600, 10800, 21600];
const LEASE_SECONDS = 60;
const TIMEOUT_MS = 10_000;

const isLoopback = (host: string) => ["localhost", "127.0.0.1", "[::1]"].includes(host);

export const createWebhookInput = z.object({
  name: z.string({ error: "Name the webhook." }).trim().min(1, "Name the webhook.").max(100, "A name has at most 100 characters."),
  url: z
    .string({ error: "Enter the URL to post to." })
    .trim()
    .max(2000, "A webhook URL has at most 2,000 characters.")
    .pipe(z.url({ error: "Enter a full URL (https://…)." }))
    .refine((u) => {
      const url = URL.parse(u); // null when z.url already refused it
      return !url || url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
    }, "Webhooks are posted over https (plain http only to this machine).")
    // The URL is shown to every reader and kept in the audit trail (and so sent to webhooks): no
    // password in it. Receivers check the signature (webhook-signature) instead.
    .refine((u) => {
      const url = URL.parse(u);
      return !url || (!url.username && !url.password);
    }, "A webhook URL must not carry a user name or password: the receiver checks the signature instead."),
  actions: z.array(z.string().trim().regex(/^[a-z_.]+$/, "An action prefix is lower-case letters, dots and underscores (e.g. user. or group.members).")).max(50).default([]),
});

export type WebhookView = { id: string; name: string; url: string; actions: string[]; enabled: boolean; createdAt: Date; pending: number; delivered: number; dead: number };

/** Creates an endpoint; the signing secret is returned once (kept sealed). */
export async function createWebhook(ctx: DomainContext, input: unknown): Promise<{ id: string; secret: string }> {
  const data = parseInput(createWebhookInput, input);
  authorize(ctx.actor, "webhooks", "write");
  if (!env().ALLOW_PRIVATE_WEBHOOK_URLS) {
    const reason = await privateHostReason(new URL(data.url).hostname, "ALLOW_PRIVATE_WEBHOOK_URLS");
    if (reason) throw ValidationError.field("url", reason);
  }
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  return inTransaction(async (tx) => {
    const [row] = await tx.insert(webhookEndpoints).values({ name: data.name, url: data.url, actions: [...new Set(data.actions)], secretSealed: sealSecret(SECRET_PURPOSE, secret) }).returning({ id: webhookEndpoints.id });
    await recordAudit(tx, ctx, { action: "webhook.create", targetType: "webhook", targetId: row!.id, targetLabel: data.name, after: { url: data.url, actions: data.actions } });
    return { id: row!.id, secret };
  });
}

export async function setWebhookEnabled(ctx: DomainContext, id: string, on: boolean): Promise<void> {
  const webhookId = parseInput(uuidSchema, id);
  // A console action's argument comes from any client: "false" is not on, and nothing is not off.
  const enabled = parseInput(z.boolean({ error: "Say whether the webhook is on or off." }), on);
  authorize(ctx.actor, "webhooks", "write");
  await inTransaction(async (tx) => {
    const [row] = await tx.update(webhookEndpoints).set({ enabled }).where(eq(webhookEndpoints.id, webhookId)).returning({ name: webhookEndpoints.name });
    if (!row) throw new NotFoundError("Webhook not found.");
    await recordAudit(tx, ctx, { action: enabled ? "webhook.enable" : "webhook.disable", targetType: "webhook", targetId: webhookId, targetLabel: row.name, after: { enabled } });
  });
}

export async function deleteWebhook(ctx: DomainContext, id: string): Promise<void> {
  const webhookId = parseInput(uuidSchema, id);
  authorize(ctx.actor, "webhooks", "write");
  await inTransaction(async (tx) => {
    const [row] = await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, webhookId)).returning({ name: webhookEndpoints.name, url: webhookEndpoints.url });
    if (!row) throw new NotFoundError("Webhook not found.");
    await recordAudit(tx, ctx, { action: "webhook.delete", targetType: "webhook", targetId: webhookId, targetLabel: row.name, before: { url: row.url } });
  });
}

/** Sends a dead delivery again (from the dead-letter list). */
export async function retryDelivery(ctx: DomainContext, deliveryId: unknown): Promise<void> {
  const id = parseInput(z.preprocess(fromDigits, z.number({ error: "Not a delivery id." }).int("Not a delivery id.").positive("Not a delivery id.").max(Number.MAX_SAFE_INTEGER, "Not a delivery id.")), deliveryId);
  authorize(ctx.actor, "webhooks", "write");
  await inTransaction(async (tx) => {
    const [row] = await tx.select({ status: webhookDeliveries.status, endpointId: webhookDeliveries.endpointId }).from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).for("update");
    if (!row) throw new NotFoundError("Delivery not found.");
    if (row.status !== "dead") throw new ConflictError("Only a dead delivery can be sent again.");
    const [endpoint] = await tx.select({ enabled: webhookEndpoints.enabled }).from(webhookEndpoints).where(eq(webhookEndpoints.id, row.endpointId));
    if (!endpoint?.enabled) throw new ConflictError("This webhook is off: turn it on before sending its deliveries again.");
    await tx.update(webhookDeliveries).set({ status: "pending", attempts: 0, nextAttemptAt: sql`now()`, lastError: null }).where(eq(webhookDeliveries.id, id));
    await recordAudit(tx, ctx, { action: "webhook.delivery_retry", targetType: "webhook", targetId: row.endpointId, targetLabel: `delivery ${id}`, after: { delivery: id } });
  });
}

export async function listWebhooks(db: Executor = getDb()): Promise<WebhookView[]> {
  const rows = await db
    .select({
      id: webhookEndpoints.id,
      name: webhookEndpoints.name,
      url: webhookEndpoints.url,
      actions: webhookEndpoints.actions,
      enabled: webhookEndpoints.enabled,
      createdAt: webhookEndpoints.createdAt,
      pending: sql<number>`(select count(*)::int from webhook_deliveries d where d.endpoint_id = webhook_endpoints.id and d.status = 'pending')`,
      delivered: sql<number>`(select count(*)::int from webhook_deliveries d where d.endpoint_id = webhook_endpoints.id and d.status = 'delivered')`,
      dead: sql<number>`(select count(*)::int from webhook_deliveries d where d.endpoint_id = webhook_endpoints.id and d.status = 'dead')`,
    })
    .from(webhookEndpoints)
    .orderBy(webhookEndpoints.name);
  return rows;
}

export type DeadDelivery = { id: number; endpoint: string; action: string | null; target: string | null; attempts: number; lastStatus: number | null; lastError: string | null; createdAt: Date };

/** The dead-letter list: deliveries that failed every attempt, newest first. */
export async function listDeadDeliveries(limit = 100, db: Executor = getDb()): Promise<DeadDelivery[]> {
  return db
    .select({
      id: webhookDeliveries.id,
      endpoint: webhookEndpoints.name,
      action: sql<string | null>`(select action from audit_events a where a.id = webhook_deliveries.audit_id)`,
      target: sql<string | null>`(select coalesce(target_label, target_id) from audit_events a where a.id = webhook_deliveries.audit_id)`,
      attempts: webhookDeliveries.attempts,
      lastStatus: webhookDeliveries.lastStatus,
      lastError: webhookDeliveries.lastError,
      createdAt: webhookDeliveries.createdAt,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.status, "dead"))
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit);
}

/** Called by the sealer inside its transaction: one delivery per (sealed event, matching endpoint). */
export async function enqueueDeliveries(pg: postgres.TransactionSql, auditIds: string[]): Promise<void> {
  await pg`
    insert into webhook_deliveries (endpoint_id, audit_id)
    select e.id, a.id from audit_events a cross join webhook_endpoints e
    where a.id = any(${auditIds}::bigint[]) and e.enabled
      and (cardinality(e.actions) = 0 or exists (select 1 from unnest(e.actions) p where starts_with(a.action, p)))
    order by a.seq, e.id`;
}

type Claimed = { id: string; attempts: number; endpoint_id: string; lease: string; url: string; secret_sealed: string; event: Record<string, unknown> | null; occurred_at: string | null };

/**
 * Posts the due deliveries (up to `limit`): claims them with a lease (another instance skips them),
 * posts each, records the outcome. Returns what happened, for tests and logs.
 */
export async function deliverDueWebhooks(options: { limit?: number; pg?: postgres.Sql } = {}): Promise<{ delivered: number; failed: number; dead: number }> {
  const pg = options.pg ?? getSql();
  // Checked again on every connection: a host that resolved to a public address when the
  // endpoint was saved may resolve to a private one now.
  const publicOnly = !env().ALLOW_PRIVATE_WEBHOOK_URLS;
  // A disabled endpoint's deliveries are held (pending, not posted) until it is on again. Each row's
  // lease covers the posts before it in this batch (each may take the whole timeout), so another
  // instance does not take it while it waits its turn here.
  const claimed = await pg<Claimed[]>`
    with due as (
      select d.id from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
      where d.status = 'pending' and d.next_attempt_at <= now() and e.enabled
      order by d.id limit ${options.limit ?? 50} for update of d skip locked
    ), placed as (
      select id, row_number() over (order by id) as place from due
    ), leased as (
      update webhook_deliveries d set next_attempt_at = now() + make_interval(secs => ${LEASE_SECONDS} + placed.place * ${TIMEOUT_MS / 1000})
      from placed where d.id = placed.id returning d.id, d.attempts, d.endpoint_id, d.audit_id, d.next_attempt_at
    )
    select l.id::text, l.attempts, l.endpoint_id::text, l.next_attempt_at::text as lease, e.url, e.secret_sealed, to_jsonb(a) - 'prev_hash' as event, a.occurred_at::text as occurred_at
    from leased l join webhook_endpoints e on e.id = l.endpoint_id left join audit_events a on a.id = l.audit_id
    order by l.id`;
  const counts = { delivered: 0, failed: 0, dead: 0 };
  // An outcome is written only while the row is still this claim's: a lease that ran out and was
  // taken by another instance (which may have delivered it) is not overwritten.
  const ours = (row: Claimed) => pg`and status = 'pending' and next_attempt_at = ${row.lease}::timestamptz`;
  for (const row of claimed) {
    let status: number | null = null;
    let error: string | null = null;
    // Turned off since the claim (the batch's posts take time): held, not posted, no attempt counted.
    const [endpoint] = await pg<{ enabled: boolean }[]>`select enabled from webhook_endpoints where id = ${row.endpoint_id}`;
    if (!endpoint?.enabled) {
      await pg`update webhook_deliveries set next_attempt_at = now() where id = ${row.id} ${ours(row)}`;
      continue;
    }
    if (!row.event) error = "The audit event was pruned before it could be delivered.";
    else {
      const body = JSON.stringify({ type: "audit.event", timestamp: new Date(row.occurred_at!).toISOString(), data: row.event });
      const webhookId = `audit_delivery_${row.id}`;
      const now = new Date();
      try {
        const signature = new Webhook(openSecret(SECRET_PURPOSE, row.secret_sealed, "This webhook's secret")).sign(webhookId, now, body);
        // Redirects are not followed (a 3xx is a failed delivery).
        ({ status } = await requestOnce(row.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "iam-console-webhooks/1",
            "webhook-id": webhookId,
            "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
            "webhook-signature": signature,
          },
          body,
          timeoutMs: TIMEOUT_MS,
          publicOnly,
          maxBytes: 0,
        }));
        if (status < 200 || status >= 300) error = `The receiver answered ${status}.`;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
    }
    if (!error) {
      // Counted only where written (a row whose lease ran out is another instance's to count).
      const written = await pg`update webhook_deliveries set status = 'delivered', attempts = attempts + 1, last_status = ${status}, last_error = null, delivered_at = now() where id = ${row.id} ${ours(row)} returning id`;
      if (written.length) counts.delivered++;
      continue;
    }
    const attempts = row.attempts + 1;
    // The first try and one retry per delay; then it is dead.
    const dead = !row.event || attempts > RETRY_DELAYS_SECONDS.length;
    const written = await pg`
      update webhook_deliveries set attempts = ${attempts}, last_status = ${status}, last_error = ${error.slice(0, 500)},
        status = ${dead ? "dead" : "pending"}, next_attempt_at = now() + make_interval(secs => ${dead ? 0 : RETRY_DELAYS_SECONDS[attempts - 1]!})
      where id = ${row.id} ${ours(row)} returning id`;
    if (!written.length) continue;
    if (dead) counts.dead++;
    else counts.failed++;
  }
  return counts;
}

/** Hourly upkeep: delivered deliveries older than `days` go (pending and dead ones are kept). */
export async function pruneDeliveredWebhooks(days = 30, pg: postgres.Sql = getSql()): Promise<number> {
  const rows = await pg`delete from webhook_deliveries where status = 'delivered' and delivered_at < now() - make_interval(days => ${days}) returning id`;
  return rows.length;
}

const holder = globalThis as unknown as { __iamWebhookWorker?: ReturnType<typeof setInterval> };

/** Every two seconds, on every instance (claims are leased, so two instances never post the same row at once). */
export function startWebhookWorker(): void {
  if (holder.__iamWebhookWorker) return;
  let running = false;
  holder.__iamWebhookWorker = setInterval(() => {
    if (running) return;
    running = true;
    deliverDueWebhooks()
      .catch((e) => console.error("[webhooks] delivery error", e))
      .finally(() => (running = false));
  }, 2000);
  holder.__iamWebhookWorker.unref?.();
}
