import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, desc, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, identityProviders } from "@/db/schema";
import { ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { countRows, memberCtx, systemCtx } from "@/test-support/fixtures";
import * as idps from "./identity-providers";
import { JACKSON_PRODUCT, jackson } from "./jackson";
import { fetchMetadata } from "./metadata";
import { certificateFingerprint } from "./saml-response";
import { setupSso, type SsoFixture } from "./testing/fixture";
import { startMetadataServer, withPrivateUrls, type MetadataServer } from "./testing/metadata-server";
import { generateKeyPair, idpMetadata, type KeyPair } from "./testing/test-idp";

// Issue 15, metadata trust: metadata is read over https only (plain http to loopback only for the
// demo and tests), and a signing certificate that appears when the metadata is read again is not
// trusted until an administrator approves it (or the IdP trusts its metadata URL's rollovers).

const { createIdentityProvider, getIdentityProvider, refreshMetadata, updateIdentityProvider } = idps;
// (Looked up at call time: the certificate actions are what this issue adds.)
const approveCertificate = (...args: Parameters<typeof idps.approveCertificate>) => idps.approveCertificate(...args);
const removeCertificate = (...args: Parameters<typeof idps.removeCertificate>) => idps.removeCertificate(...args);

const entityId = "https://idp.example.test/metadata";
const ssoUrl = "https://idp.example.test/sso";
const key1 = generateKeyPair("trust-1");
const key2 = generateKeyPair("trust-2");
const key3 = generateKeyPair("trust-3");
const key4 = generateKeyPair("trust-4");
const fp = (k: KeyPair) => certificateFingerprint(k.certBase64);
const metadataWith = (...keys: KeyPair[]) => idpMetadata(entityId, ssoUrl, keys.map((k) => k.certBase64));

let server: MetadataServer;
let f: SsoFixture;

beforeAll(async () => {
  server = await startMetadataServer();
  server.serve(metadataWith(key1));
  f = await withPrivateUrls(true, () => setupSso({ key: key1, metadataUrl: server.url }));
});
afterAll(() => server.close());

const lastAudit = async (action: string) =>
  (await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, f.idp.id))).orderBy(desc(auditEvents.id)).limit(1))[0];

const statuses = async () => (await getIdentityProvider(f.idp.id)).certificates.map((c) => [c.fingerprint, c.status]);

/** The certificates Jackson verifies this IdP's responses with (its own copy of the metadata). */
async function jacksonCertificates(): Promise<string[]> {
  const { connections } = await jackson();
  const [connection] = await connections.getConnections({ tenant: f.idp.id, product: JACKSON_PRODUCT });
  const publicKey = (connection as unknown as { idpMetadata: { publicKey: string } }).idpMetadata.publicKey;
  return publicKey.split(",").map((c) => certificateFingerprint(c));
}

describe("metadata URLs must use https", () => {
  it("refuses plain http to a host other than loopback, with the reason, when the IdP is saved and when metadata is fetched", async () => {
    await withPrivateUrls(true, async () => {
      const before = await countRows("identity_providers");
      const error = await createIdentityProvider(systemCtx, { name: "Plain http", metadataUrl: "http://idp.example.invalid/metadata" }).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fieldErrors?.metadataUrl?.[0]).toMatch(/^The metadata URL must use https: over plain http anyone on the network path could change the metadata/);
      expect(await countRows("identity_providers")).toBe(before);
      await expect(fetchMetadata("http://idp.example.invalid/metadata")).rejects.toThrow(/^The metadata URL must use https/);
      await expect(fetchMetadata("ftp://idp.example.invalid/metadata")).rejects.toThrow(/^The metadata URL must use https/);
    });
  });

  it("reads plain http from loopback only with ALLOW_PRIVATE_METADATA_URLS on (the demo and tests)", async () => {
    await withPrivateUrls(false, async () => {
      await expect(fetchMetadata(server.url)).rejects.toThrow(/^The metadata URL must use https \(plain http only from a loopback address with ALLOW_PRIVATE_METADATA_URLS on\)/);
    });
    await withPrivateUrls(true, async () => {
      await expect(fetchMetadata(server.url)).resolves.toContain("EntityDescriptor");
    });
  });

  it("refuses, at the daily refresh, a plain http URL saved before the rule, and says why on the IdP", async () => {
    const legacy = await createIdentityProvider(systemCtx, { name: "Legacy http", metadataXml: idpMetadata("https://legacy.example/md", "https://legacy.example/sso", [key1.certBase64]) });
    // A row from before this rule (the form no longer takes such a URL).
    await getDb().update(identityProviders).set({ metadataUrl: "http://legacy.example.invalid/md", metadataRefreshedAt: new Date(Date.now() - 25 * 3600_000) }).where(eq(identityProviders.id, legacy.id));
    const { runSsoMaintenance } = await import("./maintenance");
    await withPrivateUrls(true, () => runSsoMaintenance());
    expect((await getIdentityProvider(legacy.id)).metadataError).toMatch(/^The metadata URL must use https/);
  });
});

describe("signing certificates that appear on refresh", () => {
  it("trusts the certificates of the first import (the administrator's act), and gives Jackson those", async () => {
    expect(await statuses()).toEqual([[fp(key1), "approved"]]);
    expect((await getIdentityProvider(f.idp.id)).certificates[0]).toMatchObject({ source: server.url });
    expect(await jacksonCertificates()).toEqual([fp(key1)]);
    expect(await f.signIn({ key: key1 })).toMatchObject({ ok: true });
  });

  it("keeps a certificate that appears at the daily refresh pending: an assertion it signs is refused with the reason until an administrator approves it (audited)", async () => {
    // The metadata URL now lists a second certificate (a rollover at the IdP, or someone on the path).
    server.serve(metadataWith(key1, key2));
    await getDb().update(identityProviders).set({ metadataRefreshedAt: new Date(Date.now() - 25 * 3600_000) }).where(eq(identityProviders.id, f.idp.id));
    const { runSsoMaintenance } = await import("./maintenance");
    await withPrivateUrls(true, () => runSsoMaintenance());

    const refused = await f.signIn({ key: key2, subject: "bob@example.com", attributes: { email: ["bob@example.com"] } });
    expect(refused).toMatchObject({ ok: false, check: "signature_invalid" });
    expect(!refused.ok && refused.reason).toBe(`The response is signed with the certificate ${fp(key2)}, which appeared in this IdP's metadata and awaits an administrator's approval in the console.`);
    expect(await statuses()).toEqual([[fp(key1), "approved"], [fp(key2), "pending"]]);
    expect(await jacksonCertificates()).toEqual([fp(key1)]);
    expect((await lastAudit("identity_provider.metadata_refresh"))!.after).toMatchObject({ pendingCertificates: [fp(key2)] });

    // Only an administrator of identity providers approves it.
    const denied = await approveCertificate(memberCtx("environment_admin", [f.envs.prod.id]), f.idp.id, { fingerprint: fp(key2) }).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect((denied as Error).message).toMatch(/environment admin cannot change identity providers/i);
    const unknown = await approveCertificate(systemCtx, f.idp.id, { fingerprint: fp(key3) }).catch((e) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as Error).message).toBe("This identity provider has no such certificate.");

    await approveCertificate(systemCtx, f.idp.id, { fingerprint: fp(key2) });
    expect(await statuses()).toEqual([[fp(key1), "approved"], [fp(key2), "approved"]]);
    expect(await jacksonCertificates()).toEqual([fp(key1), fp(key2)]);
    expect(await f.signIn({ key: key2, subject: "bob@example.com", attributes: { email: ["bob@example.com"] } })).toMatchObject({ ok: true });
    const approval = await lastAudit("identity_provider.certificate_approve");
    expect(approval).toMatchObject({ actorLabel: systemCtx.actor.label, before: { fingerprint: fp(key2), status: "pending" }, after: { fingerprint: fp(key2), status: "approved", source: server.url } });
    const twice = await approveCertificate(systemCtx, f.idp.id, { fingerprint: fp(key2) }).catch((e) => e);
    expect((twice as ValidationError).message).toBe("This certificate is already approved.");
  });

  it("keeps a certificate from pasted metadata XML pending too", async () => {
    const { pending } = await refreshMetadata(systemCtx, f.idp.id, { metadataXml: metadataWith(key1, key2, key4) });
    expect(pending).toEqual([fp(key4)]);
    expect((await getIdentityProvider(f.idp.id)).certificates.find((c) => c.fingerprint === fp(key4))).toMatchObject({ status: "pending", source: null });
    expect(await f.signIn({ key: key4 })).toMatchObject({ ok: false, check: "signature_invalid" });
  });

  it("approves a certificate read from the metadata URL at the refresh when the IdP trusts its rollovers (off by default)", async () => {
    expect((await getIdentityProvider(f.idp.id)).autoTrustRollover).toBe(false);
    const noUrl = await createIdentityProvider(systemCtx, { name: "From XML", metadataXml: idpMetadata("https://xml.example/md", "https://xml.example/sso", [key1.certBase64]) });
    const error = await updateIdentityProvider(systemCtx, noUrl.id, { autoTrustRollover: true }).catch((e) => e);
    expect((error as ValidationError).fieldErrors?.autoTrustRollover?.[0]).toBe("This IdP was added from XML: there is no metadata URL to trust.");

    await updateIdentityProvider(systemCtx, f.idp.id, { autoTrustRollover: true });
    expect((await lastAudit("identity_provider.update"))!.after).toMatchObject({ autoTrustRollover: true });
    server.serve(metadataWith(key1, key2, key3));
    const { added, pending } = await withPrivateUrls(true, () => refreshMetadata(systemCtx, f.idp.id));
    expect([added, pending]).toEqual([[fp(key3)], []]);
    expect((await getIdentityProvider(f.idp.id)).certificates.find((c) => c.fingerprint === fp(key3))).toMatchObject({ status: "approved", approvedBy: "automatic trust of the metadata URL" });
    expect((await lastAudit("identity_provider.metadata_refresh"))!.after).toMatchObject({ addedCertificates: [fp(key3)], autoTrustedCertificates: [fp(key3)] });
    expect(await f.signIn({ key: key3 })).toMatchObject({ ok: true });
    await updateIdentityProvider(systemCtx, f.idp.id, { autoTrustRollover: false });
  });

  it("removes an old certificate (audited), but never the last approved one", async () => {
    const denied = await removeCertificate(memberCtx("environment_admin", [f.envs.prod.id]), f.idp.id, { fingerprint: fp(key1) }).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);

    await removeCertificate(systemCtx, f.idp.id, { fingerprint: fp(key1) });
    expect((await lastAudit("identity_provider.certificate_remove"))!.before).toMatchObject({ fingerprint: fp(key1), status: "approved" });
    expect(await jacksonCertificates()).toEqual([fp(key2), fp(key3)]);
    const refused = await f.signIn({ key: key1 });
    expect(refused).toMatchObject({ ok: false, check: "signature_invalid", reason: expect.stringMatching(/not one of this IdP's/) });

    // A pending one can always go (it verifies nothing); approved ones down to the last.
    await removeCertificate(systemCtx, f.idp.id, { fingerprint: fp(key4) });
    await removeCertificate(systemCtx, f.idp.id, { fingerprint: fp(key2) });
    const audits = await countRows("audit_events");
    const last = await removeCertificate(systemCtx, f.idp.id, { fingerprint: fp(key3) }).catch((e) => e);
    expect(last).toBeInstanceOf(ValidationError);
    expect((last as Error).message).toBe("This is the last approved signing certificate of Test IdP: without it no sign-in with this IdP would be accepted. Approve its successor first.");
    expect(await countRows("audit_events")).toBe(audits);
    expect(await statuses()).toEqual([[fp(key3), "approved"]]);
  });
});
