import { beforeAll, describe, expect, it } from "vitest";
import { getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createGroup } from "@/lib/groups";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { restClient, restTokens, validateAgainstOpenApi } from "@/test-support/rest-api";

// The sign-in endpoints: renaming environments, an environment's sign-in settings (ETag / If-Match),
// identity providers (create from XML, read, change with If-Match, refresh with a rollover
// certificate, approve and remove certificates, group mappings, traces, delete). Every answer is
// validated against the served OpenAPI document at the end.

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens = { write: "", read: "", devWrite: "", devRead: "" };
const { api, recorded } = restClient(() => tokens.write);
const key1 = generateKeyPair("rest-idp-1");
const key2 = generateKeyPair("rest-idp-2");
const ENTITY = "https://idp.rest.example";
const metadata = (certs: string[]) => idpMetadata(ENTITY, `${ENTITY}/sso`, certs);

beforeAll(async () => {
  env = await createEnvironments();
  Object.assign(tokens, await restTokens(env.dev.id));
});

const audited = async (action: string) => (await getSql()<{ n: number }[]>`select count(*)::int as n from audit_events where action = ${action}`)[0]!.n;

describe("environments: rename", () => {
  it("renames TEST and changes its description, audited; the key stays", async () => {
    const renamed = await api("PATCH", "/environments/test", { body: { name: "Testing", description: "Where changes are tried" } });
    expect([renamed.status, renamed.json]).toEqual([200, expect.objectContaining({ key: "test", name: "Testing", description: "Where changes are tried" })]);
    expect(await audited("environment.update")).toBe(1);
    await api("PATCH", "/environments/test", { body: { name: "TEST" } });
  });

  it("refuses a key change, an empty change, read-only and environment-scoped tokens, and an unknown environment, writing nothing", async () => {
    const before = await audited("environment.update");
    const key = await api("PATCH", "/environments/test", { body: { key: "qa" } });
    expect([key.status, key.json.errors.key]).toEqual([400, ["An environment's key cannot change: it is in its URLs, token issuer and pipelines."]]);
    const empty = await api("PATCH", "/environments/test", { body: {} });
    expect([empty.status, empty.json.errors.name]).toEqual([400, ["Give a new name or description."]]);
    const long = await api("PATCH", "/environments/test", { body: { name: "x".repeat(81) } });
    expect(long.json.errors.name).toEqual(["A name has at most 80 characters."]);
    expect((await api("PATCH", "/environments/test", { token: tokens.read, body: { name: "X" } })).json).toMatchObject({ status: 403, detail: "This API token is read-only." });
    expect((await api("PATCH", "/environments/dev", { token: tokens.devWrite, body: { name: "X" } })).json).toMatchObject({
      status: 403,
      detail: "This API token is scoped to environments and cannot make account-wide changes.",
    });
    expect((await api("PATCH", "/environments/nowhere", { body: { name: "X" } })).json).toMatchObject({ status: 404, detail: "No environment “nowhere”." });
    expect(await audited("environment.update")).toBe(before);
  });
});

describe("identity providers and sign-in settings", () => {
  let idpId = "";
  let firstFingerprint = "";

  it("connects an IdP from metadata XML (201, Location, ETag) and lists and reads it with its certificates and what to enter in the IdP", async () => {
    const created = await api("POST", "/identity-providers", { body: { name: "Rest Okta", preset: "okta", metadataXml: metadata([key1.certBase64]) } });
    expect(created.status).toBe(201);
    idpId = created.json.id;
    expect(created.headers.get("location")).toBe(`/api/v1/identity-providers/${idpId}`);
    expect(created.headers.get("etag")).toBe('W/"1"');
    expect(created.json).toMatchObject({ name: "Rest Okta", preset: "okta", entityId: ENTITY, ssoUrl: `${ENTITY}/sso`, certificates: [{ status: "approved" }] });
    expect(created.json.serviceProvider.acsUrl).toMatch(/\/api\/sso\/acs$/);
    expect(JSON.stringify(created.json)).not.toContain("BEGIN CERTIFICATE");
    firstFingerprint = created.json.certificates[0].fingerprint;

    const list = await api("GET", "/identity-providers", { token: tokens.read });
    expect(list.json.data).toEqual([expect.objectContaining({ id: idpId, name: "Rest Okta", pendingCertificates: 0 })]);
    expect((await api("GET", `/identity-providers/${idpId}`, { token: tokens.devRead })).json.id).toBe(idpId);
  });

  it("refuses an IdP without metadata, metadata that is not SAML, a duplicate, and tokens that may not, with the reason, writing nothing", async () => {
    const before = await countRows("identity_providers");
    const none = await api("POST", "/identity-providers", { body: { name: "Empty" } });
    expect([none.status, none.json.errors.metadataUrl]).toEqual([400, ["Enter a metadata URL or paste the metadata XML."]]);
    const both = await api("POST", "/identity-providers", { body: { name: "Both", metadataUrl: "https://idp.example/metadata", metadataXml: metadata([key1.certBase64]) } });
    expect(both.json.errors.metadataXml).toEqual(["Give a metadata URL or XML, not both."]);
    const plain = await api("POST", "/identity-providers", { body: { name: "Plain", metadataUrl: "http://idp.example/metadata" } });
    expect([plain.status, plain.json.errors.metadataUrl?.[0]]).toEqual([400, expect.stringMatching(/https/)]);
    const twice = await api("POST", "/identity-providers", { body: { name: "Twice", metadataXml: metadata([key1.certBase64]) } });
    expect([twice.status, twice.json.detail]).toEqual([400, `An identity provider with entity ID ${ENTITY} is already connected.`]);
    expect((await api("POST", "/identity-providers", { token: tokens.read, body: { name: "R", metadataXml: metadata([key2.certBase64]) } })).json.detail).toBe("This API token is read-only.");
    expect((await api("POST", "/identity-providers", { token: tokens.devWrite, body: { name: "D", metadataXml: metadata([key2.certBase64]) } })).json.detail).toBe(
      "This API token is scoped to environments and cannot make account-wide changes.",
    );
    expect((await api("GET", "/identity-providers/not-a-uuid")).json).toMatchObject({ status: 404 });
    expect(await countRows("identity_providers")).toBe(before);
  });

  it("changes the IdP with If-Match: the current ETag succeeds, a stale one is 412, a malformed one 400", async () => {
    const changed = await api("PATCH", `/identity-providers/${idpId}`, { body: { name: "Rest Okta (prod)", allowIdpInitiated: true }, headers: { "if-match": 'W/"1"' } });
    expect([changed.status, changed.json.name, changed.json.allowIdpInitiated, changed.headers.get("etag")]).toEqual([200, "Rest Okta (prod)", true, 'W/"2"']);
    const stale = await api("PATCH", `/identity-providers/${idpId}`, { body: { name: "Stale" }, headers: { "if-match": 'W/"1"' } });
    expect([stale.status, stale.json.detail]).toEqual([412, "Someone else changed this identity provider; reload and try again."]);
    const malformed = await api("PATCH", `/identity-providers/${idpId}`, { body: { name: "Bad" }, headers: { "if-match": "yesterday" } });
    expect([malformed.status, malformed.json.errors["If-Match"]]).toEqual([400, ["Not an ETag of this API."]]);
    const xmlOnly = await api("PATCH", `/identity-providers/${idpId}`, { body: { autoTrustRollover: true } });
    expect(xmlOnly.json.errors.autoTrustRollover).toEqual(["This IdP was added from XML: there is no metadata URL to trust."]);
    expect((await api("GET", `/identity-providers/${idpId}`)).json.name).toBe("Rest Okta (prod)");
  });

  it("refreshes with a rollover certificate (pending until approved), approves it, removes the old one, and refuses removing the last", async () => {
    const refreshed = await api("POST", `/identity-providers/${idpId}/refresh`, { body: { metadataXml: metadata([key1.certBase64, key2.certBase64]) } });
    expect([refreshed.status, refreshed.json.changed, refreshed.json.pending.length]).toEqual([200, true, 1]);
    const next = refreshed.json.pending[0];
    expect(refreshed.json.identityProvider.certificates.find((c: { fingerprint: string }) => c.fingerprint === next)).toMatchObject({ status: "pending", inMetadata: true });
    const other = await api("POST", `/identity-providers/${idpId}/refresh`, { body: { metadataXml: idpMetadata("https://other.example", "https://other.example/sso", [key2.certBase64]) } });
    expect([other.status, other.json.errors.metadataXml]).toEqual([400, [`This metadata is for https://other.example, not ${ENTITY}; add it as a new identity provider.`]]);

    const approved = await api("POST", `/identity-providers/${idpId}/certificates/approve`, { body: { fingerprint: next } });
    expect(approved.json.certificates.every((c: { status: string }) => c.status === "approved")).toBe(true);
    expect((await api("POST", `/identity-providers/${idpId}/certificates/approve`, { body: { fingerprint: next } })).json.detail).toBe("This certificate is already approved.");
    expect((await api("POST", `/identity-providers/${idpId}/certificates/approve`, { body: { fingerprint: "AA:BB" } })).json).toMatchObject({ status: 404, detail: "This identity provider has no such certificate." });
    const removed = await api("POST", `/identity-providers/${idpId}/certificates/remove`, { body: { fingerprint: firstFingerprint } });
    expect(removed.json.certificates.map((c: { fingerprint: string }) => c.fingerprint)).toEqual([next]);
    const last = await api("POST", `/identity-providers/${idpId}/certificates/remove`, { body: { fingerprint: next } });
    expect([last.status, last.json.detail]).toEqual([400, "This is the last approved signing certificate of Rest Okta (prod): without it no sign-in with this IdP would be accepted. Approve its successor first."]);
    expect((await api("POST", `/identity-providers/${idpId}/certificates/approve`, { token: tokens.devWrite, body: { fingerprint: next } })).json.status).toBe(403);
  });

  it("reads and replaces sign-in settings with If-Match; refuses bad settings, stale versions and other environments' tokens", async () => {
    const long = await api("GET", `/environments/${"a".repeat(100)}/sign-in`, { token: tokens.read });
    expect([long.status, long.json.detail]).toEqual([400, "Too big: expected string to have <=64 characters"]);
    const got = await api("GET", "/environments/dev/sign-in", { token: tokens.devRead });
    expect(got.json).toMatchObject({ environment: "dev", passwordEnabled: true, ssoEnabled: false, identityProvider: null, oauthDynamicRegistration: true, oauthClientMetadataDocuments: true });
    const version = got.json.version;
    expect(got.headers.get("etag")).toBe(`W/"${version}"`);
    const settings = {
      passwordEnabled: true,
      ssoEnabled: true,
      identityProviderId: idpId,
      enforcement: "domains",
      enforcedDomains: ["example.com"],
      jitEnabled: true,
      groupSyncEnabled: true,
      groupAttribute: "groups",
      sessionLifetimeMinutes: 480,
      idleTimeoutMinutes: 30,
      tokenLifetimeSeconds: 300,
    };
    const put = await api("PUT", "/environments/dev/sign-in", { token: tokens.devWrite, body: { ...settings, oauthDynamicRegistration: false }, headers: { "if-match": `W/"${version}"` } });
    expect([put.status, put.json.identityProvider, put.json.enforcedDomains, put.headers.get("etag")]).toEqual([200, { id: idpId, name: "Rest Okta (prod)" }, ["example.com"], `W/"${version + 1}"`]);
    // The OAuth switches: one changed, the other left out (kept).
    expect([put.json.oauthDynamicRegistration, put.json.oauthClientMetadataDocuments]).toEqual([false, true]);
    const stale = await api("PUT", "/environments/dev/sign-in", { token: tokens.devWrite, body: settings, headers: { "if-match": `W/"${version}"` } });
    expect([stale.status, stale.json.detail]).toEqual([412, "Someone else changed these settings; reload and try again."]);

    const before = await audited("environment_auth.update");
    const noIdp = await api("PUT", "/environments/prod/sign-in", { body: { ...settings, identityProviderId: null } });
    expect([noIdp.status, noIdp.json.errors.identityProviderId]).toEqual([400, ["Choose the identity provider for SSO."]]);
    const idle = await api("PUT", "/environments/prod/sign-in", { body: { ...settings, idleTimeoutMinutes: 600 } });
    expect(idle.json.errors.idleTimeoutMinutes).toEqual(["The idle timeout cannot be longer than the session lifetime."]);
    const nothing = await api("PUT", "/environments/prod/sign-in", { body: { ...settings, passwordEnabled: false, ssoEnabled: false } });
    expect(nothing.json.errors.passwordEnabled).toEqual(["Turn on password or SSO: users need a way to sign in."]);
    expect((await api("PUT", "/environments/prod/sign-in", { token: tokens.devWrite, body: settings })).json).toMatchObject({ status: 403, detail: "This change touches an environment outside your scope." });
    expect((await api("GET", "/environments/prod/sign-in", { token: tokens.devRead })).json).toMatchObject({ status: 403, detail: "This reads an environment outside your scope." });
    expect((await api("PUT", "/environments/prod/sign-in", { token: tokens.read, body: settings })).json.detail).toBe("This API token is read-only.");
    expect(await audited("environment_auth.update")).toBe(before);
  });

  it("connects an OpenID Connect IdP by its issuer (discovery checked, secret never returned) and adds it to DEV for a domain beside the main IdP", async () => {
    const { startOidcIdp } = await import("@/lib/sso/testing/oidc-idp");
    const { withPrivateUrls } = await import("@/lib/sso/testing/metadata-server");
    const { oidcRedirectUri } = await import("@/lib/sso/oidc");
    const provider = await startOidcIdp({ redirectUri: oidcRedirectUri() });
    try {
      const created = await withPrivateUrls(true, () =>
        api("POST", "/identity-providers", { body: { protocol: "oidc", name: "Rest OIDC", oidcIssuer: provider.issuer, oidcClientId: provider.clientId, oidcClientSecret: provider.clientSecret } }),
      );
      expect([created.status, created.json]).toEqual([
        201,
        expect.objectContaining({ protocol: "oidc", oidcIssuer: provider.issuer, oidcClientId: provider.clientId, oidcClientSecretSet: true, oidcScopes: "openid email profile", entityId: null }),
      ]);
      expect(JSON.stringify(created.json)).not.toContain(provider.clientSecret);
      expect(created.json.serviceProvider.oidcRedirectUri).toBe(oidcRedirectUri());
      const before = await countRows("identity_providers");
      const unreachable = await api("POST", "/identity-providers", { body: { protocol: "oidc", name: "Private", oidcIssuer: provider.issuer, oidcClientId: "x" } });
      expect([unreachable.status, unreachable.json.errors.oidcIssuer]).toEqual([400, ["The issuer URL must use https (plain http only from a loopback address with ALLOW_PRIVATE_METADATA_URLS on)."]]);
      expect(await countRows("identity_providers")).toBe(before);

      const current = await api("GET", "/environments/dev/sign-in", { token: tokens.devRead });
      const { environment: _e, version, identityProvider, breakGlassUsers: _b, jitGroups: _j, additionalIdentityProviders: _a, ...rest } = current.json;
      const put = await api("PUT", "/environments/dev/sign-in", {
        body: { ...rest, identityProviderId: identityProvider.id, additionalIdentityProviders: [{ identityProviderId: created.json.id, domains: ["Partner.Example"] }] },
        headers: { "if-match": `W/"${version}"` },
      });
      expect([put.status, put.json.additionalIdentityProviders]).toEqual([200, [{ id: created.json.id, name: "Rest OIDC", protocol: "oidc", domains: ["partner.example"] }]]);
      const bad = await api("PUT", "/environments/dev/sign-in", { body: { ...rest, identityProviderId: identityProvider.id, additionalIdentityProviders: [{ identityProviderId: created.json.id, domains: ["not a domain"] }] } });
      expect([bad.status, bad.json.errors["additionalIdentityProviders.0.domains.0"]]).toEqual([400, ["Not a domain name (example.com): not a domain."]]);
      const cleared = await api("PUT", "/environments/dev/sign-in", { body: { ...rest, identityProviderId: identityProvider.id, additionalIdentityProviders: [] } });
      expect(cleared.json.additionalIdentityProviders).toEqual([]);
    } finally {
      await provider.close();
    }
  });

  it("replaces and reads the IdP's group mappings per environment; refuses Everyone, another environment's group and other tokens", async () => {
    const admins = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Admins" });
    const prodGroup = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Prod admins" });
    const put = await api("PUT", `/identity-providers/${idpId}/mappings`, { token: tokens.devWrite, body: { environment: "dev", mappings: [{ idpValue: "okta-admins", groupId: admins.id }] } });
    expect([put.status, put.json]).toEqual([200, { environment: "dev", data: [{ idpValue: "okta-admins", groupId: admins.id, group: "Admins" }] }]);
    expect((await api("GET", `/identity-providers/${idpId}/mappings?environment=dev`, { token: tokens.devRead })).json.data).toEqual(put.json.data);

    const before = await countRows("group_mappings");
    const elsewhere = await api("PUT", `/identity-providers/${idpId}/mappings`, { body: { environment: "dev", mappings: [{ idpValue: "x", groupId: prodGroup.id }] } });
    // Each refusal names the row it is about.
    expect([elsewhere.status, elsewhere.json.detail, elsewhere.json.errors]).toEqual([400, "A mapped group is not in this environment.", { "mappings.0.groupId": ["This group is not in this environment."] }]);
    const [everyone] = await getSql()<{ id: string }[]>`select id from groups where environment_id = ${env.dev.id} and source = 'system'`;
    expect((await api("PUT", `/identity-providers/${idpId}/mappings`, { body: { environment: "dev", mappings: [{ idpValue: "all", groupId: everyone!.id }] } })).json.errors).toEqual({
      "mappings.0.groupId": ["Everyone cannot be mapped: everyone with access is in it."],
    });
    expect((await api("PUT", `/identity-providers/${idpId}/mappings`, { body: { mappings: [] } })).json.errors.environment).toEqual(["Name the environment (its key)."]);
    expect((await api("PUT", `/identity-providers/${idpId}/mappings`, { token: tokens.devWrite, body: { environment: "prod", mappings: [] } })).json.detail).toBe("This change touches an environment outside your scope.");
    expect((await api("GET", `/identity-providers/${idpId}/mappings`)).json.errors.environment).toEqual(["Name the environment: ?environment=<key>."]);
    expect(await countRows("group_mappings")).toBe(before);
  });

  it("reads the IdP's sign-in traces, newest first; an environment-scoped token sees its environments' only", async () => {
    await getSql()`insert into sso_traces (identity_provider_id, environment_id, flow, outcome, failed_check, reason, subject, created_at)
      values (${idpId}, ${env.dev.id}, 'sp', 'failure', 'audience', 'The assertion is for another service provider.', 'ana@example.com', now() - interval '1 minute'),
             (${idpId}, ${env.prod.id}, 'sp', 'success', null, null, 'bo@example.com', now())`;
    const all = await api("GET", `/identity-providers/${idpId}/traces`, { token: tokens.read });
    expect(all.json.data.map((t: { environment: string; outcome: string }) => `${t.environment} ${t.outcome}`)).toEqual(["prod success", "dev failure"]);
    expect(all.json.data[1]).toMatchObject({ failedCheck: "audience", reason: "The assertion is for another service provider.", subject: "ana@example.com" });
    expect((await api("GET", `/identity-providers/${idpId}/traces`, { token: tokens.devRead })).json.data.map((t: { environment: string }) => t.environment)).toEqual(["dev"]);
    expect((await api("GET", `/identity-providers/${idpId}/traces?environment=prod`, { token: tokens.read })).json.data.map((t: { subject: string }) => t.subject)).toEqual(["bo@example.com"]);
    expect((await api("GET", `/identity-providers/${idpId}/traces?environment=prod`, { token: tokens.devRead })).json.detail).toBe("This reads an environment outside your scope.");
    expect((await api("GET", `/identity-providers/${idpId}/traces?limit=0`)).json.errors.limit).toBeDefined();
  });

  it("refuses to disconnect an IdP an environment signs in with; disconnects it once SSO is off", async () => {
    const inUse = await api("DELETE", `/identity-providers/${idpId}`);
    expect([inUse.status, inUse.json.detail]).toEqual([400, "Environments still sign in with this identity provider; turn SSO off there first."]);
    const current = (await api("GET", "/environments/dev/sign-in")).json;
    await api("PUT", "/environments/dev/sign-in", { body: { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: current.sessionLifetimeMinutes, idleTimeoutMinutes: current.idleTimeoutMinutes } });
    expect((await api("DELETE", `/identity-providers/${idpId}`, { token: tokens.read })).json.detail).toBe("This API token is read-only.");
    expect((await api("DELETE", `/identity-providers/${idpId}`)).status).toBe(204);
    expect((await api("GET", `/identity-providers/${idpId}`)).json).toMatchObject({ status: 404, detail: "Identity provider not found." });
  });
});

describe("If-Match on every PATCH and PUT", () => {
  // Each replaceable representation: where to read its ETag, the change, and a check the stale change wrote nothing.
  // `outsider`: the reason a write token limited to DEV is refused (every case changes PROD or something account-wide).
  const OUTSIDE = "This change touches an environment outside your scope.";
  const ACCOUNT_WIDE = "This API token is scoped to environments and cannot make account-wide changes.";
  type Case = { method: "PATCH" | "PUT"; path: string; outsider: string; setup: () => Promise<{ url: string; read: string; body: unknown; changed: (json: Record<string, unknown>) => unknown }> };
  const CASES: Case[] = [
    {
      method: "PATCH",
      path: "/groups/{id}",
      outsider: OUTSIDE,
      setup: async () => {
        const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Etag group" });
        return { url: `/groups/${g.id}`, read: `/groups/${g.id}`, body: { name: "Etag group 2" }, changed: (j) => j.name };
      },
    },
    {
      method: "PATCH",
      path: "/resources/{id}",
      outsider: OUTSIDE,
      setup: async () => {
        const r = (await api("POST", "/resources", { body: { environment: "prod", feature: "mcp", name: "Etag MCP" } })).json;
        return { url: `/resources/${r.id}`, read: `/resources/${r.id}`, body: { name: "Etag MCP 2" }, changed: (j) => j.name };
      },
    },
    {
      method: "PATCH",
      path: "/console-members/{id}",
      outsider: ACCOUNT_WIDE,
      setup: async () => {
        const m = await realMemberCtx("reviewer");
        return { url: `/console-members/${m.actor.id}`, read: `/console-members/${m.actor.id}`, body: { role: "admin", environmentIds: [] }, changed: (j) => j.role };
      },
    },
    {
      method: "PATCH",
      path: "/environments/{key}",
      outsider: ACCOUNT_WIDE,
      setup: async () => ({ url: "/environments/prod", read: "/environments/prod", body: { description: "Production, etagged" }, changed: (j) => j.description }),
    },
    {
      method: "PUT",
      path: "/environments/{key}/sign-in",
      outsider: OUTSIDE,
      setup: async () => {
        const now = (await api("GET", "/environments/prod/sign-in")).json;
        const body = { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: now.sessionLifetimeMinutes, idleTimeoutMinutes: 45 };
        return { url: "/environments/prod/sign-in", read: "/environments/prod/sign-in", body, changed: (j) => j.idleTimeoutMinutes };
      },
    },
    {
      method: "PATCH",
      path: "/identity-providers/{id}",
      outsider: ACCOUNT_WIDE,
      setup: async () => {
        const idp = (await api("POST", "/identity-providers", { body: { name: "Etag IdP", metadataXml: idpMetadata("https://etag.example", "https://etag.example/sso", [key2.certBase64]) } })).json;
        return { url: `/identity-providers/${idp.id}`, read: `/identity-providers/${idp.id}`, body: { name: "Etag IdP 2" }, changed: (j) => j.name };
      },
    },
    {
      method: "PUT",
      path: "/identity-providers/{id}/mappings",
      outsider: OUTSIDE,
      setup: async () => {
        const idp = (await api("GET", "/identity-providers")).json.data.find((i: { name: string }) => i.name.startsWith("Etag IdP"));
        const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Etag mapped" });
        return {
          url: `/identity-providers/${idp.id}/mappings`,
          read: `/identity-providers/${idp.id}/mappings?environment=prod`,
          body: { environment: "prod", mappings: [{ idpValue: "etag", groupId: g.id }] },
          changed: (j) => (j.data as unknown[]).length,
        };
      },
    },
  ];
  // Granting an environment (PUT /users/{id}/environments/{key}) replaces no representation: nothing to match.
  const WITHOUT_REPRESENTATION = ["PUT /users/{id}/environments/{environment}"];

  it("covers every PATCH and PUT endpoint (the users' PATCH is tested in api.test.ts)", async () => {
    const { ENDPOINTS } = await import("./v1");
    const all = ENDPOINTS.filter((e) => e.method === "PATCH" || e.method === "PUT").map((e) => `${e.method} ${e.path}`);
    expect(all.sort()).toEqual([...CASES.map((c) => `${c.method} ${c.path}`), "PATCH /users/{id}", ...WITHOUT_REPRESENTATION].sort());
  });

  // A token outside the resource's scope is refused with the reason before the row is locked or its
  // tag compared: the same 403 whatever it sends, so a refusal tells nothing of the version (nor,
  // for IdP mappings, whether the environment has any), and nothing is written.
  async function refusedWhateverTheTag(method: "PATCH" | "PUT", url: string, read: string, body: unknown, outsider: string) {
    const tag = (await api("GET", read)).headers.get("etag")!;
    const auditBefore = await countRows("audit_events");
    for (const ifMatch of [undefined, tag, 'W/"99"', 'W/"0"', 'W/"-1"', 'W/"stale"', "*"]) {
      const refused = await api(method, url, { token: tokens.devWrite, body, headers: ifMatch ? { "if-match": ifMatch } : {} });
      expect([ifMatch, refused.status, refused.json.detail]).toEqual([ifMatch, 403, outsider]);
    }
    expect(await countRows("audit_events")).toBe(auditBefore);
    expect((await api("GET", read)).headers.get("etag")).toBe(tag);
  }

  it("PATCH /users/{id}: a token outside the user's environments is refused with the reason, whatever its If-Match", async () => {
    const user = (await api("POST", "/users", { body: { name: "Etag Prod User", email: "etag-prod@example.com", environmentIds: [env.prod.id] } })).json;
    await refusedWhateverTheTag("PATCH", `/users/${user.id}`, `/users/${user.id}`, { name: "Renamed by DEV" }, OUTSIDE);
  });

  // Each case's representation is made once (names are unique), for the tests of its tags and of its scope.
  const made = new Map<Case, ReturnType<Case["setup"]>>();
  const setUp = (c: Case) => made.get(c) ?? made.set(c, c.setup()).get(c)!;

  for (const c of CASES) {
    it(`${c.method} ${c.path}: the current ETag succeeds, a stale one is 412 and writes nothing, a malformed one 400`, async () => {
      const { url, read, body, changed } = await setUp(c);
      const first = await api("GET", read);
      const tag = first.headers.get("etag")!;
      expect(tag).toMatch(/^W\/".+"$/);
      const done = await api(c.method, url, { body, headers: { "if-match": tag } });
      expect(done.status).toBe(200);
      const fresh = done.headers.get("etag");
      expect(fresh).not.toBe(tag);
      expect((await api("GET", read)).headers.get("etag")).toBe(fresh);
      const auditBefore = await countRows("audit_events");
      const stale = await api(c.method, url, { body, headers: { "if-match": tag } });
      expect([stale.status, stale.json.type]).toEqual([412, "urn:iam-console:problem:version_conflict"]);
      expect(await countRows("audit_events")).toBe(auditBefore);
      expect(changed((await api("GET", read)).json)).toEqual(changed(done.json));
      const malformed = await api(c.method, url, { body, headers: { "if-match": "yesterday" } });
      expect([malformed.status, malformed.json.errors["If-Match"]]).toEqual([400, ["Not an ETag of this API."]]);
      // A well-formed tag that is no version of ours matches nothing (412, as on every resource); two different ones are a 400.
      // W/"0" and a current version written with a leading zero are no version of ours either (W/"0" was a 400 naming expectedVersion).
      for (const other of ['W/"-1"', 'W/"1.5"', 'W/""', 'W/"99999999999999999999"', 'W/"0"', fresh!.replace('W/"', 'W/"0')]) {
        expect([other, (await api(c.method, url, { body, headers: { "if-match": other } })).status]).toEqual([other, 412]);
      }
      expect((await api(c.method, url, { body, headers: { "if-match": `${fresh}, W/"1"` } })).json.errors).toEqual({ "If-Match": ["Send one ETag."] });
      // The same tag twice is that tag; `*` matches whatever is current (RFC 9110 §13.1.1).
      const listed = await api(c.method, url, { body, headers: { "if-match": `${fresh}, ${fresh}` } });
      expect(listed.status).toBe(200);
      expect((await api(c.method, url, { body, headers: { "if-match": "*" } })).status).toBe(200);
    });

    it(`${c.method} ${c.path}: a token outside its scope is refused with the reason before any tag is compared`, async () => {
      const { url, read, body } = await setUp(c);
      await refusedWhateverTheTag(c.method, url, read, body, c.outsider);
    });
  }
});

describe("the recorded answers match the served OpenAPI document", () => {
  it("validates every answer recorded above against its operation's response schema", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });
});
