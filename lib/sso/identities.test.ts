import { and, desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, ssoTraces, userIdentities } from "@/db/schema";
import { createUser } from "@/lib/users";
import { realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { linkIdentity, linkIdentityFromTrace, listUserIdentities, unlinkIdentity } from "./identities";
import { createIdentityProvider } from "./identity-providers";
import { configureSso, setupSso, type SsoFixture } from "./testing/fixture";
import { generateKeyPair, idpMetadata } from "./testing/test-idp";

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
  it("a link reaches every environment signing in with the IdP: an admin whose scope does not cover them all is refused, by hand and from a trace; writes nothing", async () => {
    const devAdmin = await realMemberCtx("environment_admin", [f.envs.dev.id]);
    const mallory = await createUser(devAdmin, { name: "Mallory", email: "mallory@example.com", environmentIds: [f.envs.dev.id] });
    const before = await getDb().select().from(userIdentities);
    // Test IdP signs users in to PROD: a PROD colleague's subject linked to a DEV user would make
    // their first PROD sign-in land in that user (JIT grants it PROD, group sync their groups).
    const refused = await linkIdentity(devAdmin, { userId: mallory.id, identityProviderId: f.idp.id, subject: "victim-sub" }).catch((e) => e);
    const toProd = "Test IdP signs users in to PROD: an identity linked to it lets its holder into each of them. This change touches an environment outside your scope.";
    expect(refused).toMatchObject({ status: 403, message: toProd, fieldErrors: { identityProviderId: [toProd] } });
    // An IdP no environment signs in with yet: any environment may adopt it, so linking is account-wide.
    const spare = await createIdentityProvider(systemCtx, { name: "Spare IdP", metadataXml: idpMetadata("https://spare.example.test/metadata", "https://spare.example.test/sso", [generateKeyPair("spare").certBase64]) });
    await expect(linkIdentity(devAdmin, { userId: mallory.id, identityProviderId: spare.id, subject: "spare-sub" })).rejects.toThrow(
      "Spare IdP signs no environment in yet (any environment may adopt it): an identity linked to it lets its holder into each of them. This change is account-wide; it needs an owner or admin.",
    );
    expect(await getDb().select().from(userIdentities)).toEqual(before);
    const victim = await f.signIn({ subject: "victim-sub", attributes: { email: ["victim@example.com"], name: ["Victim"], groups: [] } });
    expect(victim.ok && victim.user.id).not.toBe(mallory.id);

    // Once DEV signs in with Spare IdP alone, it reaches only DEV: the DEV admin links it.
    await configureSso(f.envs.dev, spare);
    expect(await linkIdentity(devAdmin, { userId: mallory.id, identityProviderId: spare.id, subject: "spare-sub" })).toEqual({ linked: true });

    // From a DEV sign-in's trace, with an IdP that PROD signs in with too: refused the same way.
    await configureSso(f.envs.dev, f.idp);
    const prepared = await createUser(devAdmin, { name: "Dev Prepared", email: "dev.prepared@example.com", environmentIds: [f.envs.dev.id] });
    const devSignIn = await f.signIn({ subject: "dev-prepared-sub", attributes: { email: ["dev.prepared@example.com"], name: ["Dev Prepared"], groups: [] } }, f.envs.dev);
    if (devSignIn.ok) throw new Error("an unverified email was linked");
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, devSignIn.traceId!));
    expect(trace).toMatchObject({ failedCheck: "email_unverified", userId: prepared.id, environmentId: f.envs.dev.id });
    const linked = await getDb().select().from(userIdentities);
    await expect(linkIdentityFromTrace(devAdmin, trace!.id)).rejects.toThrow("Test IdP signs users in to DEV, PROD: an identity linked to it lets its holder into each of them. This change touches an environment outside your scope.");
    expect(await getDb().select().from(userIdentities)).toEqual(linked);
  });
});
