import "server-only";
import { desc, eq, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { emailOutbox } from "@/db/schema";
import type { Actor } from "@/lib/auth/actor";
import { env } from "@/env";
import { authorize } from "@/lib/permissions";

export type Mail = { to: string; subject: string; text: string };

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
    await executor.insert(emailOutbox).values({ to: mail.to, subject: mail.subject, body: mail.text, transport: "outbox" });
    return;
  }
  const [row] = await executor
    .insert(emailOutbox)
    .values({ to: mail.to, subject: mail.subject, body: "(sent by SMTP; the body is not kept)", transport: "smtp" })
    .returning({ id: emailOutbox.id });
  try {
    await (await transport(smtp)).sendMail({ from: env().MAIL_FROM, to: mail.to, subject: mail.subject, text: mail.text });
    await executor.update(emailOutbox).set({ sentAt: sql`now()` }).where(eq(emailOutbox.id, row!.id));
  } catch (e) {
    await executor.update(emailOutbox).set({ error: (e as Error).message.slice(0, 500) }).where(eq(emailOutbox.id, row!.id));
  }
}

/** The outbox holds links that set passwords: only members who may change users read it. */
export async function listOutbox(actor: Actor, limit = 100) {
  authorize(actor, "users", "write", "any");
  return getDb().select().from(emailOutbox).orderBy(desc(emailOutbox.createdAt)).limit(limit);
}
