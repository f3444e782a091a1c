import "server-only";
import { randomUUID } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import { getDb, type Executor, type Tx } from "@/db/client";
import { publicOrigin } from "@/env";
import { environmentAuth, environmentIdentityProviders, environments, identityProviders, samlAssertionIds, ssoRequests, ssoTraces, users, type Environment, type EnvironmentAuth, type IdentityProvider, type SsoTrace, type User } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit, redact } from "@/lib/audit/record";
import { createEndUserSession } from "@/lib/end-user/sessions";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { uniqueViolation } from "@/lib/db-errors";
import { endSessionsOfUnmappedMember, signInConsoleMemberBySso } from "@/lib/console-members/sso";
import { consoleAccessFor, consoleSsoSettings, type ConsoleAccess } from "@/lib/console-sso";
import { bindingForStart, checkBinding, SSO_REQUEST_MINUTES } from "./browser-binding";
import { safeRedirectTarget } from "@/lib/net/redirect";
import { spEndpoints } from "./endpoints";
import { getAuthRow, identityProvidersFor, signsInWith } from "./environment-auth";
import { findIdentityProviderByEntityId, getIdentityProvider, pendingCertificates, trustedCertificates } from "./identity-providers";
import { JACKSON_PRODUCT, jackson } from "./jackson";
import { applySignInPlan, assertedIdentity, idpActor, isQuietSignIn, planSignIn, touchSignIn, type AssertedIdentity, type SignInPlan } from "./provision";
import { claimAttributes, isOidcState, newOidcRequest, oidcAuthorizationUrl, oidcCallback, openCodeVerifier, sealCodeVerifier, unverifiedEmailReason } from "./oidc";
import { checkSamlResponse, decodeSamlResponse, parseXml, peekIssuer, SamlCheckError, type VerifiedAssertion } from "./saml-response";

export { SSO_REQUEST_MINUTES };
export const TRACES_KEPT_PER_IDP = 200;

/** Only our own paths may be returned to: "/e/<env>…" of this environment, nothing off-site (lib/net/redirect), no "//". */
export function safeReturnPath(value: string | null | undefined, environmentKey: string): string | null {
  if (!value || safeRedirectTarget(value, publicOrigin()) !== value) return null;
  if (!/^\/e\/[a-z][a-z0-9-]{0,31}(\/[A-Za-z0-9\-._~/%]*)?(\?[A-Za-z0-9\-._~=&%]*)?$/.test(value) || value.includes("//") || value.includes("\\")) return null;
  const own = `/e/${environmentKey}`;
  return value === own || value.startsWith(`${own}/`) || value.startsWith(`${own}?`) ? value : null;
}

function requestIdOf(redirectUrl: string | undefined, form: string | undefined): { relayState: string; requestId: string } {
  if (redirectUrl) {
    const url = new URL(redirectUrl);
    const relayState = url.searchParams.get("RelayState") ?? "";
    const xml = inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest") ?? "", "base64")).toString("utf8");
    return { relayState, requestId: parseXml(xml).documentElement!.getAttribute("ID") ?? "" };
  }
  const field = (name: string) => form?.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? "";
  const xml = Buffer.from(field("SAMLRequest"), "base64").toString("utf8");
  return { relayState: field("RelayState"), requestId: parseXml(xml).documentElement!.getAttribute("ID") ?? "" };
}

/** Where the browser goes next, and the value of its binding cookie (lib/sso/browser-binding.ts) to set. */
export type SsoStart = ({ redirectUrl: string } | { postForm: string }) & { binding: string };

/**
 * SP-initiated sign-in: Jackson builds the AuthnRequest; we remember its ID, the environment,
 * where to return and the hash of the starting browser's binding cookie, keyed by the RelayState
 * the IdP will post back (so any instance can finish it, but only for that browser).
 * `browserBinding` is the binding cookie the browser sent, if any.
 */
export async function startSso(
  environmentKey: string,
  options: { loginHint?: string; returnTo?: string; browserBinding?: string; identityProviderId?: string } = {},
): Promise<SsoStart> {
  const db = getDb();
  const [environment] = await db.select().from(environments).where(eq(environments.key, environmentKey));
  if (!environment) throw new NotFoundError("No such environment.");
  const settings = await getAuthRow(environment.id);
  if (!settings.ssoEnabled || !settings.identityProviderId) throw new ValidationError("SSO is not turned on for this environment.");
  let idpId: string;
  if (options.identityProviderId) {
    // A choice from the chooser: one of this environment's IdPs, or nothing.
    if (!/^[0-9a-f-]{36}$/i.test(options.identityProviderId) || !(await signsInWith(settings, options.identityProviderId))) {
      throw new ValidationError(`${environment.name} does not sign in with that identity provider.`);
    }
    idpId = options.identityProviderId;
  } else {
    // Home realm discovery by the email's domain; several serving it need the person's choice.
    const choices = await identityProvidersFor(settings, options.loginHint);
    if (options.loginHint && choices.length > 1) throw new ValidationError(`Several identity providers serve ${options.loginHint.split("@").pop()}: choose one.`);
    idpId = options.loginHint ? choices[0]!.id : settings.identityProviderId;
  }
  const idp = await getIdentityProvider(idpId);
  return beginRequest(idp, {
    state: environment.key,
    environmentId: environment.id,
    returnTo: safeReturnPath(options.returnTo, environment.key) ?? `/e/${environment.key}`,
    loginHint: options.loginHint,
    browserBinding: options.browserBinding,
  });
}

/** Where a console SSO sign-in lands once the member is in. */
export const CONSOLE_SSO_RETURN = "/console";

/** SP-initiated console sign-in (console SSO, lib/console-sso): the same request, binding and checks as an environment's. */
export async function startConsoleSso(options: { browserBinding?: string } = {}): Promise<SsoStart> {
  const settings = await consoleSsoSettings();
  if (!settings.enabled || !settings.identityProvider) throw new ValidationError("Console SSO is not turned on.");
  const idp = await getIdentityProvider(settings.identityProvider.id);
  return beginRequest(idp, { state: "console", environmentId: null, returnTo: CONSOLE_SSO_RETURN, browserBinding: options.browserBinding });
}

async function beginRequest(
  idp: IdentityProvider,
  options: { state: string; environmentId: string | null; returnTo: string; loginHint?: string; browserBinding?: string },
): Promise<SsoStart> {
  if (idp.protocol === "oidc") {
    // OpenID Connect (lib/sso/oidc.ts): the state keys the pending request like a RelayState, the
    // nonce stands where the AuthnRequest ID does, and the PKCE verifier is kept sealed.
    const request = newOidcRequest();
    const redirectUrl = await oidcAuthorizationUrl(idp, request, options.loginHint);
    const binding = await saveRequest(idp, options, { relayState: request.state, requestId: request.nonce, codeVerifier: sealCodeVerifier(request.codeVerifier) });
    return { redirectUrl, binding };
  }
  const { oauth } = await jackson();
  const { callbackUrl } = spEndpoints();
  const res = await oauth.authorize({
    client_id: "dummy",
    tenant: idp.id,
    product: JACKSON_PRODUCT,
    redirect_uri: callbackUrl,
    response_type: "code",
    state: options.state,
    code_challenge: "",
    code_challenge_method: "",
    ...(options.loginHint ? { login_hint: options.loginHint } : {}),
  });
  const { redirect_url: redirectUrl, authorize_form: form } = res as { redirect_url?: string; authorize_form?: string };
  if (redirectUrl && !redirectUrl.includes("SAMLRequest=")) {
    // Jackson answered with an OAuth error redirect instead of a request to the IdP.
    const error = new URL(redirectUrl).searchParams.get("error_description") ?? "Jackson refused to start the sign-in.";
    throw new ValidationError(error);
  }
  const { relayState, requestId } = requestIdOf(redirectUrl, form);
  if (!relayState || !requestId) throw new Error("Jackson's AuthnRequest carried no RelayState or ID.");
  const binding = await saveRequest(idp, options, { relayState, requestId });
  return redirectUrl ? { redirectUrl, binding } : { postForm: form!, binding };
}

/** The pending request of an SP-initiated sign-in, bound to the starting browser; the binding cookie's value to set. */
async function saveRequest(
  idp: IdentityProvider,
  options: { environmentId: string | null; returnTo: string; loginHint?: string; browserBinding?: string },
  keys: { relayState: string; requestId: string; codeVerifier?: string },
): Promise<string> {
  const binding = bindingForStart(options.browserBinding);
  await getDb().insert(ssoRequests).values({
    ...keys,
    identityProviderId: idp.id,
    environmentId: options.environmentId,
    purpose: options.environmentId ? "environment" : "console",
    returnTo: options.returnTo,
    loginHint: options.loginHint?.slice(0, 320) ?? null,
    bindingHash: binding.hash,
    expiresAt: sql`now() + make_interval(mins => ${SSO_REQUEST_MINUTES})`,
  });
  return binding.value;
}

export type AcsResult =
  | { ok: true; token: string; environment: Environment; user: User; redirectTo: string; traceId: string }
  /** A console SSO sign-in: the console session opened (next-auth's cookie is to name it). */
  | { ok: true; console: { sessionId: string; member: { id: string; email: string; name: string } }; redirectTo: string; traceId: string }
  | { ok: false; check: string; reason: string; environmentKey: string | null; console?: true; traceId: string | null };

/** What a verified response says about the person: a SAML assertion's, or an OpenID Connect ID token's (with UserInfo). */
type Evidence = { subject: string; attributes: Record<string, string[]>; issuer: string | null; authnContext: string | null };
/** In the sign-in's transaction: uses up what the response answered (request, replay entry, Jackson's answer), or the refusal. */
type Claim = (tx: Tx) => Promise<SamlCheckError | null>;

type TraceInput = {
  id?: string;
  idp: IdentityProvider | null;
  environment: Environment | null;
  flow: "sp" | "idp";
  outcome: "success" | "failure";
  check?: string;
  reason?: string;
  issuer?: string | null;
  assertion?: Partial<Evidence>;
  groups?: string[];
  result?: Record<string, unknown>;
  userId?: string | null;
  ip?: string;
};

async function saveTrace(executor: Executor, t: TraceInput): Promise<string> {
  const [row] = await executor
    .insert(ssoTraces)
    .values({
      ...(t.id ? { id: t.id } : {}),
      identityProviderId: t.idp?.id ?? null,
      environmentId: t.environment?.id ?? null,
      flow: t.flow,
      outcome: t.outcome,
      failedCheck: t.check ?? null,
      reason: t.reason ?? null,
      issuer: t.issuer ?? t.assertion?.issuer ?? null,
      subject: t.assertion?.subject ?? null,
      // Attribute values are kept for the trace, except any whose name says it is a secret.
      attributes: t.assertion?.attributes ? (redact(t.assertion.attributes) as Record<string, string[]>) : null,
      groups: t.groups ?? null,
      result: t.result ?? null,
      userId: t.userId ?? null,
      ip: t.ip ?? null,
    })
    .returning({ id: ssoTraces.id });
  return row!.id;
}

export function describePlan(plan: SignInPlan) {
  return {
    user: plan.user.action === "create" ? `create ${plan.user.email}` : `${plan.user.action} ${plan.user.email}${plan.user.rename ? ` (rename to ${plan.user.rename})` : ""}`,
    access: plan.access,
    defaultGroups: plan.defaultGroups.map((g) => g.name),
    groupSync: plan.groupSync,
    groupsAdded: [...plan.groupsAdded.map((g) => g.name), ...plan.groupsCreated.map((n) => `${n} (new group)`)],
    groupsRemoved: plan.groupsRemoved.map((g) => g.name),
    groupsKept: plan.groupsKept.map((g) => g.name),
    ...(plan.groupsExcluded.length ? { groupsExcluded: plan.groupsExcluded.map((g) => `${g.name} (${g.reason})`) } : {}),
    unknownGroups: plan.unknownGroups,
    ...(plan.accountKept ? { accountKept: plan.accountKept } : {}),
  };
}

/**
 * The ACS: every check of ours, Jackson's own validation, then (and only then) the user:
 * matched or created, access, group sync, a session. Every attempt leaves a trace and an audit row.
 * An SP-initiated response is accepted only from the browser that started the sign-in
 * (`browserBinding`, its binding cookie), and its pending request is used up only once the
 * response passed every check: a refused response (wrong browser, bad signature, …) leaves the
 * sign-in open for the right browser. IdP-initiated sign-in (where the IdP allows it) has no
 * request to bind to, so it is unbound by nature.
 */
export async function handleAcs(input: { SAMLResponse: unknown; RelayState: unknown; browserBinding?: string; ip?: string; userAgent?: string }): Promise<AcsResult> {
  // A RelayState with NUL names nothing we made (and no column could hold it): as if none came.
  const relayState = typeof input.RelayState === "string" && !input.RelayState.includes("\0") ? input.RelayState.slice(0, 2000) : "";
  const spInitiated = relayState.startsWith("boxyhq_jackson_");
  const flow = spInitiated ? "sp" : "idp";
  let idp: IdentityProvider | null = null;
  let environment: Environment | null = null;
  let issuer: string | null = null;
  let assertion: VerifiedAssertion | undefined;
  let groupsAsserted: string[] | undefined;
  // Jackson's validation starts once ours passed (it uses up its own copy of the request when it
  // accepts a response) and runs beside the sign-in's reads; a failure waits for it so nothing
  // outlives the request.
  let jacksonAnswer: Promise<{ redirect_url?: string; error?: string }> | undefined;

  // A console SSO sign-in (its request's purpose): refusals are console sign-in failures.
  let toConsole = false;

  const fail = async (check: string, reason: string, extra: { partial?: Partial<VerifiedAssertion>; userId?: string; result?: Record<string, unknown> } = {}): Promise<AcsResult> => {
    await jacksonAnswer?.catch(() => undefined);
    return recordFailure({ idp, environment, flow, issuer, evidence: assertion ?? extra.partial, groups: groupsAsserted, toConsole, ip: input.ip }, check, reason, extra);
  };

  try {
    if (typeof input.SAMLResponse !== "string" || !input.SAMLResponse) throw new SamlCheckError("malformed", "The POST carries no SAMLResponse.");
    const { xml, base64 } = decodeSamlResponse(input.SAMLResponse);
    const doc = parseXml(xml);
    issuer = peekIssuer(doc);

    // Which request this answers, or (IdP-initiated) which environment RelayState names.
    let request: PendingRequest | undefined;
    let context: Awaited<ReturnType<typeof signInContext>>;
    if (spInitiated) {
      // Reads the pending request with its environment and IdP in one statement; it is used up
      // only in the transaction that signs in (signIn).
      const pending = await pendingRequest(relayState);
      if (!pending) throw new SamlCheckError("request", EXPIRED_OR_USED);
      request = pending.request;
      idp = pending.idp;
      environment = pending.environment;
      toConsole = request.purpose === "console";
      const bound = checkBinding(input.browserBinding, request.bindingHash);
      if (!bound.ok) throw new SamlCheckError("binding", bound.reason);
      if (toConsole) {
        if (issuer !== idp.entityId) throw new SamlCheckError("issuer", `The response comes from "${issuer}", not from ${idp.name} (${idp.entityId}), which the request was sent to.`);
        const consoleSso = await consoleSsoSettings();
        if (!consoleSso.enabled || consoleSso.identityProvider?.id !== idp.id) throw new SamlCheckError("request", `The console does not sign in with ${idp.name}.`);
        const verified = verifyAssertion(xml, doc, idp, request);
        assertion = verified;
        const identity = assertedIdentity(idp, { groupAttribute: null }, verified.subject, verified.attributes);
        if ("error" in identity) return await fail("attributes", identity.error);
        groupsAsserted = identity.groups;
        const answer = askJackson(base64, relayState);
        jacksonAnswer = answer;
        const access = consoleAccessFor(consoleSso.mappings, identity.groups);
        const claim: Claim = (tx) => claimResponse(tx, { idp: idp!, assertion: verified, request, jacksonAnswer: answer });
        return await signInToConsole({ idp, identity, access, evidence: verified, claim, returnTo: request.returnTo, ip: input.ip, userAgent: input.userAgent, onDenied: fail });
      }
      context = pending.environment ? { environment: pending.environment, auth: pending.auth, idp: pending.idp } : undefined;
    } else {
      const found = issuer ? await findIdentityProviderByEntityId(issuer) : undefined;
      if (!found) throw new SamlCheckError("issuer", issuer ? `No identity provider is connected with the entity ID "${issuer}".` : "The response names no issuer.");
      idp = found;
      context = await signInContext((await environmentForIdpInitiated(idp, relayState)).id, idp.id);
    }
    if (!context) throw new SamlCheckError("request", "The environment or identity provider of this sign-in no longer exists.");
    ({ idp, environment } = context);
    const settings = context.auth;
    if (request && issuer !== idp.entityId) throw new SamlCheckError("issuer", `The response comes from "${issuer}", not from ${idp.name} (${idp.entityId}), which the request was sent to.`);
    if (!settings || !(await signsInWith(settings, idp.id))) {
      throw new SamlCheckError("request", `${environment.name} does not sign in with ${idp.name}.`);
    }

    const verified = verifyAssertion(xml, doc, idp, request);
    assertion = verified;

    const identity = assertedIdentity(idp, settings, verified.subject, verified.attributes);
    if ("error" in identity) return await fail("attributes", identity.error);
    groupsAsserted = identity.groups;

    // Jackson's own validation (signature, its session, InResponseTo), now that ours passed; its
    // answer is awaited before anyone is signed in. (Its store is not our users.) It is given the
    // document we checked (without a byte-order mark, which it cannot parse).
    const answer = askJackson(base64, relayState);
    jacksonAnswer = answer;
    const samlIdp = idp;
    const claim: Claim = (tx) => claimResponse(tx, { idp: samlIdp, assertion: verified, request, jacksonAnswer: answer });
    return await signIn({ idp, environment, settings, identity, evidence: verified, claim, returnTo: request?.returnTo, flow, ip: input.ip, userAgent: input.userAgent, onDenied: fail });
  } catch (e) {
    if (e instanceof SamlCheckError) return fail(e.check, e.message, { partial: e.partial });
    if (e instanceof NotFoundError || e instanceof ValidationError) return fail("request", e.message);
    throw e;
  }
}

/**
 * The OpenID Connect redirect URI (lib/sso/oidc.ts): the same checks and sign-in as the ACS. The
 * pending request is found by `state` and must be this browser's (binding cookie); openid-client
 * verifies the code exchange and the ID token (signature, issuer, audience, expiry, nonce, PKCE);
 * the email must be one the IdP says is verified. The request is used up only in the transaction
 * that signs in: a refused callback leaves the sign-in open for the right browser.
 */
export async function handleOidcCallback(input: { url: string; browserBinding?: string; ip?: string; userAgent?: string }): Promise<AcsResult> {
  const attempt: Attempt = { idp: null, environment: null, flow: "sp", issuer: null, toConsole: false, ip: input.ip };
  const fail = (check: string, reason: string, extra: { userId?: string; result?: Record<string, unknown> } = {}) => recordFailure(attempt, check, reason, extra);
  try {
    const callbackUrl = new URL(input.url);
    // A state of any other shape (a NUL, an over-long one) names no sign-in and is not looked up.
    const state = callbackUrl.searchParams.get("state") ?? "";
    const pending = isOidcState(state) ? await pendingRequest(state) : undefined;
    // No open sign-in of ours: nothing to attribute the attempt to, and nothing is written.
    if (!pending) return { ok: false, check: "request", reason: EXPIRED_OR_USED, environmentKey: null, traceId: null };
    const { request, idp } = pending;
    Object.assign(attempt, { idp, environment: pending.environment, issuer: idp.oidcIssuer, toConsole: request.purpose === "console" });
    const bound = checkBinding(input.browserBinding, request.bindingHash);
    if (!bound.ok) throw new SamlCheckError("binding", bound.reason);
    if (idp.protocol !== "oidc" || !request.codeVerifier) throw new SamlCheckError("request", `${idp.name} is not an OpenID Connect identity provider.`);
    const evidence = await oidcCallback(idp, callbackUrl, { state, nonce: request.requestId, codeVerifier: openCodeVerifier(request.codeVerifier) });
    const attributes = claimAttributes(evidence.claims);
    const verified: Evidence = { subject: evidence.subject, attributes, issuer: evidence.issuer, authnContext: evidence.authnContext };
    attempt.evidence = verified;
    attempt.issuer = evidence.issuer;
    const claim: Claim = (tx) => consumeOidcRequest(tx, request);
    // Where this sign-in leads (the console, or an environment that signs in with this IdP), then
    // the same identity and email checks for both.
    const consoleSso = attempt.toConsole ? await consoleSsoSettings() : null;
    if (consoleSso && (!consoleSso.enabled || consoleSso.identityProvider?.id !== idp.id)) throw new SamlCheckError("request", `The console does not sign in with ${idp.name}.`);
    const { environment, auth: settings } = pending;
    if (!consoleSso && (!environment || !settings || !(await signsInWith(settings, idp.id)))) {
      throw new SamlCheckError("request", `${environment?.name ?? "This environment"} does not sign in with ${idp.name}.`);
    }
    const identity = assertedIdentity(idp, settings && !consoleSso ? settings : { groupAttribute: null }, verified.subject, attributes);
    if ("error" in identity) return await fail("attributes", identity.error);
    attempt.groups = identity.groups;
    const unverified = unverifiedEmailReason(evidence.claims, identity.email);
    if (unverified) return await fail("email_unverified", unverified);
    const common = { idp, identity, evidence: verified, claim, returnTo: request.returnTo, ip: input.ip, userAgent: input.userAgent, onDenied: fail };
    if (consoleSso) return await signInToConsole({ ...common, access: consoleAccessFor(consoleSso.mappings, identity.groups) });
    return await signIn({ ...common, environment: environment!, settings: settings!, flow: "sp" });
  } catch (e) {
    if (e instanceof SamlCheckError) return fail(e.check, e.message);
    if (e instanceof NotFoundError || e instanceof ValidationError) return fail("request", e.message);
    if (e instanceof TypeError && /URL/.test(e.message)) return fail("request", "The callback URL could not be read.");
    throw e;
  }
}

/** An OpenID Connect sign-in's claim: its pending request used up (concurrent callbacks: one wins). */
async function consumeOidcRequest(tx: Tx, request: PendingRequest): Promise<SamlCheckError | null> {
  const used = await tx
    .update(ssoRequests)
    .set({ consumedAt: sql`now()` })
    .where(and(eq(ssoRequests.id, request.id), isNull(ssoRequests.consumedAt), sql`${ssoRequests.expiresAt} > now()`))
    .returning({ id: ssoRequests.id });
  return used.length ? null : new SamlCheckError("request", EXPIRED_OR_USED);
}

type Attempt = {
  idp: IdentityProvider | null;
  environment: Environment | null;
  flow: "sp" | "idp";
  issuer: string | null;
  evidence?: Partial<Evidence>;
  groups?: string[];
  toConsole: boolean;
  ip?: string;
};

/** A refused sign-in (either protocol): its trace and its audit row, in one transaction; nothing else is written. */
async function recordFailure(a: Attempt, check: string, reason: string, extra: { userId?: string; result?: Record<string, unknown> } = {}): Promise<AcsResult> {
  const { idp, environment, toConsole } = a;
  const traceId = await getDb().transaction(async (tx) => {
    const id = await saveTrace(tx, { idp, environment, flow: a.flow, outcome: "failure", check, reason, issuer: a.issuer, assertion: a.evidence, groups: a.groups, userId: extra.userId, result: extra.result ?? (toConsole ? { console: true } : undefined), ip: a.ip });
    const ctx: DomainContext = {
      actor: idp && environment ? idpActor(idp, environment.id) : { type: "system", id: null, label: idp ? `console SSO (${idp.name})` : (a.issuer ?? "unknown issuer") },
      ip: a.ip,
    };
    await recordAudit(tx, ctx, {
      action: toConsole ? "console.sign_in" : "end_user.sign_in",
      targetType: toConsole ? "console_member" : "user",
      targetId: toConsole ? null : (extra.userId ?? null),
      targetLabel: a.evidence?.subject ?? null,
      environment,
      outcome: "failure",
      reason: `${check}: ${reason}`,
      after: { method: "sso", flow: a.flow, traceId: id, ...(toConsole && idp ? { identityProvider: idp.name } : {}) },
    });
    return id;
  });
  return { ok: false, check, reason, environmentKey: environment?.key ?? null, ...(toConsole ? { console: true as const } : {}), traceId };
}

type PendingRequest = { id: string; requestId: string; returnTo: string; bindingHash: string; purpose: "environment" | "console"; codeVerifier: string | null };

/** Our checks of the response (lib/sso/saml-response.ts), the same for an environment's and the console's sign-in. */
function verifyAssertion(xml: string, doc: ReturnType<typeof parseXml>, idp: IdentityProvider, request: PendingRequest | undefined): VerifiedAssertion {
  const { acsUrl, entityId } = spEndpoints();
  return checkSamlResponse(xml, {
    spEntityId: entityId,
    acsUrl,
    // Approved certificates only; a pending one (new in the metadata) verifies nothing.
    certificates: trustedCertificates(idp),
    pendingCertificates: pendingCertificates(idp),
    expectedIssuer: idp.entityId!,
    allowSha1: idp.allowSha1,
    expectedInResponseTo: request?.requestId ?? null,
    allowUnsolicited: !request && idp.allowIdpInitiated,
    now: new Date(),
  }, doc);
}

type JacksonAnswer = { redirect_url?: string; error?: string };

/** Jackson's own validation of the response (its store is not our users). */
function askJackson(base64: string, relayState: string): Promise<JacksonAnswer> {
  return jackson()
    .then(({ oauth }) => oauth.samlResponse({ SAMLResponse: base64, RelayState: relayState }) as Promise<JacksonAnswer>)
    // Jackson throws for some refusals (unknown connection, state it cannot validate): a refusal too.
    .catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
}

const EXPIRED_OR_USED = "The sign-in request this answers has expired or was already used; start the sign-in again.";

/** The open (unexpired, unused) request of a RelayState, with its environment, auth row and IdP. */
async function pendingRequest(relayState: string) {
  const [row] = await getDb()
    .select({
      request: { id: ssoRequests.id, requestId: ssoRequests.requestId, returnTo: ssoRequests.returnTo, bindingHash: ssoRequests.bindingHash, purpose: ssoRequests.purpose, codeVerifier: ssoRequests.codeVerifier },
      environment: environments,
      auth: environmentAuth,
      idp: identityProviders,
    })
    .from(ssoRequests)
    .leftJoin(environments, eq(environments.id, ssoRequests.environmentId))
    .innerJoin(identityProviders, eq(identityProviders.id, ssoRequests.identityProviderId))
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, ssoRequests.environmentId))
    .where(and(eq(ssoRequests.relayState, relayState), isNull(ssoRequests.consumedAt), sql`${ssoRequests.expiresAt} > now()`));
  return row;
}

/** The environment, its authentication row and the IdP of a sign-in, in one query. */
async function signInContext(environmentId: string, identityProviderId: string) {
  const [row] = await getDb()
    .select({ environment: environments, auth: environmentAuth, idp: identityProviders })
    .from(environments)
    .innerJoin(identityProviders, eq(identityProviders.id, identityProviderId))
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, environments.id))
    .where(eq(environments.id, environmentId));
  return row;
}

async function environmentForIdpInitiated(idp: IdentityProvider, relayState: string): Promise<Environment> {
  if (relayState === CONSOLE_SSO_RETURN || relayState.startsWith(`${CONSOLE_SSO_RETURN}/`)) {
    throw new SamlCheckError("relay_state", "The console accepts only sign-ins it started: start at the console's sign-in page (“Sign in with single sign-on”).");
  }
  if (relayState) {
    const key = relayState.match(/^\/e\/([a-z][a-z0-9-]{0,31})(?:[/?]|$)/)?.[1];
    if (!key || !safeReturnPath(relayState, key)) {
      throw new SamlCheckError("relay_state", "RelayState must be a path of this site (/e/<environment>…); off-site or malformed targets are refused.");
    }
    const [environment] = await getDb().select().from(environments).where(eq(environments.key, key));
    if (!environment) throw new SamlCheckError("relay_state", `RelayState names an environment that does not exist (${key}).`);
    return environment;
  }
  const served = await getDb()
    .select({ environment: environments })
    .from(environmentAuth)
    .innerJoin(environments, eq(environments.id, environmentAuth.environmentId))
    .where(
      and(
        eq(environmentAuth.ssoEnabled, true),
        sql`(${environmentAuth.identityProviderId} = ${idp.id} or exists (select 1 from ${environmentIdentityProviders} e where e.environment_id = ${environmentAuth.environmentId} and e.identity_provider_id = ${idp.id}))`,
      ),
    );
  if (served.length !== 1) {
    throw new SamlCheckError("relay_state", served.length ? `${idp.name} serves several environments; set the IdP's RelayState to /e/<environment>.` : `No environment signs in with ${idp.name}.`);
  }
  return served[0]!.environment;
}

/**
 * Jackson reads one Audience only (a string it compares with `startsWith`); given several (SAML
 * Core 2.5.1.4 allows them: we need only be one, in each AudienceRestriction) it answers "Invalid
 * audience." after its signature and expiry checks. For exactly that answer, on an assertion our
 * stricter audience check accepted with more than one Audience, ours decides.
 */
function jacksonCannotReadAudiences(jr: { error?: string }, assertion: VerifiedAssertion): boolean {
  return assertion.audienceCount > 1 && jr.error === "access_denied - Invalid audience.";
}

class Denied extends Error {
  constructor(readonly denial: { denied: true; check: string; reason: string; userId?: string }) {
    super(denial.reason);
  }
}

/**
 * In a sign-in's transaction: the replay cache entry, the pending request used up and Jackson's
 * answer, together. The refusal, if any of them refuses (the transaction then rolls back).
 */
async function claimResponse(
  tx: Tx,
  input: { idp: IdentityProvider; assertion: VerifiedAssertion; request: PendingRequest | undefined; jacksonAnswer: Promise<JacksonAnswer> },
): Promise<SamlCheckError | null> {
  const { idp, assertion } = input;
  const [jr, inserted, used] = await Promise.all([
    input.jacksonAnswer,
    // The first instance to insert the ID wins, until the assertion expires.
    tx
      .insert(samlAssertionIds)
      .values({ identityProviderId: idp.id, assertionId: assertion.assertionId, expiresAt: assertion.notOnOrAfter })
      .onConflictDoNothing()
      .returning({ id: samlAssertionIds.assertionId }),
    // The pending request is used up here, once the response passed every check (and with the
    // rest of the sign-in: a refusal rolls it back too). Concurrent posts: one wins.
    input.request
      ? tx
          .update(ssoRequests)
          .set({ consumedAt: sql`now()` })
          .where(and(eq(ssoRequests.id, input.request.id), isNull(ssoRequests.consumedAt), sql`${ssoRequests.expiresAt} > now()`))
          .returning({ id: ssoRequests.id })
      : Promise.resolve([{ id: null }]),
  ]);
  if (used.length === 0) return new SamlCheckError("request", EXPIRED_OR_USED);
  if (inserted.length === 0) return new SamlCheckError("replay", `This assertion (ID ${assertion.assertionId}) was already used; a replayed response is refused.`);
  const code = jr.redirect_url ? new URL(jr.redirect_url).searchParams.get("code") : null;
  if ((jr.error || !code) && !jacksonCannotReadAudiences(jr, assertion)) {
    const description = jr.redirect_url ? new URL(jr.redirect_url).searchParams.get("error_description") : null;
    return new SamlCheckError("jackson", `The SAML library refused the response: ${(jr.error ?? description ?? "no code").replace(/^access_denied - /, "")}`);
  }
  return null;
}

/**
 * A console SSO sign-in, in one transaction like an end user's: the response claimed
 * (claimResponse), then the member (lib/console-members/sso.ts) and a console session, with the
 * trace and the audit row. No mapped group, an owner, a suspended member: refused, nothing kept.
 */
async function signInToConsole(input: {
  idp: IdentityProvider;
  identity: AssertedIdentity;
  access: ConsoleAccess | null;
  evidence: Evidence;
  claim: Claim;
  returnTo: string;
  ip?: string;
  userAgent?: string;
  onDenied: (check: string, reason: string, extra: { result?: Record<string, unknown> }) => Promise<AcsResult>;
}): Promise<AcsResult> {
  const { idp, identity, access, evidence: assertion } = input;
  const traceId = randomUUID();
  const ctx: DomainContext = { actor: { type: "system", id: null, label: `console SSO (${idp.name})` }, ip: input.ip };
  try {
    const outcome = await getDb().transaction(async (tx) => {
      const problem = await input.claim(tx);
      if (problem) throw problem;
      if (!access) {
        const groups = identity.groups.length ? identity.groups.map((g) => `“${g}”`).join(", ") : "none";
        throw new Denied({ denied: true, check: "console_access", reason: `No console role is mapped to any of ${identity.email}'s IdP groups (${groups}): no mapping, no access.` });
      }
      const member = await signInConsoleMemberBySso(tx, ctx, { idp, identity, access, authnContext: assertion.authnContext, ip: input.ip, userAgent: input.userAgent });
      if (!member.ok) throw new Denied({ denied: true, check: "console_access", reason: member.reason });
      const result = { console: true, member: member.member.email, role: access.role, environmentIds: access.environmentIds, matchedGroups: access.matched, created: member.created, roleChanged: member.roleChanged };
      await Promise.all([
        saveTrace(tx, { id: traceId, idp, environment: null, flow: "sp", outcome: "success", assertion, groups: identity.groups, result, ip: input.ip }),
        recordAudit(tx, { ...ctx, actor: { type: "console_member", id: member.member.id, label: member.member.email, role: access.role, environmentIds: access.environmentIds } }, {
          action: "console.sign_in",
          targetType: "console_member",
          targetId: member.member.id,
          targetLabel: member.member.email,
          after: { method: "sso", identityProvider: idp.name, traceId, authnContext: assertion.authnContext, role: access.role, groups: access.matched },
        }),
      ]);
      return member;
    });
    return { ok: true, console: { sessionId: outcome.sessionId, member: outcome.member }, redirectTo: input.returnTo, traceId };
  } catch (e) {
    if (!(e instanceof Denied)) throw e;
    // Mapped to no role now: what the linked member opened before ends too.
    const sessionsEnded = access ? 0 : await endSessionsOfUnmappedMember(ctx, idp, identity.subject);
    return input.onDenied(e.denial.check, e.denial.reason, { result: { console: true, ...(sessionsEnded ? { sessionsEnded } : {}) } });
  }
}

/**
 * One transaction: the replay cache entry, what sign-in would do (reads) and Jackson's answer
 * together, then (only if all three allow it) the user's changes, the session, the trace and the
 * audit row. A refusal rolls everything back, the replay entry included.
 */
async function signIn(input: {
  idp: IdentityProvider;
  environment: Environment;
  settings: Pick<EnvironmentAuth, "jitEnabled" | "groupSyncEnabled" | "identityProviderId">;
  identity: AssertedIdentity;
  evidence: Evidence;
  claim: Claim;
  returnTo: string | undefined;
  flow: "sp" | "idp";
  ip?: string;
  userAgent?: string;
  onDenied: (check: string, reason: string, extra: { userId?: string }) => Promise<AcsResult>;
}): Promise<AcsResult> {
  const { idp, environment, settings, identity, evidence: assertion, flow } = input;
  const ctx: DomainContext = { actor: idpActor(idp, environment.id), ip: input.ip };
  const traceId = randomUUID();
  let outcome: { user: User; token: string; traceId: string };
  try {
    outcome = await againAfterRace(() => getDb().transaction(async (tx) => {
      const [problem, plan] = await Promise.all([input.claim(tx), planSignIn(tx, { idp, environment, settings, identity })]);
      if (problem) throw problem;
      if ("denied" in plan) throw new Denied(plan);
      // A quiet sign-in (nothing to change) knows the user already; otherwise the plan is applied first.
      const quiet = isQuietSignIn(plan);
      const knownUser = quiet ? { id: plan.user.id, email: plan.user.email } : await applySignInPlan(tx, ctx, { plan, idp, environment });
      const user = { id: knownUser.id, email: knownUser.email };
      // Independent statements, sent together (postgres.js pipelines them on the transaction's connection).
      const [{ token }, , , touched] = await Promise.all([
        createEndUserSession(tx, { userId: user.id, environmentId: environment.id, method: "sso", identityProviderId: idp.id, authnContext: assertion.authnContext, ip: input.ip, userAgent: input.userAgent }),
        saveTrace(tx, { id: traceId, idp, environment, flow, outcome: "success", assertion, groups: identity.groups, result: describePlan(plan), userId: user.id, ip: input.ip }),
        recordAudit(tx, { ...ctx, actor: { type: "end_user", id: user.id, label: user.email, environmentIds: [environment.id] } }, {
          action: "end_user.sign_in",
          targetType: "user",
          targetId: user.id,
          targetLabel: user.email,
          environment,
          after: { method: "sso", flow, identityProvider: idp.name, traceId, authnContext: assertion.authnContext },
        }),
        quiet ? touchSignIn(tx, user.id, idp.id, identity.subject) : Promise.resolve(knownUser as User),
      ]);
      return { user: touched, token, traceId };
    }));
  } catch (e) {
    if (e instanceof Denied) return input.onDenied(e.denial.check, e.denial.reason, { userId: e.denial.userId });
    throw e;
  }
  return { ok: true, token: outcome.token, user: outcome.user, environment, traceId: outcome.traceId, redirectTo: input.returnTo ?? `/e/${environment.key}` };
}

/**
 * A sign-in planned on what another one was committing (two first sign-ins of one new person, in
 * two tabs: both planned to create the user, or to link the identity) meets a unique index; it is
 * planned again once, now seeing the other's user and link, instead of answering a 500.
 */
async function againAfterRace<T>(signIn: () => Promise<T>): Promise<T> {
  try {
    return await signIn();
  } catch (e) {
    if (!uniqueViolation(e)) throw e;
    return signIn();
  }
}

/** The IdP's latest traces, each with the email of the user it named (for the "link this identity" fix). */
export async function listTraces(identityProviderId: string, limit = 50): Promise<(SsoTrace & { userEmail: string | null })[]> {
  const rows = await getDb()
    .select({ trace: ssoTraces, userEmail: users.email })
    .from(ssoTraces)
    .leftJoin(users, eq(users.id, ssoTraces.userId))
    .where(eq(ssoTraces.identityProviderId, identityProviderId))
    .orderBy(desc(ssoTraces.createdAt))
    .limit(limit);
  return rows.map((r) => ({ ...r.trace, userEmail: r.userEmail }));
}

// Refusals a sign-in page may repeat: decided from our own records or from an assertion (or ID
// token) whose signature was verified, or worded wholly by us. Any other reason may quote what an
// answer said before a signature was checked (an unsigned response's Issuer, Destination, IDs or
// References; a malformed document; an IdP's error text): anyone can send such an answer from
// their own browser and link its trace to someone else, so a sign-in page says a fixed sentence.
const SHOWN_ON_SIGN_IN = new Set(["identity_conflict", "domain", "console_access", "email_unverified", "user_status", "excluded", "no_access", "no_account", "attributes", "unsolicited", "binding", "request", "replay"]);

/** What a sign-in page says about a failed SSO attempt: its reason where SHOWN_ON_SIGN_IN, else a fixed sentence (the trace keeps the reason, for admins). */
export function signInFailureMessage(trace: Pick<SsoTrace, "failedCheck" | "reason">): string {
  if (trace.failedCheck && SHOWN_ON_SIGN_IN.has(trace.failedCheck)) return trace.reason ?? "";
  return `The identity provider's answer was refused (check "${trace.failedCheck ?? "unknown"}"); an administrator can read why in its sign-in traces.`;
}

export async function getTrace(traceId: string): Promise<SsoTrace | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(traceId)) return undefined;
  const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, traceId));
  return trace;
}

/**
 * The mapping tester: what signing in with this trace's assertion would do now (user created or
 * matched, access, groups added and removed), computed by reads only: nothing is written.
 */
export async function previewTrace(traceId: string, environmentId?: string) {
  const trace = await getTrace(traceId);
  if (!trace || !trace.identityProviderId) throw new NotFoundError("Trace not found.");
  if (!trace.subject) throw new ValidationError("This attempt failed before the assertion could be read; there is nothing to preview.");
  const idp = await getIdentityProvider(trace.identityProviderId);
  const envId = environmentId ?? trace.environmentId;
  if (!envId) throw new ValidationError("Choose the environment to preview.");
  const [environment] = await getDb().select().from(environments).where(eq(environments.id, envId));
  if (!environment) throw new NotFoundError("Environment not found.");
  const settings = await getAuthRow(environment.id);
  if (!(await signsInWith(settings, idp.id))) {
    return { environment, denied: { check: "request", reason: `${environment.name} does not sign in with ${idp.name}.` } };
  }
  const identity = assertedIdentity(idp, settings, trace.subject, trace.attributes ?? {});
  if ("error" in identity) return { environment, denied: { check: "attributes", reason: identity.error } };
  const plan = await planSignIn(getDb(), { idp, environment, settings, identity });
  if ("denied" in plan) return { environment, identity, denied: { check: plan.check, reason: plan.reason } };
  return { environment, identity, plan: describePlan(plan) };
}

/**
 * Hourly upkeep (lib/sso/maintenance.ts): drops expired pending requests and replay-cache entries,
 * and keeps the last TRACES_KEPT_PER_IDP traces per IdP (older attempts live on in the audit trail).
 */
export async function pruneSsoState(): Promise<void> {
  const db = getDb();
  await db.delete(ssoRequests).where(lt(ssoRequests.expiresAt, sql`now() - interval '1 hour'`));
  await db.delete(samlAssertionIds).where(lt(samlAssertionIds.expiresAt, sql`now()`));
  await db.execute(sql`
    delete from sso_traces t using (
      select id from (select id, row_number() over (partition by identity_provider_id order by created_at desc) as n from sso_traces) ranked
      where n > ${TRACES_KEPT_PER_IDP}) old
    where t.id = old.id`);
}
