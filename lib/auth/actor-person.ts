import "server-only";
import { eq } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { consoleMembers } from "@/db/schema";
import type { Actor } from "./actor";

/**
 * The person behind an actor, by email: a console member, or the member who made an API token (a
 * reviewer token acts for them; any other is theirs too); null for machines (directories, IdPs,
 * the system). Separation of duties compares it with the user a decision is about: nobody approves
 * or reviews their own access, in the console or through a token they made.
 */
export async function personEmailOf(executor: Executor, actor: Actor): Promise<string | null> {
  const memberId = actor.type === "console_member" ? actor.id : actor.type === "api_token" ? actor.createdBy : null;
  if (!memberId) return null;
  const [member] = await executor.select({ email: consoleMembers.email }).from(consoleMembers).where(eq(consoleMembers.id, memberId));
  return member?.email.toLowerCase() ?? null;
}
