import "server-only";
import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { CONSOLE_ROLES } from "@/db/enums";
import { consoleMemberEnvironments, consoleMembers, type ConsoleMember } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { hashPassword } from "@/lib/auth/password";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironments } from "@/lib/environments";
import { ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { emailSchema, parseInput, personNameSchema, uuidSchema } from "@/lib/validation";

export const createConsoleMemberInput = z.object({
  email: emailSchema,
  name: personNameSchema,
  role: z.enum(CONSOLE_ROLES, { error: "Choose a role." }),
  password: z.string().min(12, "Use at least 12 characters.").max(256, "At most 256 characters."),
  environmentIds: z.array(uuidSchema).max(100).default([]),
});

/** Active console members (for choosing, e.g., an access review's reviewers), by name. */
export async function listActiveConsoleMembers(db: Executor = getDb()) {
  return db
    .select({ id: consoleMembers.id, name: consoleMembers.name, email: consoleMembers.email, role: consoleMembers.role })
    .from(consoleMembers)
    .where(eq(consoleMembers.status, "active"))
    .orderBy(asc(consoleMembers.name))
    .limit(500);
}

/** Adds someone who may use the console. Environment admins are scoped to at least one environment. */
export async function createConsoleMember(ctx: DomainContext, input: unknown): Promise<ConsoleMember> {
  const data = parseInput(createConsoleMemberInput, input);
  authorize(ctx.actor, "console_members", "write");
  if (data.role === "environment_admin" && data.environmentIds.length === 0) {
    throw new ValidationError("An environment admin needs at least one environment.", {
      environmentIds: ["Choose at least one environment."],
    });
  }
  const passwordHash = await hashPassword(data.password);
  return inTransaction(async (tx) => {
    const envs = data.role === "environment_admin" ? await requireEnvironments(tx, data.environmentIds) : [];
    const [member] = await tx
      .insert(consoleMembers)
      .values({ email: data.email, name: data.name, role: data.role, passwordHash })
      .returning();
    if (envs.length) {
      await tx.insert(consoleMemberEnvironments).values(envs.map((e) => ({ memberId: member!.id, environmentId: e.id })));
    }
    await recordAudit(tx, ctx, {
      action: "console_member.create",
      targetType: "console_member",
      targetId: member!.id,
      targetLabel: member!.email,
      after: { email: member!.email, name: member!.name, role: member!.role, environments: envs.map((e) => e.key) },
    });
    return member!;
  });
}
