import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, desc, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, groups, identityProviders } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ForbiddenError, ValidationError } from "@/lib/errors";
import { createGroup } from "@/lib/groups";
import { createUser, revokeEnvironment } from "@/lib/users";
import { routeSignIn, updateEnvironmentAuth } from "./environment-auth";
import { createIdentityProvider, deleteIdentityProvider, listGroupMappings, refreshMetadata, setGroupMappings, updateIdentityProvider } from "./identity-providers";
import { jackson, JACKSON_PRODUCT } from "./jackson";
import { certificateWarning, fetchMetadata, parseIdpMetadata } from "./metadata";
import { withPrivateUrls } from "./testing/metadata-server";
import { generateKeyPair, idpMetadata } from "./testing/test-idp";

// A metadata server on loopback; what it serves changes per test.
let served = "";
let server: http.Server;
let metadataUrl: string;
const key1 = generateKeyPair("rollover-1");
const key2 = generateKeyPair("rollover-2");
let envs: Awaited<ReturnType<typeof createEnvironments>>;

beforeAll(async () => {
  envs = await createEnvironments();
  server = http.createServer((req, res) => {
    if (req.url === "/redirect") return void res.writeHead(302, { location: "http://169.254.169.254/" }).end();
    if (req.url === "/missing") return void res.writeHead(404).end("no");
    if (req.url === "/huge") return void res.writeHead(200, { "content-type": "application/xml" }).end("<x>".padEnd(1_100_000, " "));
    res.writeHead(200, { "content-type": "application/xml" }).end(served);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  metadataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));


describe("metadata", () => {
  it("reads entity ID, SSO URL and signing certificates with their expiry", () => {
    const parsed = parseIdpMetadata(idpMetadata("https://idp.example/md", "https://idp.example/sso", [key1.certBase64, key2.certBase64]));
    expect(parsed).toMatchObject({ entityId: "https://idp.example/md", ssoUrl: "https://idp.example/sso", ssoBinding: "redirect" });
    expect(parsed.certificates).toHaveLength(2);
    const days = (new Date(parsed.certificates[0]!.notAfter).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(820);
    expect(days).toBeLessThan(826);
  });

  it("refuses what is not IdP metadata, each with the reason", () => {
    const cases: [string, RegExp][] = [
      ["<not xml", /not well-formed XML/],
      // The parser's reason, not its wrapping ("Reporting fatalError … caused Error: …").
      ['<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><a></b></md:EntityDescriptor>', /^The metadata is not well-formed XML \(Opening and ending tag mismatch: "a" != "b"\)\.$/],
      ["<a>&foo;</a>", /^The metadata is not well-formed XML \(entity not found:&foo;\)\.$/],
      ['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>', /DOCTYPE or entity declaration/],
      ['<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"><md:SPSSODescriptor/></md:EntityDescriptor>', /no IDPSSODescriptor/],
      [idpMetadata("https://idp.example/md", "https://idp.example/sso", []), /no signing certificate/],
      ["<x/>", /^This XML is not SAML metadata: its root is <x>, where SAML metadata is an EntityDescriptor of urn:oasis:names:tc:SAML:2\.0:metadata\.$/],
      ['<feed xmlns="http://www.w3.org/2005/Atom"/>', /^This XML is not SAML metadata: its root is <feed> \(http:\/\/www\.w3\.org\/2005\/Atom\)/],
      ["<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Okta</body></html>", /^This is an HTML page, not SAML metadata/],
      ["  <html lang=\"en\"><body>Login</body></html>", /^This is an HTML page, not SAML metadata/],
    ];
    for (const [xml, reason] of cases) {
      const error = (() => {
        try {
          parseIdpMetadata(xml);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fieldErrors?.metadataXml?.[0]).toMatch(reason);
    }
  });

  it("refuses private and loopback metadata URLs unless configuration allows them, and never follows redirects", async () => {
    served = idpMetadata("https://idp.example/md", "https://idp.example/sso", [key1.certBase64]);
    await withPrivateUrls(false, async () => {
      for (const url of [metadataUrl.replace("http:", "https:"), "https://10.0.0.8/md", "https://[::1]/md", "https://169.254.169.254/latest/meta-data", "https://[::ffff:7f00:1]/md"]) {
        await expect(fetchMetadata(url)).rejects.toThrow(/private or loopback address/);
      }
      await expect(fetchMetadata("file:///etc/passwd")).rejects.toThrow(/must use https/);
    });
    await withPrivateUrls(true, async () => {
      await expect(fetchMetadata(metadataUrl)).resolves.toContain("EntityDescriptor");
      await expect(fetchMetadata(metadataUrl.replace("/metadata", "/redirect"))).rejects.toThrow(/redirects \(HTTP 302\)/);
      await expect(fetchMetadata(metadataUrl.replace("/metadata", "/missing"))).rejects.toThrow("The metadata URL answered HTTP 404.");
      await expect(fetchMetadata(metadataUrl.replace("/metadata", "/huge"))).rejects.toThrow("The metadata is larger than 1 MB.");
      await expect(fetchMetadata("http://127.0.0.1:9/md")).rejects.toThrow(/^The metadata could not be fetched: connect ECONNREFUSED/);
    });
  });

  it("warns 90, 30 and 7 days before a certificate expires", () => {
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000 + 3_600_000).toISOString();
    expect(certificateWarning(inDays(120))).toBeNull();
    expect(certificateWarning(inDays(80))).toMatchObject({ level: 90, days: 80 });
    expect(certificateWarning(inDays(20))).toMatchObject({ level: 30 });
    expect(certificateWarning(inDays(3))).toMatchObject({ level: 7 });
    expect(certificateWarning(inDays(-2))).toMatchObject({ level: "expired" });
  });
});

describe("identity providers", () => {
  it("connects an IdP by metadata URL, then adds a rolled-over certificate beside the old one, pending, audited", async () => {
    served = idpMetadata("https://rollover.example/md", "https://rollover.example/sso", [key1.certBase64]);
    const idp = await withPrivateUrls(true, () => createIdentityProvider(systemCtx, { name: "Rollover IdP", preset: "okta", metadataUrl }));
    expect(idp).toMatchObject({ entityId: "https://rollover.example/md", metadataUrl, attributeMapping: { email: "email", name: "name", groups: "groups" } });
    expect(idp.jacksonClientId).toBeTruthy();

    served = idpMetadata("https://rollover.example/md", "https://rollover.example/sso2", [key2.certBase64]);
    const { added, pending, idp: after } = await withPrivateUrls(true, () => refreshMetadata(systemCtx, idp.id));
    expect(added).toEqual([after.certificates[1]!.fingerprint]);
    expect(pending).toEqual(added);
    expect(after.certificates.map((c) => [c.fingerprint, c.status])).toEqual([[idp.certificates[0]!.fingerprint, "approved"], [added[0], "pending"]]);
    expect(after.ssoUrl).toBe("https://rollover.example/sso2");
    const [event] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, "identity_provider.metadata_refresh")).orderBy(desc(auditEvents.id)).limit(1);
    expect(event!.after).toMatchObject({ addedCertificates: added });

    // Metadata for another entity is refused, and nothing changes.
    served = idpMetadata("https://other.example/md", "https://other.example/sso", [key2.certBase64]);
    await expect(withPrivateUrls(true, () => refreshMetadata(systemCtx, idp.id))).rejects.toThrow(/is for https:\/\/other.example\/md, not https:\/\/rollover.example\/md/);
  });

  it("refreshes metadata read more than a day ago in the hourly upkeep (the daily refresh)", async () => {
    served = idpMetadata("https://daily.example/md", "https://daily.example/sso", [key1.certBase64]);
    const idp = await withPrivateUrls(true, () => createIdentityProvider(systemCtx, { name: "Daily IdP", metadataUrl }));
    const { runSsoMaintenance } = await import("./maintenance");
    // Fresh: nothing to do for it.
    await withPrivateUrls(true, () => runSsoMaintenance());
    expect((await getDb().select().from(identityProviders).where(eq(identityProviders.id, idp.id)))[0]!.certificates).toHaveLength(1);
    await getDb().update(identityProviders).set({ metadataRefreshedAt: new Date(Date.now() - 25 * 3600_000) }).where(eq(identityProviders.id, idp.id));
    served = idpMetadata("https://daily.example/md", "https://daily.example/sso", [key1.certBase64, key2.certBase64]);
    const result = await withPrivateUrls(true, () => runSsoMaintenance());
    expect(result.refreshed).toBeGreaterThanOrEqual(1);
    const [after] = await getDb().select().from(identityProviders).where(eq(identityProviders.id, idp.id));
    expect(after!.certificates.map((c) => c.status)).toEqual(["approved", "pending"]);
    expect(after!.metadataRefreshedAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("applies the Entra ID preset, refuses a second IdP with the same entity ID, and refuses non-admins", async () => {
    const xml = idpMetadata("https://entra.example/md", "https://entra.example/sso", [key1.certBase64]);
    const idp = await createIdentityProvider(systemCtx, { name: "Entra", preset: "entra", metadataXml: xml });
    expect(idp.attributeMapping.groups).toBe("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups");
    const before = await countRows("identity_providers");
    await expect(createIdentityProvider(systemCtx, { name: "Entra again", metadataXml: xml })).rejects.toThrow(/entity ID https:\/\/entra.example\/md is already connected/);
    const denied = await createIdentityProvider(memberCtx("environment_admin", [envs.dev.id]), { name: "Nope", metadataXml: xml }).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect((denied as Error).message).toMatch(/environment admin cannot change identity providers/i);
    expect(await countRows("identity_providers")).toBe(before);
    const both = await createIdentityProvider(systemCtx, { name: "Both", metadataUrl: "https://x.example", metadataXml: xml }).catch((e) => e);
    expect((both as ValidationError).fieldErrors?.metadataXml?.[0]).toMatch(/not both/);
    await updateIdentityProvider(systemCtx, idp.id, { attributeMapping: { email: "mail", name: "displayName", groups: "memberOf" } });
    const [row] = await getDb().select().from(identityProviders).where(eq(identityProviders.id, idp.id));
    expect(row!.attributeMapping).toEqual({ email: "mail", name: "displayName", groups: "memberOf" });
  });

  it("an id in capitals is the same IdP: its audit rows and Jackson's connection are found by its id as stored", async () => {
    const xml = idpMetadata("https://caps.example/md", "https://caps.example/sso", [key1.certBase64]);
    const idp = await createIdentityProvider(systemCtx, { name: "Caps", metadataXml: xml });
    const { connections } = await jackson();
    expect(await connections.getConnections({ tenant: idp.id, product: JACKSON_PRODUCT })).toHaveLength(1);
    await updateIdentityProvider(systemCtx, idp.id.toUpperCase(), { name: "Caps renamed" });
    await deleteIdentityProvider(systemCtx, idp.id.toUpperCase());
    const rows = await getDb().select({ action: auditEvents.action, targetId: auditEvents.targetId }).from(auditEvents).where(eq(auditEvents.targetLabel, "Caps renamed"));
    expect(rows.map((r) => r.action).sort()).toEqual(["identity_provider.delete", "identity_provider.update"]);
    expect(rows.map((r) => r.targetId)).toEqual([idp.id, idp.id]);
    expect(await connections.getConnections({ tenant: idp.id, product: JACKSON_PRODUCT })).toEqual([]);
  });

  it("maps IdP group values to groups of one environment only", async () => {
    const idp = await createIdentityProvider(systemCtx, { name: "Mapper", metadataXml: idpMetadata("https://mapper.example/md", "https://mapper.example/sso", [key1.certBase64]) });
    const devGroup = await createGroup(systemCtx, { environmentId: envs.dev.id, name: "Dev Team" });
    const error = await setGroupMappings(systemCtx, idp.id, { environmentId: envs.prod.id, mappings: [{ idpValue: "x", groupId: devGroup.id }] }).catch((e) => e);
    expect([(error as ValidationError).message, (error as ValidationError).fieldErrors]).toEqual(["A mapped group is not in this environment.", { "mappings.0.groupId": ["This group is not in this environment."] }]);
    // A row with a value but no group (the console's "Choose a group") is named, with what to do.
    const noGroup = await setGroupMappings(systemCtx, idp.id, { environmentId: envs.dev.id, mappings: [{ idpValue: "a", groupId: devGroup.id }, { idpValue: "b", groupId: "" }] }).catch((e) => e);
    expect((noGroup as ValidationError).fieldErrors).toEqual({ "mappings.1.groupId": ["Choose the group this value maps to."] });
    const [everyone] = await getDb().select({ id: groups.id }).from(groups).where(and(eq(groups.environmentId, envs.dev.id), eq(groups.source, "system")));
    const toEveryone = await setGroupMappings(systemCtx, idp.id, { environmentId: envs.dev.id, mappings: [{ idpValue: "a", groupId: devGroup.id }, { idpValue: "all", groupId: everyone!.id }] }).catch((e) => e);
    expect((toEveryone as ValidationError).fieldErrors).toEqual({ "mappings.1.groupId": ["Everyone cannot be mapped: everyone with access is in it."] });
    expect(await listGroupMappings(idp.id, envs.dev.id)).toEqual([]);
    const rows = await setGroupMappings(systemCtx, idp.id, { environmentId: envs.dev.id, mappings: [{ idpValue: "okta-dev", groupId: devGroup.id }] });
    expect(rows).toEqual([{ idpValue: "okta-dev", groupId: devGroup.id, groupName: "Dev Team" }]);
  });
});

describe("environment authentication", () => {
  it("refuses inconsistent settings with field errors and writes nothing", async () => {
    const base = { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: 720, idleTimeoutMinutes: 60 };
    // A user of PROD only: TEST's settings neither find them by email (nor say they exist) nor list them.
    const prodOnly = await createUser(systemCtx, { name: "Prod only", email: "prod-only@break.example", environmentIds: [envs.prod.id] });
    const audits = await countRows("audit_events");
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ passwordEnabled: false }, "passwordEnabled", /Turn on password or SSO/],
      [{ ssoEnabled: true }, "identityProviderId", /Choose the identity provider/],
      [{ idleTimeoutMinutes: 800 }, "idleTimeoutMinutes", /cannot be longer than the session lifetime/],
      [{ sessionLifetimeMinutes: 1 }, "sessionLifetimeMinutes", /At least 5 minutes/],
      [{ tokenLifetimeSeconds: 30 }, "tokenLifetimeSeconds", /At least 60 seconds/],
      [{ tokenLifetimeSeconds: 7200 }, "tokenLifetimeSeconds", /At most an hour/],
      [{ breakGlassEmails: ["nobody@nowhere.example"] }, "breakGlassEmails", /^No user of test has the email nobody@nowhere.example\.$/],
      [{ breakGlassEmails: ["ok@example.com", "not-an-email"] }, "breakGlassEmails.1", /^Not an email address: not-an-email\.$/],
      [{ sessionLifetimeMinutes: 90.5 }, "sessionLifetimeMinutes", /^Enter a whole number of minutes\.$/],
      [{ breakGlassEmails: ["prod-only@break.example"] }, "breakGlassEmails", /^No user of test has the email prod-only@break.example\.$/],
      [{ breakGlassUserIds: [prodOnly.id] }, "breakGlassUserIds", /^A break-glass user must be a user of test\.$/],
    ];
    for (const [patch, field, reason] of cases) {
      const error = await updateEnvironmentAuth(systemCtx, envs.test.id, { ...base, ...patch }).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fieldErrors?.[field]?.join(" ")).toMatch(reason);
    }
    expect(await countRows("audit_events")).toBe(audits);
  });

  it("keeps what a change leaves out, and a break-glass user who lost the environment since stays listed, named by email as the console sends them", async () => {
    const base = { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: 720, idleTimeoutMinutes: 60 };
    const keeper = await createUser(systemCtx, { name: "Keeper", email: "keeper@break.example", environmentIds: [envs.dev.id] });
    const group = await createGroup(systemCtx, { environmentId: envs.dev.id, name: "Kept defaults" });
    await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...base, breakGlassEmails: ["keeper@break.example"], jitGroupIds: [group.id], enforcedDomains: ["kept.example"], groupAttribute: "memberOf", tokenLifetimeSeconds: 900 });
    // A change of one switch, the lists left out: they stay (they were cleared, and the lifetime reset to 600).
    const kept = await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...base, idleTimeoutMinutes: 30 });
    expect([kept.breakGlassUsers.map((u) => u.email), kept.jitGroups.map((g) => g.name), kept.enforcedDomains, kept.groupAttribute, kept.tokenLifetimeSeconds, kept.idleTimeoutMinutes]).toEqual([["keeper@break.example"], ["Kept defaults"], ["kept.example"], "memberOf", 900, 30]);
    // The keeper loses DEV: the console's next save names them by email, as it lists them, and is not refused.
    await revokeEnvironment(systemCtx, { environmentId: envs.dev.id, userId: keeper.id });
    const saved = await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...base, breakGlassEmails: ["keeper@break.example"], idleTimeoutMinutes: 20 });
    expect([saved.breakGlassUsers.map((u) => u.email), saved.idleTimeoutMinutes]).toEqual([["keeper@break.example"], 20]);
    // Cleared when asked: [] and null.
    const cleared = await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...base, breakGlassUserIds: [], jitGroupIds: [], enforcedDomains: [], groupAttribute: null });
    expect([cleared.breakGlassUsers, cleared.jitGroups, cleared.enforcedDomains, cleared.groupAttribute]).toEqual([[], [], [], null]);
    // And named again by email once gone from the list, they are refused as anyone outside DEV.
    const again = await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...base, breakGlassEmails: ["keeper@break.example"] }).catch((e) => e);
    expect(again.fieldErrors).toEqual({ breakGlassEmails: ["No user of dev has the email keeper@break.example."] });
  });

  it("routes email-first: enforced domains to SSO, others and break-glass users to a password", () => {
    const settings = { passwordEnabled: true, ssoEnabled: true, identityProviderId: "idp", enforcement: "domains" as const, enforcedDomains: ["corp.example"] };
    expect(routeSignIn(settings, "a@corp.example", false)).toMatchObject({ method: "sso" });
    expect(routeSignIn(settings, "a@CORP.example", false)).toMatchObject({ method: "sso" });
    expect(routeSignIn(settings, "a@other.example", false)).toMatchObject({ method: "password" });
    expect(routeSignIn(settings, "a@corp.example", true)).toMatchObject({ method: "password" });
    const ssoOnly = { ...settings, passwordEnabled: false, enforcement: "all" as const };
    expect(routeSignIn(ssoOnly, "a@other.example", false)).toMatchObject({ method: "sso" });
    expect(routeSignIn(ssoOnly, "a@other.example", true)).toMatchObject({ method: "password" });
    expect(routeSignIn({ ...settings, ssoEnabled: false, passwordEnabled: false }, "a@x.example", false)).toMatchObject({ method: "none" });
  });
});
