import { and, desc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, consoleMembers, environmentIdentityProviders, groupMembers, groups, identityProviders, ssoTraces, userIdentities, users, type Environment, type IdentityProvider } from "@/db/schema";
import { env } from "@/env";
import { createGroup } from "@/lib/groups";
import { countRows, createEnvironments, createVerifiedUser, systemCtx } from "@/test-support/fixtures";
import { homeRealm, identityProvidersFor, routeSignIn, updateEnvironmentAuth } from "./environment-auth";
import { handleOidcCallback, previewTrace, startConsoleSso, startSso, type AcsResult } from "./flow";
import { updateConsoleSso } from "@/lib/console-sso";
import { linkIdentity, listUserIdentities, unlinkIdentity } from "./identities";
import { createIdentityProvider, deleteIdentityProvider, setGroupMappings, updateIdentityProvider } from "./identity-providers";
import { claimAttributes, oidcRedirectUri } from "./oidc";
import { configureSso } from "./testing/fixture";
import { whileHeld } from "@/test-support/while-held";
import { generateKeyPair, idpMetadata } from "./testing/test-idp";
import { sendInvitation, setPasswordWithLink } from "@/lib/end-user/password-accounts";
import { readEndUserSession } from "@/lib/end-user/sessions";
import { startOidcIdp, type OidcIdp } from "./testing/oidc-idp";

// OpenID Connect identity providers against a real OpenID provider (panva's oidc-provider on
// loopback): connection by discovery, SP-initiated sign-in with JIT and groups from a claim, group
// sync on the next sign-in, and every refusal of a token the IdP signed but we must not accept
// (wrong nonce, wrong issuer, expired, unverified email), each with its reason and nothing written.
// Then several IdPs in one environment, chosen by email domain.

let idp: OidcIdp;
let other: OidcIdp;
let envs: { dev: Environment; test: Environment; prod: Environment };
let connected: IdentityProvider;
let engineers: { id: string };
let finance: { id: string };
let settings: { ALLOW_PRIVATE_METADATA_URLS: boolean };
let privateBefore = false;

beforeAll(async () => {
  settings = env() as { ALLOW_PRIVATE_METADATA_URLS: boolean };
  privateBefore = settings.ALLOW_PRIVATE_METADATA_URLS;
  // The test IdP is on loopback over http: allowed only with this setting (as for metadata URLs).
  settings.ALLOW_PRIVATE_METADATA_URLS = true;
  idp = await startOidcIdp({ redirectUri: oidcRedirectUri() });
  // Registered for client_secret_post (the first for Basic, the default): each refuses the other method.
  other = await startOidcIdp({ redirectUri: oidcRedirectUri(), clientId: "second-client", tokenAuthMethod: "client_secret_post" });
  envs = await createEnvironments();
  connected = await createIdentityProvider(systemCtx, { protocol: "oidc", name: "Corporate OIDC", oidcIssuer: `${idp.issuer}/.well-known/openid-configuration`, oidcClientId: idp.clientId, oidcClientSecret: idp.clientSecret, oidcScopes: "openid email profile groups" });
  await configureSso(envs.prod, connected, { jit: true, groupSync: true });
  engineers = await createGroup(systemCtx, { environmentId: envs.prod.id, name: "Engineers" });
  finance = await createGroup(systemCtx, { environmentId: envs.prod.id, name: "Finance" });
  await setGroupMappings(systemCtx, connected.id, { environmentId: envs.prod.id, mappings: [{ idpValue: "eng", groupId: engineers.id }, { idpValue: "fin", groupId: finance.id }] });
});

afterAll(async () => {
  settings.ALLOW_PRIVATE_METADATA_URLS = privateBefore;
  await Promise.all([idp?.close(), other?.close()]);
});

/** A browser without a window: follows the redirects (keeping the IdP's cookies) until it is sent to our redirect URI. */
async function browse(startUrl: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = startUrl;
  for (let i = 0; i < 12; i++) {
    if (url.startsWith(oidcRedirectUri())) return url;
    const res = await fetch(url, { redirect: "manual", headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0]!;
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
    }
    const location = res.headers.get("location");
    if (!location) throw new Error(`The IdP stopped at ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    url = new URL(location, url).href;
  }
  throw new Error("Too many redirects.");
}

/** The whole round trip as one browser: start at PROD, sign in at the IdP as the account, come back. */
async function signInAs(account: string, options: { provider?: OidcIdp; environment?: Environment; email?: string; identityProviderId?: string } = {}) {
  const provider = options.provider ?? idp;
  provider.autoLogin = account;
  const started = await startSso((options.environment ?? envs.prod).key, { loginHint: options.email, identityProviderId: options.identityProviderId });
  if (!("redirectUrl" in started)) throw new Error("expected a redirect to the IdP");
  const callback = await browse(started.redirectUrl);
  return { started, callback, result: await handleOidcCallback({ url: callback, browserBinding: started.binding, ip: "203.0.113.7" }) };
}

const userByEmail = async (email: string) => (await getDb().select().from(users).where(eq(users.email, email)))[0];
const groupNamesOf = async (userId: string) =>
  (await getDb().select({ name: groups.name }).from(groupMembers).innerJoin(groups, eq(groups.id, groupMembers.groupId)).where(eq(groupMembers.userId, userId)).orderBy(groups.name)).map((g) => g.name);
const failed = (result: AcsResult) => {
  if (result.ok) throw new Error("expected a refusal");
  return result;
};

describe("connecting an OpenID Connect IdP", () => {
  it("reads discovery, keeps the issuer without the well-known suffix and the client secret sealed, and audits no secret", async () => {
    expect(connected).toMatchObject({ protocol: "oidc", oidcIssuer: idp.issuer, oidcClientId: idp.clientId, oidcScopes: "openid email profile groups", entityId: null });
    expect(connected.oidcClientSecret).toMatch(/^v1\./);
    expect(connected.oidcClientSecret).not.toContain(idp.clientSecret);
    const [audit] = await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, "identity_provider.create"), eq(auditEvents.targetId, connected.id)));
    expect(JSON.stringify(audit!.after)).not.toContain(idp.clientSecret);
    expect(audit!.after).toMatchObject({ protocol: "oidc", oidcIssuer: idp.issuer, oidcClientSecret: "[redacted]" });
  });

  it("refuses an issuer that does not answer discovery, plain http off loopback and scopes without openid, with field errors, and writes nothing", async () => {
    const before = await getDb().select({ n: sql<number>`count(*)::int` }).from(identityProviders);
    const closed = await startOidcIdp({ redirectUri: oidcRedirectUri() });
    await closed.close();
    await expect(createIdentityProvider(systemCtx, { protocol: "oidc", name: "Gone", oidcIssuer: closed.issuer, oidcClientId: "x" })).rejects.toMatchObject({
      fieldErrors: { oidcIssuer: [expect.stringMatching(/^Discovery at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration failed: /)] },
    });
    await expect(createIdentityProvider(systemCtx, { protocol: "oidc", name: "Plain", oidcIssuer: "http://idp.example.com", oidcClientId: "x" })).rejects.toMatchObject({
      fieldErrors: { oidcIssuer: [expect.stringContaining("The issuer URL must use https")] },
    });
    await expect(createIdentityProvider(systemCtx, { protocol: "oidc", name: "No openid", oidcIssuer: idp.issuer, oidcClientId: "x", oidcScopes: "email profile" })).rejects.toMatchObject({
      fieldErrors: { oidcScopes: ["The scopes must include openid."] },
    });
    await expect(createIdentityProvider(systemCtx, { protocol: "oidc", name: "Twice", oidcIssuer: idp.issuer, oidcClientId: idp.clientId })).rejects.toMatchObject({
      fieldErrors: { oidcClientId: [expect.stringContaining("already connected as Corporate OIDC")] },
    });
    await expect(updateIdentityProvider(systemCtx, connected.id, { allowSha1: true })).rejects.toThrow("SAML settings");
    expect(await getDb().select({ n: sql<number>`count(*)::int` }).from(identityProviders)).toEqual(before);
  });
});

describe("signing in with an OpenID Connect IdP", () => {
  it("SP-initiated: PKCE S256, state and nonce; JIT creates the user with the groups its claim maps, linked by the IdP's subject", async () => {
    idp.accounts.set("ada-sub", { email: "ada@example.com", email_verified: true, name: "Ada Lovelace", groups: ["eng", "unmapped"] });
    const { started, result } = await signInAs("ada-sub");
    const authorize = new URL((started as { redirectUrl: string }).redirectUrl);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("nonce")).toMatch(/.{20,}/);
    expect(authorize.searchParams.get("state")).toMatch(/^oidc_/);
    expect(authorize.searchParams.get("redirect_uri")).toBe(oidcRedirectUri());
    if (!result.ok || "console" in result) throw new Error(result.ok ? "console" : result.reason);
    expect(result.user).toMatchObject({ email: "ada@example.com", name: "Ada Lovelace" });
    expect(await groupNamesOf(result.user.id)).toEqual(["Engineers", "Everyone"]);
    expect(await listUserIdentities(result.user.id)).toEqual([expect.objectContaining({ identityProvider: "Corporate OIDC", subject: "ada-sub" })]);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
    expect(trace).toMatchObject({ outcome: "success", issuer: idp.issuer, subject: "ada-sub", groups: ["eng", "unmapped"] });
    expect(trace!.attributes).toMatchObject({ email: ["ada@example.com"], email_verified: ["true"] });
  });

  it("a second sign-in with changed groups syncs them: the group no longer claimed is left, the new one joined", async () => {
    idp.accounts.set("ada-sub", { email: "ada@example.com", email_verified: true, name: "Ada Lovelace", groups: ["fin"] });
    const { result } = await signInAs("ada-sub");
    if (!result.ok || "console" in result) throw new Error(result.ok ? "console" : result.reason);
    expect(await groupNamesOf(result.user.id)).toEqual(["Everyone", "Finance"]);
  });

  it("reads nested claims by their path (realm_access.roles)", () => {
    expect(claimAttributes({ sub: "s", realm_access: { roles: ["a", "b"] }, email_verified: true, n: 3 })).toEqual({ sub: ["s"], "realm_access.roles": ["a", "b"], email_verified: ["true"], n: ["3"] });
  });

  const refusals: [string, (c: Record<string, unknown>) => Record<string, unknown>, string, RegExp][] = [
    ["a wrong nonce", (c) => ({ ...c, nonce: "someone-elses-nonce" }), "nonce", /unexpected ID Token "nonce" claim value/],
    ["a wrong issuer", (c) => ({ ...c, iss: "https://evil.example.com" }), "issuer", /unexpected JWT "iss" \(issuer\) claim value/],
    ["an expired ID token", (c) => ({ ...c, iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }), "expired", /"exp" \(expiration time\) claim value, expiration is past current timestamp/],
    ["another client's ID token", (c) => ({ ...c, aud: "another-client" }), "audience", /unexpected JWT "aud" \(audience\) claim value/],
  ];
  for (const [what, tamper, check, reason] of refusals) {
    it(`refuses ${what} (signed by the IdP's own key) with its reason, and writes no user`, async () => {
      idp.accounts.set("eve-sub", { email: "eve@example.com", email_verified: true, name: "Eve", groups: ["eng"] });
      idp.tamper = tamper;
      try {
        const { result } = await signInAs("eve-sub");
        const refusal = failed(result);
        expect(refusal.check).toBe(check);
        expect(refusal.reason).toMatch(reason);
        expect(refusal.environmentKey).toBe(envs.prod.key);
      } finally {
        idp.tamper = null;
      }
      expect(await userByEmail("eve@example.com")).toBeUndefined();
      const [audit] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, "end_user.sign_in")).orderBy(desc(auditEvents.occurredAt)).limit(1);
      expect(audit).toMatchObject({ outcome: "failure", reason: expect.stringContaining(`${check}: `) });
    });
  }

  it("refuses an ID token signed by a key the IdP does not publish (same key id), with the reason", async () => {
    idp.accounts.set("mallory-sub", { email: "mallory@example.com", email_verified: true });
    idp.forge = true;
    try {
      const refusal = failed((await signInAs("mallory-sub")).result);
      expect(refusal).toMatchObject({ check: "signature", reason: expect.stringContaining("JWT signature verification failed") });
    } finally {
      idp.forge = false;
    }
    expect(await userByEmail("mallory@example.com")).toBeUndefined();
  });

  it("refuses an unverified email (email_verified false or absent) with the reason, and writes no user", async () => {
    idp.accounts.set("zed-sub", { email: "zed@example.com", email_verified: false, groups: ["eng"] });
    const refusal = failed((await signInAs("zed-sub")).result);
    expect(refusal.check).toBe("email_unverified");
    expect(refusal.reason).toBe("The IdP says it is not verified (email_verified is false) for zed@example.com: an unverified email cannot sign anyone in or be linked to an account.");
    idp.accounts.set("zed-sub", { email: "zed@example.com", groups: ["eng"] });
    expect(failed((await signInAs("zed-sub")).result).reason).toContain("does not say whether it is verified (no email_verified claim, nor Entra ID's xms_edov)");
    // Entra ID sends xms_edov (its tenant owns the email's domain) instead of email_verified: false is refused.
    idp.accounts.set("zed-sub", { email: "zed@example.com", xms_edov: false });
    expect(failed((await signInAs("zed-sub")).result).reason).toBe(
      "The IdP does not say that its domain is verified (xms_edov is false) for zed@example.com: an unverified email cannot sign anyone in or be linked to an account.",
    );
    expect(await userByEmail("zed@example.com")).toBeUndefined();
  });

  it("does not let UserInfo's email_verified vouch for another email the ID token carries without a proof of its own", async () => {
    idp.accounts.set("uma-sub", { email: "uma@attacker.example", email_verified: true, name: "Uma" });
    // The ID token names another email and says nothing of it; UserInfo proves the account's own.
    idp.tamper = (c) => {
      const { email_verified: _proof, ...rest } = c;
      return { ...rest, email: "uma.victim@example.com" };
    };
    try {
      const refusal = failed((await signInAs("uma-sub")).result);
      expect(refusal.check).toBe("email_unverified");
      expect(refusal.reason).toContain("does not say whether it is verified");
      expect(await userByEmail("uma.victim@example.com")).toBeUndefined();
      // The same email in both, proven in UserInfo only (as some IdPs send it): signs in.
      idp.tamper = (c) => {
        const { email_verified: _proof, ...rest } = c;
        return rest;
      };
      expect((await signInAs("uma-sub")).result.ok).toBe(true);
    } finally {
      idp.tamper = null;
    }
  });

  it("refuses an email the mapping reads from another claim than the one email_verified vouches for (preferred_username), and writes no user or link", async () => {
    await updateIdentityProvider(systemCtx, connected.id, { attributeMapping: { email: "preferred_username", name: "name", groups: "groups" } });
    try {
      // The attacker's own IdP account: its email is verified (their own); preferred_username is what they chose.
      idp.accounts.set("pat-sub", { email: "pat@attacker.example", email_verified: true, name: "Pat" });
      idp.tamper = (c) => ({ ...c, preferred_username: "victim.ceo@example.com" });
      const refusal = failed((await signInAs("pat-sub")).result);
      expect(refusal).toMatchObject({
        check: "email_unverified",
        reason:
          'The IdP vouches (email_verified, xms_edov) only for its email claim (pat@attacker.example), not for victim.ceo@example.com, which the attribute mapping reads from another claim: an unverified email cannot sign anyone in or be linked to an account. Map the email to the "email" claim.',
      });
      expect(await userByEmail("victim.ceo@example.com")).toBeUndefined();
      // The same claim, when it carries the verified email itself, signs in.
      idp.tamper = (c) => ({ ...c, preferred_username: "pat@attacker.example" });
      const { result } = await signInAs("pat-sub");
      expect(result.ok).toBe(true);
    } finally {
      idp.tamper = null;
      await updateIdentityProvider(systemCtx, connected.id, { attributeMapping: { email: "email", name: "name", groups: "groups" } });
    }
  });

  it("signs in an Entra ID user whose tenant owns the email's domain (xms_edov true, no email_verified); email_verified false still refuses", async () => {
    idp.accounts.set("entra-sub", { email: "erin@example.com", xms_edov: true, name: "Erin" });
    const { result } = await signInAs("entra-sub");
    if (!result.ok || "console" in result) throw new Error(result.ok ? "console" : result.reason);
    expect(result.user.email).toBe("erin@example.com");
    idp.accounts.set("entra-false-sub", { email: "fay@example.com", email_verified: false, xms_edov: true });
    expect(failed((await signInAs("entra-false-sub")).result).reason).toContain("says it is not verified (email_verified is false)");
    expect(await userByEmail("fay@example.com")).toBeUndefined();
  });

  it("authenticates at the token endpoint as the client is registered: the other method is refused with the IdP's words", async () => {
    idp.accounts.set("tom-sub", { email: "tom@example.com", email_verified: true });
    await updateIdentityProvider(systemCtx, connected.id, { oidcTokenAuthMethod: "client_secret_post" });
    try {
      const refusal = failed((await signInAs("tom-sub")).result);
      expect(refusal).toMatchObject({ check: "token", reason: expect.stringMatching(/^the IdP answered invalid_client/) });
    } finally {
      await updateIdentityProvider(systemCtx, connected.id, { oidcTokenAuthMethod: "client_secret_basic" });
    }
    expect((await signInAs("tom-sub")).result.ok).toBe(true);
  });

  it("refuses the callback in another browser (binding) and a callback used twice", async () => {
    idp.accounts.set("bob-sub", { email: "bob@example.com", email_verified: true });
    idp.autoLogin = "bob-sub";
    const started = await startSso(envs.prod.key);
    if (!("redirectUrl" in started)) throw new Error("expected a redirect");
    const callback = await browse(started.redirectUrl);
    const elsewhere = failed(await handleOidcCallback({ url: callback, browserBinding: undefined }));
    expect(elsewhere.check).toBe("binding");
    const first = await handleOidcCallback({ url: callback, browserBinding: started.binding });
    expect(first.ok).toBe(true);
    const again = failed(await handleOidcCallback({ url: callback, browserBinding: started.binding }));
    expect(again).toMatchObject({ check: "request", reason: "The sign-in request this answers has expired or was already used; start the sign-in again." });
  });

  it("answers a callback whose state is not of our shape (a NUL, an over-long one) as naming no sign-in, writing nothing (a NUL was a 500)", async () => {
    const before = await countRows("sso_traces");
    for (const state of ["oidc_%00", `oidc_${"a".repeat(40)}%00`, `oidc_${"a".repeat(500)}`]) {
      const result = failed(await handleOidcCallback({ url: `${oidcRedirectUri()}?code=x&state=${state}`, browserBinding: "x" }));
      expect(result).toMatchObject({ check: "request", reason: "The sign-in request this answers has expired or was already used; start the sign-in again.", traceId: null });
    }
    expect(await countRows("sso_traces")).toBe(before);
  });

  it("two first sign-ins of one new person at once (two tabs): both succeed as the same user, none a 500", async () => {
    idp.accounts.set("twin-sub", { email: "twin@example.com", email_verified: true, groups: ["eng"] });
    idp.autoLogin = "twin-sub";
    const tabs = await Promise.all(
      [0, 1].map(async () => {
        const started = await startSso(envs.prod.key);
        if (!("redirectUrl" in started)) throw new Error("expected a redirect");
        return { started, callback: await browse(started.redirectUrl) };
      }),
    );
    // Both plan before either commits: the first waits at its identity link (held), the second at the first's new user.
    const results = (await whileHeld(
      (held) => held`lock table user_identities in share mode`,
      tabs.map((t) => () => handleOidcCallback({ url: t.callback, browserBinding: t.started.binding })),
    )) as AcsResult[];
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    const user = (await userByEmail("twin@example.com"))!;
    expect(results.map((r) => r.ok && "user" in r && r.user.id)).toEqual([user.id, user.id]);
    expect(await groupNamesOf(user.id)).toEqual(["Engineers", "Everyone"]);
  });

  it("refuses an invited user whose account the IdP cannot activate (they can also enter another environment), with what to do: no session that leads nowhere", async () => {
    await createVerifiedUser(systemCtx, { name: "Ivy Invited", email: "ivy.invited@example.com", status: "invited", environmentIds: [envs.dev.id, envs.prod.id] });
    idp.accounts.set("ivy-sub", { email: "ivy.invited@example.com", email_verified: true });
    const sessions = await countRows("sessions");
    const refusal = failed((await signInAs("ivy-sub")).result);
    expect(refusal).toMatchObject({
      check: "user_status",
      reason:
        "ivy.invited@example.com has not accepted their invitation yet, and Corporate OIDC cannot activate an account that can also enter an environment outside PROD: accept the invitation first, or ask an admin whose scope covers every environment of the account to activate it.",
    });
    expect(await countRows("sessions")).toBe(sessions);
    expect((await userByEmail("ivy.invited@example.com"))!.status).toBe("invited");
  });

  it("refuses an IdP's error answer (the person cancelled) with the IdP's words", async () => {
    const started = await startSso(envs.prod.key);
    if (!("redirectUrl" in started)) throw new Error("expected a redirect");
    const state = new URL(started.redirectUrl).searchParams.get("state")!;
    const callback = `${oidcRedirectUri()}?error=access_denied&error_description=End-User+aborted+interaction&state=${state}&iss=${encodeURIComponent(idp.issuer)}`;
    const refusal = failed(await handleOidcCallback({ url: callback, browserBinding: started.binding }));
    expect(refusal).toMatchObject({ check: "idp_error", reason: "the IdP answered access_denied (End-User aborted interaction)" });
  });
});

describe("changing how an environment signs in", () => {
  /** A user of TEST with a password, signed in by the invitation's link: that session's token. */
  async function passwordSession(email: string) {
    const user = await createVerifiedUser(systemCtx, { name: "Pat Password", email, status: "invited", environmentIds: [envs.test.id] });
    await sendInvitation(systemCtx, { userId: user.id, environmentId: envs.test.id });
    const [mail] = await getDb().execute<{ body: string }>(sql`select body from email_outbox where "to" = ${email} order by created_at desc limit 1`);
    const token = mail!.body.match(/\/invite\/([A-Za-z0-9_-]+)/)![1]!;
    const set = await setPasswordWithLink("invite", "test", { token, password: "correct horse battery staple", confirm: "correct horse battery staple" });
    return { user, token: set.token! };
  }
  const live = async (token: string) => (await readEndUserSession("test", token)) !== null;

  it("ends the sessions the new settings refuse: SSO enforced ends password sessions (not a break-glass user's), SSO off or its IdP replaced ends its SSO sessions; audited with how many", async () => {
    await configureSso(envs.test, connected, { enforcement: "optional", passwordEnabled: true });
    idp.accounts.set("stays-sub", { email: "sso.session@example.com", email_verified: true });
    const viaSso = (await signInAs("stays-sub", { environment: envs.test })).result;
    if (!viaSso.ok || !("token" in viaSso)) throw new Error("expected an SSO sign-in");
    const plain = await passwordSession("plain.password@example.com");
    const glass = await passwordSession("glass.password@example.com");
    const auditAfter = async () =>
      (await getDb().select({ after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "environment.auth_update"), eq(auditEvents.targetId, envs.test.id))).orderBy(desc(auditEvents.id)).limit(1))[0]!
        .after as Record<string, unknown>;

    // A change of no sign-in method ends nothing.
    await configureSso(envs.test, connected, { enforcement: "optional", passwordEnabled: true, groupSync: false });
    expect([await live(viaSso.token), await live(plain.token), await live(glass.token)]).toEqual([true, true, true]);
    expect(await auditAfter()).not.toHaveProperty("sessionsEnded");

    await configureSso(envs.test, connected, { enforcement: "all", passwordEnabled: true, breakGlassUserIds: [glass.user.id] });
    expect([await live(viaSso.token), await live(plain.token), await live(glass.token)]).toEqual([true, false, true]);
    expect(await auditAfter()).toMatchObject({ sessionsEnded: 1 });

    const replacement = await createIdentityProvider(systemCtx, { name: "Replacement IdP", metadataXml: idpMetadata("https://replacement.example.test/metadata", "https://replacement.example.test/sso", [generateKeyPair("replacement").certBase64]) });
    await configureSso(envs.test, replacement, { enforcement: "all", passwordEnabled: true, breakGlassUserIds: [glass.user.id] });
    expect([await live(viaSso.token), await live(glass.token)]).toEqual([false, true]);
    expect(await auditAfter()).toMatchObject({ sessionsEnded: 1 });

    await updateEnvironmentAuth(systemCtx, envs.test.id, { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: 720, idleTimeoutMinutes: 60 });
    expect(await live(glass.token)).toBe(true);
  });
});

describe("the same sign-in as SAML's elsewhere", () => {
  it("the mapping tester previews an OpenID Connect trace; console SSO signs a member in through the IdP, role from the groups claim", async () => {
    idp.accounts.set("lin-sub", { email: "lin@example.com", email_verified: true, name: "Lin", groups: ["eng"] });
    const signed = (await signInAs("lin-sub")).result;
    if (!signed.ok || "console" in signed) throw new Error(signed.ok ? "console" : signed.reason);
    const preview = await previewTrace(signed.traceId);
    expect(preview).toMatchObject({ identity: { email: "lin@example.com", groups: ["eng"] }, plan: { user: "match lin@example.com", groupsKept: ["Engineers"] } });

    await updateConsoleSso(systemCtx, { enabled: true, identityProviderId: connected.id, passwordSignIn: "everyone", mappings: [{ idpValue: "auditors", role: "reviewer", environmentIds: [] }] });
    try {
      idp.accounts.set("rev-sub", { email: "rev@example.com", email_verified: true, name: "Rev", groups: ["auditors"] });
      idp.autoLogin = "rev-sub";
      const started = await startConsoleSso();
      if (!("redirectUrl" in started)) throw new Error("expected a redirect to the IdP");
      const result = await handleOidcCallback({ url: await browse(started.redirectUrl), browserBinding: started.binding });
      if (!result.ok || !("console" in result)) throw new Error(result.ok ? "an environment's session" : result.reason);
      expect(result.console.member.email).toBe("rev@example.com");
      const [member] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.email, "rev@example.com"));
      expect(member).toMatchObject({ role: "reviewer" });
      // No mapped group, no access: refused with the reason, as for SAML.
      idp.accounts.set("nobody-sub", { email: "nobody@example.com", email_verified: true, groups: ["eng"] });
      idp.autoLogin = "nobody-sub";
      const again = await startConsoleSso();
      if (!("redirectUrl" in again)) throw new Error("expected a redirect to the IdP");
      const refused = failed(await handleOidcCallback({ url: await browse(again.redirectUrl), browserBinding: again.binding }));
      expect(refused).toMatchObject({ console: true, check: "console_access", reason: expect.stringContaining("No console role is mapped to any of nobody@example.com's IdP groups") });
    } finally {
      await updateConsoleSso(systemCtx, { enabled: false, identityProviderId: null, passwordSignIn: "everyone", mappings: [] });
    }
  });
});

describe("several IdPs in one environment, by email domain", () => {
  let second: IdentityProvider;
  beforeAll(async () => {
    second = await createIdentityProvider(systemCtx, { protocol: "oidc", name: "Partner OIDC", oidcIssuer: other.issuer, oidcClientId: other.clientId, oidcClientSecret: other.clientSecret, oidcScopes: "openid email profile groups", oidcTokenAuthMethod: "client_secret_post" });
  });

  const setDomains = (additional: { identityProviderId: string; domains: string[] }[]) =>
    updateEnvironmentAuth(systemCtx, envs.prod.id, {
      passwordEnabled: false,
      ssoEnabled: true,
      identityProviderId: connected.id,
      enforcement: "all",
      jitEnabled: true,
      groupSyncEnabled: true,
      groupAttribute: null,
      sessionLifetimeMinutes: 720,
      idleTimeoutMinutes: 60,
      additionalIdentityProviders: additional,
    });

  it("refuses the main IdP listed again, an IdP listed twice and one without domains, with field errors", async () => {
    await expect(setDomains([{ identityProviderId: connected.id, domains: ["a.example"] }])).rejects.toMatchObject({ fieldErrors: { "additionalIdentityProviders.0.identityProviderId": ["This is already the main identity provider."] } });
    await expect(setDomains([{ identityProviderId: second.id, domains: ["a.example"] }, { identityProviderId: second.id, domains: ["b.example"] }])).rejects.toMatchObject({ fieldErrors: { "additionalIdentityProviders.1.identityProviderId": ["This identity provider is listed twice."] } });
    await expect(setDomains([{ identityProviderId: second.id, domains: [] }])).rejects.toMatchObject({ fieldErrors: { "additionalIdentityProviders.0.domains": ["List the email domains this identity provider serves."] } });
    expect(await getDb().select().from(environmentIdentityProviders)).toEqual([]);
  });

  it("routes by domain: partner.example to the partner's IdP, other domains to the main one; an IdP the environment does not use is refused", async () => {
    await setDomains([{ identityProviderId: second.id, domains: ["partner.example"] }]);
    const auth = { environmentId: envs.prod.id, ssoEnabled: true, identityProviderId: connected.id };
    expect(await identityProvidersFor(auth, "pat@partner.example")).toEqual([{ id: second.id, name: "Partner OIDC" }]);
    expect(await identityProvidersFor(auth, "ada@example.com")).toEqual([{ id: connected.id, name: "Corporate OIDC" }]);
    expect(await identityProvidersFor(auth)).toEqual([{ id: connected.id, name: "Corporate OIDC" }, { id: second.id, name: "Partner OIDC" }]);
    other.accounts.set("pat-at-partner", { email: "pat@partner.example", email_verified: true, name: "Pat" });
    const { started, result } = await signInAs("pat-at-partner", { provider: other, email: "pat@partner.example" });
    expect((started as { redirectUrl: string }).redirectUrl.startsWith(other.issuer)).toBe(true);
    if (!result.ok || "console" in result) throw new Error(result.ok ? "console" : result.reason);
    expect(result.user.email).toBe("pat@partner.example");
    // Where SSO is optional, an email of a domain a further IdP serves still goes to SSO first.
    const optional = { passwordEnabled: true, ssoEnabled: true, identityProviderId: connected.id, enforcement: "optional" as const, enforcedDomains: [] };
    expect(routeSignIn(optional, "pat@partner.example", false, (await homeRealm(auth)).routedDomains)).toMatchObject({ method: "sso" });
    expect(routeSignIn(optional, "ada@example.com", false, (await homeRealm(auth)).routedDomains)).toMatchObject({ method: "password" });
    await expect(startSso(envs.dev.key, { identityProviderId: second.id })).rejects.toThrow(/SSO is not turned on|does not sign in with that identity provider/);
    await expect(deleteIdentityProvider(systemCtx, second.id)).rejects.toThrow("remove it from that environment's sign-in settings first");
  });

  it("a domain both IdPs serve asks the person to choose; a user linked to one, unlinked and linked to the other by hand, signs in with it", async () => {
    await setDomains([{ identityProviderId: second.id, domains: ["both.example"] }]);
    // The main IdP serves both.example too once it is listed for it: list the main one by making
    // a third entry impossible; instead both additional entries carry the domain.
    const third = await createIdentityProvider(systemCtx, { protocol: "oidc", name: "Third OIDC", oidcIssuer: idp.issuer, oidcClientId: "third-client" });
    await setDomains([
      { identityProviderId: second.id, domains: ["both.example"] },
      { identityProviderId: third.id, domains: ["both.example"] },
    ]);
    await expect(startSso(envs.prod.key, { loginHint: "kim@both.example" })).rejects.toThrow("Several identity providers serve both.example: choose one.");
    const auth = { environmentId: envs.prod.id, ssoEnabled: true, identityProviderId: connected.id };
    expect((await identityProvidersFor(auth, "kim@both.example")).map((c) => c.name)).toEqual(["Partner OIDC", "Third OIDC"]);

    // Kim first signs in through the main IdP (JIT), so Kim's account is linked to it.
    idp.accounts.set("kim-main", { email: "kim@both.example", email_verified: true, name: "Kim" });
    const first = (await signInAs("kim-main", { identityProviderId: connected.id })).result;
    if (!first.ok || "console" in first) throw new Error(first.ok ? "console" : first.reason);
    // The partner's IdP asserts the same email under its own subject: the account is linked elsewhere.
    other.accounts.set("kim-partner", { email: "kim@both.example", email_verified: true, name: "Kim" });
    const conflict = failed((await signInAs("kim-partner", { provider: other, identityProviderId: second.id })).result);
    expect(conflict.check).toBe("identity_conflict");
    // The admin unlinks the main IdP's identity and links the partner's by hand.
    await unlinkIdentity(systemCtx, { userId: first.user.id, identityProviderId: connected.id, subject: "kim-main" });
    await linkIdentity(systemCtx, { userId: first.user.id, identityProviderId: second.id, subject: "kim-partner" });
    const chosen = (await signInAs("kim-partner", { provider: other, email: "kim@both.example", identityProviderId: second.id })).result;
    if (!chosen.ok || "console" in chosen) throw new Error(chosen.ok ? "console" : chosen.reason);
    expect(chosen.user.id).toBe(first.user.id);
    const linked = await getDb().select().from(userIdentities).where(eq(userIdentities.userId, first.user.id));
    expect(linked.map((l) => [l.identityProviderId, l.subject])).toEqual([[second.id, "kim-partner"]]);
  });

  it("a further IdP joins only the groups mapped for it: a value that merely names a group of the environment (Finance) is reported, not joined", async () => {
    await setDomains([{ identityProviderId: second.id, domains: ["names.example"] }]);
    other.accounts.set("nia-partner", { email: "nia@names.example", email_verified: true, name: "Nia", groups: ["Finance", "Engineers"] });
    const viaPartner = (await signInAs("nia-partner", { provider: other, identityProviderId: second.id })).result;
    if (!viaPartner.ok || "console" in viaPartner) throw new Error(viaPartner.ok ? "console" : viaPartner.reason);
    expect(await groupNamesOf(viaPartner.user.id)).toEqual(["Everyone"]);
    const [trace] = await getDb().select({ result: ssoTraces.result }).from(ssoTraces).where(eq(ssoTraces.id, viaPartner.traceId));
    expect(trace!.result).toMatchObject({ unknownGroups: ["Finance", "Engineers"] });
    // The main IdP still joins a group by its name.
    idp.accounts.set("nia-main", { email: "nia.main@example.com", email_verified: true, name: "Nia", groups: ["Finance"] });
    const viaMain = (await signInAs("nia-main", { identityProviderId: connected.id })).result;
    if (!viaMain.ok || "console" in viaMain) throw new Error(viaMain.ok ? "console" : viaMain.reason);
    expect(await groupNamesOf(viaMain.user.id)).toEqual(["Everyone", "Finance"]);
  });

  it("each IdP's group sync removes only what it added: a user signing in through both keeps the other IdP's groups", async () => {
    await setDomains([{ identityProviderId: second.id, domains: ["sync.example"] }]);
    const partners = await createGroup(systemCtx, { environmentId: envs.prod.id, name: "Partners" });
    await setGroupMappings(systemCtx, second.id, { environmentId: envs.prod.id, mappings: [{ idpValue: "partners", groupId: partners.id }] });
    idp.accounts.set("lee-main", { email: "lee@sync.example", email_verified: true, name: "Lee", groups: ["eng"] });
    const first = (await signInAs("lee-main", { identityProviderId: connected.id })).result;
    if (!first.ok || "console" in first) throw new Error(first.ok ? "console" : first.reason);
    await linkIdentity(systemCtx, { userId: first.user.id, identityProviderId: second.id, subject: "lee-partner" });
    // The partner's IdP asserts its own group: Partners joins, Engineers (the main IdP's) stays.
    other.accounts.set("lee-partner", { email: "lee@sync.example", email_verified: true, name: "Lee", groups: ["partners"] });
    const viaPartner = (await signInAs("lee-partner", { provider: other, identityProviderId: second.id })).result;
    if (!viaPartner.ok || "console" in viaPartner) throw new Error(viaPartner.ok ? "console" : viaPartner.reason);
    expect(await groupNamesOf(first.user.id)).toEqual(["Engineers", "Everyone", "Partners"]);
    // The main IdP no longer asserts eng: Engineers goes, Partners (the partner IdP's) stays.
    idp.accounts.set("lee-main", { email: "lee@sync.example", email_verified: true, name: "Lee", groups: [] });
    const again = (await signInAs("lee-main", { identityProviderId: connected.id })).result;
    if (!again.ok || "console" in again) throw new Error(again.ok ? "console" : again.reason);
    expect(await groupNamesOf(first.user.id)).toEqual(["Everyone", "Partners"]);
    const marks = await getDb().select({ groupId: groupMembers.groupId, identityProviderId: groupMembers.identityProviderId }).from(groupMembers).where(eq(groupMembers.userId, first.user.id));
    expect(marks).toContainEqual({ groupId: partners.id, identityProviderId: second.id });
  });
});
