import "server-only";
import { and, eq, sql } from "drizzle-orm";
import { identityProviders, ssoTraces, userIdentities, users } from "@/db/schema";
import { environmentIdsOf } from "@/lib/groups/membership-rows";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ConflictError, NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

/** Failed checks an admin can resolve by linking the asserted identity to the user by hand. */
export const LINKABLE_CHECKS = ["email_unverified", "identity_conflict"] as const;

/**
 * "Link this identity": an admin vouches that the (IdP, subject) of a refused sign-in is the user
 * the trace names, so the next sign-in matches it without linking by email. The admin's scope must
 * cover the user and the environment the sign-in was for (a DEV admin cannot attach a PROD sign-in
 * to a DEV user they control). Audited as the admin.
 */
export async function linkIdentityFromTrace(ctx: DomainContext, traceId: unknown): Promise<{ userId: string }> {
  const id = parseInput(uuidSchema, traceId);
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const [trace] = await tx
      .select({ trace: ssoTraces, idpName: identityProviders.name })
      .from(ssoTraces)
      .innerJoin(identityProviders, eq(identityProviders.id, ssoTraces.identityProviderId))
      .where(eq(ssoTraces.id, id));
    if (!trace) throw new NotFoundError("Trace not found.");
    const t = trace.trace;
    if (!t.subject || !t.userId || !t.environmentId || !(LINKABLE_CHECKS as readonly string[]).includes(t.failedCheck ?? "")) {
      throw ValidationError.field("_form", "Only a sign-in refused because its email was not verified or it conflicted with another identity can be linked.");
    }
    const [user] = await tx.select().from(users).where(eq(users.id, t.userId)).for("update");
    if (!user) throw new NotFoundError("The user this sign-in named no longer exists.");
    authorize(ctx.actor, "users", "write", [...new Set([...(await environmentIdsOf(tx, user.id)), t.environmentId])]);
    const environment = await requireEnvironment(tx, t.environmentId);
    const [existing] = await tx
      .select({ userId: userIdentities.userId })
      .from(userIdentities)
      .where(and(eq(userIdentities.identityProviderId, t.identityProviderId!), eq(userIdentities.subject, t.subject)));
    if (existing && existing.userId !== user.id) throw new ConflictError(`This identity is already linked to another user.`);
    if (!existing) await tx.insert(userIdentities).values({ identityProviderId: t.identityProviderId!, subject: t.subject, userId: user.id, lastUsedAt: sql`null` });
    await recordAudit(tx, ctx, {
      action: "user.identity_link",
      targetType: "user",
      targetId: user.id,
      targetLabel: user.email,
      environment,
      after: { identityProvider: trace.idpName, subject: t.subject, via: "console", trace: t.id, resolves: t.failedCheck },
    });
    return { userId: user.id };
  });
}
