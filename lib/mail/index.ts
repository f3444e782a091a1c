import "server-only";
import { and, desc, eq, sql, type SQL } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { consoleMembers, emailOutbox, environmentAccess, environments, users } from "@/db/schema";
import type { Actor } from "@/lib/auth/actor";
import { env } from "@/env";
import { authorize, consoleMemberDenialReason, denialReason } from "@/lib/permissions";

/**
 * `userId`: the user the message is for; who may read it in the outbox follows that user, not the
 * address. `consoleMemberId`: the console member it is for (a console invitation); who may read it
 * follows that member's role.
 */
export type Mail = { to: string; subject: string; text: string; userId?: string | null; consoleMemberId?: string | null; ownersOnly?: boolean };

type Transport = { sendMail(m: { from: string; to: string; subject: string; text: string }): Promise<unknown> };
const holder = globalThis as typeof globalThis & { __mailTransport?: Promise<Transport> };

function transport(url: string): Promise<Transport> {
  holder.__mailTransport ??= import("nodemailer").then((m) => m.createTransport(url) as Transport);
  return holder.__mailTransport;
}

/**
 * Sends mail through SMTP (nodemailer, SMTP_URL). Without SMTP_URL the message is kept in the
 * outbox the console shows, so invitation and reset links work in the demo with no mail server.
 * With SMTP the outbox keeps only that a message was sent, never its body (it holds a secret link).
 */
export async function sendMail(mail: Mail, executor: Executor = getDb()): Promise<void> {
  const smtp = env().SMTP_URL;
  if (!smtp) {
    await executor.insert(emailOutbox).values({ to: mail.to, userId: mail.userId ?? null, consoleMemberId: mail.consoleMemberId ?? null, ownersOnly: mail.ownersOnly ?? false, subject: mail.subject, body: mail.text, transport: "outbox" });
    return;
  }
  const [row] = await executor
    .insert(emailOutbox)
    .values({ to: mail.to, userId: mail.userId ?? null, consoleMemberId: mail.consoleMemberId ?? null, subject: mail.subject, body: "(sent by SMTP; the body is not kept)", transport: "smtp" })
    .returning({ id: emailOutbox.id });
  try {
    await (await transport(smtp)).sendMail({ from: env().MAIL_FROM, to: mail.to, subject: mail.subject, text: mail.text });
    await executor.update(emailOutbox).set({ sentAt: sql`now()` }).where(eq(emailOutbox.id, row!.id));
  } catch (e) {
    await executor.update(emailOutbox).set({ error: (e as Error).message.slice(0, 500) }).where(eq(emailOutbox.id, row!.id));
  }
}

/**
 * The outbox holds links that set passwords, so a message is shown only to an actor who could
 * change its recipient's password: `users` write over every environment the recipient (the user it
 * was sent for, whatever address they have now) can enter. A message to no user, or to a user with
 * no environment, is account-wide: owners and admins only. A console invitation (its link makes a
 * console member) is shown only to who may manage that member now: an owner's only to owners. A
 * console member's password reset link (no one may set another member's password) only to owners.
 */
export async function listOutbox(actor: Actor, limit = 100) {
  authorize(actor, "users", "write", "any");
  const db = getDb();
  const memberMail = !consoleMemberDenialReason(actor, { current: "owner" })
    ? undefined
    : !consoleMemberDenialReason(actor)
      ? sql`not ${emailOutbox.ownersOnly} and not exists (select 1 from ${consoleMembers} m where m.id = ${emailOutbox.consoleMemberId} and m.role = 'owner')`
      : sql`${emailOutbox.consoleMemberId} is null and not ${emailOutbox.ownersOnly}`;
  const newest = (where?: SQL) =>
    db
      .select()
      .from(emailOutbox)
      .where(and(where, memberMail))
      .orderBy(desc(emailOutbox.createdAt))
      .limit(limit);
  if (!denialReason(actor, "users", "write", [])) return newest();
  // A scoped actor. The scope check is per environment (a list passes when each of its environments
  // does), so filtering in SQL on the environments the actor covers decides as denialReason would
  // over each recipient's environments.
  const covered = (await db.select({ id: environments.id }).from(environments))
    .map((e) => e.id)
    .filter((id) => !denialReason(actor, "users", "write", [id]));
  if (covered.length === 0) return [];
  return newest(sql`exists (
    select 1 from ${users} u
    where u.id = ${emailOutbox.userId}
      and exists (select 1 from ${environmentAccess} a where a.user_id = u.id)
      and not exists (select 1 from ${environmentAccess} a where a.user_id = u.id and a.environment_id not in ${covered}))`);
}
