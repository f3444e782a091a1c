import { and, desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, userIdentities } from "@/db/schema";
import { createUser } from "@/lib/users";
import { realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { linkIdentity, linkIdentityFromTrace, listUserIdentities, unlinkIdentity } from "./identities";
import { setupSso, type SsoFixture } from "./testing/fixture";

// Linked identities on the user's page: each (IdP, subject) with first and last use; an admin links
// one by hand or unlinks it (scoped, audited), and the next SAML sign-in follows.

let f: SsoFixture;
beforeAll(async () => {
  f = await setupSso({ jit: true });
});

const lastAudit = async (action: string) => (await getDb().select().from(auditEvents).where(eq(auditEvents.action, action)).orderBy(desc(auditEvents.occurredAt)).limit(1))[0];

describe("linked identities", () => {
  it("lists what a sign-in linked, with its first and last use", async () => {
    const signed = await f.signIn({ subject: "ivan-sub", attributes: { email: ["ivan@example.com"], name: ["Ivan"], groups: [] } });
    if (!signed.ok) throw new Error(signed.reason);
    const [identity] = await listUserIdentities(signed.user.id);
    expect(identity).toMatchObject({ identityProvider: "Test IdP", subject: "ivan-sub", firstUsedAt: expect.any(Date), lastUsedAt: expect.any(Date) });
  });

  it("an admin unlinks an identity (the next sign-in with it no longer matches the user) and links one by hand (it does)", async () => {
    const signed = await f.signIn({ subject: "nina-old", attributes: { email: ["nina@example.com"], name: ["Nina"], groups: [] } });
    if (!signed.ok) throw new Error(signed.reason);
    const userId = signed.user.id;
    const admin = await realMemberCtx("admin");
    // The IdP changed her subject: refused as a conflict until an admin fixes it.
    const changed = await f.signIn({ subject: "nina-new", attributes: { email: ["nina@example.com"], name: ["Nina"], groups: [] } });
    expect(changed).toMatchObject({ ok: false, check: "identity_conflict", reason: "nina@example.com is linked to a different subject (nina-old) at this identity provider." });

    await unlinkIdentity(admin, { userId, identityProviderId: f.idp.id, subject: "nina-old" });
    expect(await listUserIdentities(userId)).toEqual([]);
    expect(await lastAudit("user.identity_unlink")).toMatchObject({ actorId: admin.actor.id, targetId: userId, before: { identityProvider: "Test IdP", subject: "nina-old" } });
    expect(await linkIdentity(admin, { userId, identityProviderId: f.idp.id, subject: "nina-new" })).toEqual({ linked: true });
    expect(await linkIdentity(admin, { userId, identityProviderId: f.idp.id, subject: "nina-new" })).toEqual({ linked: false });
    expect(await lastAudit("user.identity_link")).toMatchObject({ actorId: admin.actor.id, after: { identityProvider: "Test IdP", subject: "nina-new", via: "console (by hand)" } });
    const again = await f.signIn({ subject: "nina-new", attributes: { email: ["nina@example.com"], name: ["Nina"], groups: [] } });
    expect(again).toMatchObject({ ok: true, user: { id: userId } });
  });

  it("refuses an identity linked to someone else, an unknown one, a blank subject, and an admin outside the user's environments; writes nothing", async () => {
    const owner = await createUser(systemCtx, { name: "Olga", email: "olga@example.com", environmentIds: [f.envs.prod.id] });
    const other = await createUser(systemCtx, { name: "Otto", email: "otto@example.com", environmentIds: [f.envs.prod.id] });
    const admin = await realMemberCtx("admin");
    await linkIdentity(admin, { userId: owner.id, identityProviderId: f.idp.id, subject: "olga-sub" });
    const before = await getDb().select().from(userIdentities).where(eq(userIdentities.identityProviderId, f.idp.id));
    await expect(linkIdentity(admin, { userId: other.id, identityProviderId: f.idp.id, subject: "olga-sub" })).rejects.toThrow("This identity is already linked to olga@example.com; unlink it there first.");
    await expect(linkIdentity(admin, { userId: other.id, identityProviderId: f.idp.id, subject: "olga-sub" }).catch((e) => e.fieldErrors)).resolves.toEqual({ subject: ["This identity is already linked to olga@example.com; unlink it there first."] });
    await expect(unlinkIdentity(admin, { userId: other.id, identityProviderId: f.idp.id, subject: "olga-sub" })).rejects.toThrow("This identity is not linked to the user.");
    await expect(linkIdentity(admin, { userId: other.id, identityProviderId: f.idp.id, subject: "  " }).catch((e) => e.fieldErrors)).resolves.toEqual({ subject: ["Enter the subject (NameID) the IdP asserts."] });
    await expect(linkIdentity(admin, { userId: other.id, identityProviderId: crypto.randomUUID(), subject: "x" }).catch((e) => e.fieldErrors)).resolves.toEqual({ identityProviderId: ["This identity provider does not exist."] });
    const devAdmin = await realMemberCtx("environment_admin", [f.envs.dev.id]);
    await expect(unlinkIdentity(devAdmin, { userId: owner.id, identityProviderId: f.idp.id, subject: "olga-sub" })).rejects.toThrow("This change touches an environment outside your scope.");
    expect(await getDb().select().from(userIdentities).where(and(eq(userIdentities.identityProviderId, f.idp.id)))).toEqual(before);
  });

  it("linking a refused sign-in's identity that another user now holds is refused, naming the holder; writes nothing", async () => {
    const signed = await f.signIn({ subject: "quinn-old", attributes: { email: ["quinn@example.com"], name: ["Quinn"], groups: [] } });
    if (!signed.ok) throw new Error(signed.reason);
    const changed = await f.signIn({ subject: "quinn-new", attributes: { email: ["quinn@example.com"], name: ["Quinn"], groups: [] } });
    if (changed.ok) throw new Error("the changed subject signed in");
    expect(changed.check).toBe("identity_conflict");
    const admin = await realMemberCtx("admin");
    const holder = await createUser(systemCtx, { name: "Rhea", email: "rhea@example.com", environmentIds: [f.envs.prod.id] });
    await linkIdentity(admin, { userId: holder.id, identityProviderId: f.idp.id, subject: "quinn-new" });
    const before = await getDb().select().from(userIdentities).where(eq(userIdentities.identityProviderId, f.idp.id));
    await expect(linkIdentityFromTrace(admin, changed.traceId)).rejects.toThrow("This identity is already linked to rhea@example.com; unlink it there first.");
    expect(await getDb().select().from(userIdentities).where(eq(userIdentities.identityProviderId, f.idp.id))).toEqual(before);
    expect(await listUserIdentities(signed.user.id)).toMatchObject([{ subject: "quinn-old" }]);
  });
});
