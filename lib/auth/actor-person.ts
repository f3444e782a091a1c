import "server-only";
import { eq } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { consoleMembers } from "@/db/schema";
import type { Actor } from "./actor";

/**
 * The person behind an actor, by email: a console member, or the member a reviewer token acts for;
 * null for machines (directories, IdPs, service tokens, the system). Separation of duties compares
 * it with the user a decision is about: nobody approves or reviews their own access.
 */
export async function personEmailOf(executor: Executor, actor: Actor): Promise<string | null> {
  const memberId = actor.type === "console_member" ? actor.id : actor.type === "api_token" ? actor.memberId : null;
  if (!memberId) return null;
  const [member] = await executor.select({ email: consoleMembers.email }).from(consoleMembers).where(eq(consoleMembers.id, memberId));
  return member?.email.toLowerCase() ?? null;
}
