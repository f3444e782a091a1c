import "server-only";
import { inflateRawSync } from "node:zlib";
import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { environmentAuth, environments, samlAssertionIds, ssoRequests, ssoTraces, type Environment, type IdentityProvider, type SsoTrace, type User } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { createEndUserSession } from "@/lib/end-user/sessions";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { spEndpoints } from "./endpoints";
import { getEnvironmentAuth, type EnvironmentAuthSettings } from "./environment-auth";
import { findIdentityProviderByEntityId, getIdentityProvider } from "./identity-providers";
import { JACKSON_PRODUCT, jackson } from "./jackson";
import { applySignInPlan, assertedIdentity, planSignIn, type AssertedIdentity, type SignInPlan } from "./provision";
import { checkSamlResponse, decodeSamlResponse, parseXml, peekIssuer, SamlCheckError, type VerifiedAssertion } from "./saml-response";

export const SSO_REQUEST_MINUTES = 10;
const TRACES_KEPT_PER_IDP = 200;

/** Only our own paths may be returned to: "/e/<env>…", nothing off-site, no scheme, no "//". */
export function safeReturnPath(value: string | null | undefined, environmentKey: string): string | null {
  if (!value) return null;
  if (!/^\/e\/[a-z][a-z0-9-]{0,31}(\/[A-Za-z0-9\-._~/%]*)?(\?[A-Za-z0-9\-._~=&%]*)?$/.test(value) || value.includes("//") || value.includes("\\")) return null;
  return value.startsWith(`/e/${environmentKey}`) ? value : null;
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

export type SsoStart = { redirectUrl: string } | { postForm: string };

/**
 * SP-initiated sign-in: Jackson builds the AuthnRequest; we remember its ID, the environment and
 * where to return, keyed by the RelayState the IdP will post back (so any instance can finish it).
 */
export async function startSso(environmentKey: string, options: { loginHint?: string; returnTo?: string } = {}): Promise<SsoStart> {
  const db = getDb();
  const [environment] = await db.select().from(environments).where(eq(environments.key, environmentKey));
  if (!environment) throw new NotFoundError("No such environment.");
  const settings = await getEnvironmentAuth(environment.id);
  if (!settings.ssoEnabled || !settings.identityProviderId) throw new ValidationError("SSO is not turned on for this environment.");
  const idp = await getIdentityProvider(settings.identityProviderId);
  const { oauth } = await jackson();
  const { callbackUrl } = spEndpoints();
  const res = await oauth.authorize({
    client_id: "dummy",
    tenant: idp.id,
    product: JACKSON_PRODUCT,
    redirect_uri: callbackUrl,
    response_type: "code",
    state: environment.key,
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
  await db.insert(ssoRequests).values({
    relayState,
    requestId,
    identityProviderId: idp.id,
    environmentId: environment.id,
    returnTo: safeReturnPath(options.returnTo, environment.key) ?? `/e/${environment.key}`,
    loginHint: options.loginHint?.slice(0, 320) ?? null,
    expiresAt: sql`now() + make_interval(mins => ${SSO_REQUEST_MINUTES})`,
  });
  return redirectUrl ? { redirectUrl } : { postForm: form! };
}

export type AcsResult =
  | { ok: true; token: string; environment: Environment; user: User; redirectTo: string; traceId: string }
  | { ok: false; check: string; reason: string; environmentKey: string | null; traceId: string | null };

type TraceInput = {
  idp: IdentityProvider | null;
  environment: Environment | null;
  flow: "sp" | "idp";
  outcome: "success" | "failure";
  check?: string;
  reason?: string;
  issuer?: string | null;
  assertion?: Partial<VerifiedAssertion>;
  groups?: string[];
  result?: Record<string, unknown>;
  userId?: string | null;
  ip?: string;
};

async function saveTrace(executor: Executor, t: TraceInput): Promise<string> {
  const [row] = await executor
    .insert(ssoTraces)
    .values({
      identityProviderId: t.idp?.id ?? null,
      environmentId: t.environment?.id ?? null,
      flow: t.flow,
      outcome: t.outcome,
      failedCheck: t.check ?? null,
      reason: t.reason ?? null,
      issuer: t.issuer ?? t.assertion?.issuer ?? null,
      subject: t.assertion?.subject ?? null,
      attributes: t.assertion?.attributes ?? null,
      groups: t.groups ?? null,
      result: t.result ?? null,
      userId: t.userId ?? null,
      ip: t.ip ?? null,
    })
    .returning({ id: ssoTraces.id });
  // Keep the last N per IdP; older attempts live on in the audit trail.
  if (t.idp && Math.random() < 0.05) {
    await executor.execute(sql`delete from sso_traces where identity_provider_id = ${t.idp.id} and id not in (
      select id from sso_traces where identity_provider_id = ${t.idp.id} order by created_at desc limit ${TRACES_KEPT_PER_IDP})`);
  }
  return row!.id;
}

const idpActor = (idp: IdentityProvider, environmentId: string): Actor => ({ type: "identity_provider", id: idp.id, label: idp.name, environmentIds: [environmentId] });

export function describePlan(plan: SignInPlan) {
  return {
    user: plan.user.action === "create" ? `create ${plan.user.email}` : `${plan.user.action} ${plan.user.email}${plan.user.rename ? ` (rename to ${plan.user.rename})` : ""}`,
    access: plan.access,
    defaultGroups: plan.defaultGroups.map((g) => g.name),
    groupSync: plan.groupSync,
    groupsAdded: [...plan.groupsAdded.map((g) => g.name), ...plan.groupsCreated.map((n) => `${n} (new group)`)],
    groupsRemoved: plan.groupsRemoved.map((g) => g.name),
    groupsKept: plan.groupsKept.map((g) => g.name),
    unknownGroups: plan.unknownGroups,
  };
}

/**
 * The ACS: every check of ours, Jackson's own validation, then (and only then) the user:
 * matched or created, access, group sync, a session. Every attempt leaves a trace and an audit row.
 */
export async function handleAcs(input: { SAMLResponse: unknown; RelayState: unknown; ip?: string; userAgent?: string }): Promise<AcsResult> {
  const db = getDb();
  const relayState = typeof input.RelayState === "string" ? input.RelayState.slice(0, 2000) : "";
  const spInitiated = relayState.startsWith("boxyhq_jackson_");
  const flow = spInitiated ? "sp" : "idp";
  let idp: IdentityProvider | null = null;
  let environment: Environment | null = null;
  let issuer: string | null = null;
  let assertion: VerifiedAssertion | undefined;
  let groupsAsserted: string[] | undefined;

  const fail = async (check: string, reason: string, extra: { partial?: Partial<VerifiedAssertion>; userId?: string; result?: Record<string, unknown> } = {}): Promise<AcsResult> => {
    const traceId = await db.transaction(async (tx) => {
      const id = await saveTrace(tx, { idp, environment, flow, outcome: "failure", check, reason, issuer, assertion: assertion ?? extra.partial, groups: groupsAsserted, userId: extra.userId, result: extra.result, ip: input.ip });
      const ctx: DomainContext = { actor: idp && environment ? idpActor(idp, environment.id) : { type: "system", id: null, label: issuer ?? "unknown issuer" }, ip: input.ip };
      await recordAudit(tx, ctx, {
        action: "end_user.sign_in",
        targetType: "user",
        targetId: extra.userId ?? null,
        targetLabel: (assertion ?? extra.partial)?.subject ?? null,
        environment,
        outcome: "failure",
        reason: `${check}: ${reason}`,
        after: { method: "sso", flow, traceId: id },
      });
      return id;
    });
    return { ok: false, check, reason, environmentKey: environment?.key ?? null, traceId };
  };

  try {
    if (typeof input.SAMLResponse !== "string" || !input.SAMLResponse) throw new SamlCheckError("malformed", "The POST carries no SAMLResponse.");
    const xml = decodeSamlResponse(input.SAMLResponse);
    issuer = peekIssuer(xml);

    // Which request this answers, or (IdP-initiated) which environment RelayState names.
    let request: typeof ssoRequests.$inferSelect | undefined;
    if (spInitiated) {
      [request] = await db
        .update(ssoRequests)
        .set({ consumedAt: sql`now()` })
        .where(and(eq(ssoRequests.relayState, relayState), isNull(ssoRequests.consumedAt), sql`${ssoRequests.expiresAt} > now()`))
        .returning();
      if (!request) throw new SamlCheckError("request", "The sign-in request this answers has expired or was already used; start the sign-in again.");
      environment = (await db.select().from(environments).where(eq(environments.id, request.environmentId)))[0] ?? null;
      idp = await getIdentityProvider(request.identityProviderId);
      if (issuer !== idp.entityId) throw new SamlCheckError("issuer", `The response comes from "${issuer}", not from ${idp.name} (${idp.entityId}), which the request was sent to.`);
    } else {
      idp = issuer ? ((await findIdentityProviderByEntityId(issuer)) ?? null) : null;
      if (!idp) throw new SamlCheckError("issuer", issuer ? `No identity provider is connected with the entity ID "${issuer}".` : "The response names no issuer.");
      environment = await environmentForIdpInitiated(idp, relayState);
    }
    const settings = await getEnvironmentAuth(environment!.id);
    if (!settings.ssoEnabled || settings.identityProviderId !== idp.id) {
      throw new SamlCheckError("request", `${environment!.name} does not sign in with ${idp.name}.`);
    }

    const { acsUrl, entityId } = spEndpoints();
    assertion = checkSamlResponse(xml, {
      spEntityId: entityId,
      acsUrl,
      certificates: idp.certificates.map((c) => c.pem),
      expectedIssuer: idp.entityId!,
      allowSha1: idp.allowSha1,
      expectedInResponseTo: request?.requestId ?? null,
      allowUnsolicited: idp.allowIdpInitiated,
      now: new Date(),
    });

    // Replay cache in Postgres: the first instance to insert the ID wins, until it expires.
    const inserted = await db
      .insert(samlAssertionIds)
      .values({ identityProviderId: idp.id, assertionId: assertion.assertionId, expiresAt: assertion.notOnOrAfter })
      .onConflictDoNothing()
      .returning({ id: samlAssertionIds.assertionId });
    if (inserted.length === 0) throw new SamlCheckError("replay", `This assertion (ID ${assertion.assertionId}) was already used; a replayed response is refused.`);

    // Jackson's own validation (signature, its session and InResponseTo).
    const { oauth } = await jackson();
    const jr = (await oauth.samlResponse({ SAMLResponse: input.SAMLResponse, RelayState: relayState })) as { redirect_url?: string; error?: string };
    const code = jr.redirect_url ? new URL(jr.redirect_url).searchParams.get("code") : null;
    if (jr.error || !code) {
      const description = jr.redirect_url ? new URL(jr.redirect_url).searchParams.get("error_description") : null;
      throw new SamlCheckError("jackson", `The SAML library refused the response: ${(jr.error ?? description ?? "no code").replace(/^access_denied - /, "")}`);
    }

    const identity = assertedIdentity(idp, settings, assertion.subject, assertion.attributes);
    if ("error" in identity) return await fail("attributes", identity.error);
    groupsAsserted = identity.groups;
    return await signIn({ idp, environment: environment!, settings, identity, assertion, request, flow, ip: input.ip, userAgent: input.userAgent, onDenied: fail });
  } catch (e) {
    if (e instanceof SamlCheckError) return fail(e.check, e.message, { partial: e.partial });
    if (e instanceof NotFoundError || e instanceof ValidationError) return fail("request", e.message);
    throw e;
  }
}

async function environmentForIdpInitiated(idp: IdentityProvider, relayState: string): Promise<Environment> {
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
    .where(and(eq(environmentAuth.identityProviderId, idp.id), eq(environmentAuth.ssoEnabled, true)));
  if (served.length !== 1) {
    throw new SamlCheckError("relay_state", served.length ? `${idp.name} serves several environments; set the IdP's RelayState to /e/<environment>.` : `No environment signs in with ${idp.name}.`);
  }
  return served[0]!.environment;
}

async function signIn(input: {
  idp: IdentityProvider;
  environment: Environment;
  settings: EnvironmentAuthSettings;
  identity: AssertedIdentity;
  assertion: VerifiedAssertion;
  request: typeof ssoRequests.$inferSelect | undefined;
  flow: "sp" | "idp";
  ip?: string;
  userAgent?: string;
  onDenied: (check: string, reason: string, extra: { userId?: string; result?: Record<string, unknown> }) => Promise<AcsResult>;
}): Promise<AcsResult> {
  const { idp, environment, settings, identity, assertion, flow } = input;
  const ctx: DomainContext = { actor: idpActor(idp, environment.id), ip: input.ip };
  const outcome = await getDb().transaction(async (tx) => {
    const plan = await planSignIn(tx, { idp, environment, settings, identity });
    if ("denied" in plan) return { denied: plan } as const;
    const user = await applySignInPlan(tx, ctx, { plan, idp, environment });
    const { token } = await createEndUserSession(tx, { userId: user.id, environmentId: environment.id, method: "sso", identityProviderId: idp.id, ip: input.ip, userAgent: input.userAgent });
    const result = describePlan(plan);
    const traceId = await saveTrace(tx, { idp, environment, flow, outcome: "success", assertion, groups: identity.groups, result, userId: user.id, ip: input.ip });
    await recordAudit(tx, { ...ctx, actor: { type: "end_user", id: user.id, label: user.email, environmentIds: [environment.id] } }, {
      action: "end_user.sign_in",
      targetType: "user",
      targetId: user.id,
      targetLabel: user.email,
      environment,
      after: { method: "sso", flow, identityProvider: idp.name, traceId },
    });
    return { denied: null, user, token, traceId };
  });
  if (outcome.denied) return input.onDenied(outcome.denied.check, outcome.denied.reason, { userId: outcome.denied.userId });
  return { ok: true, token: outcome.token, user: outcome.user, environment, traceId: outcome.traceId, redirectTo: input.request?.returnTo ?? `/e/${environment.key}` };
}

export async function listTraces(identityProviderId: string, limit = 50): Promise<SsoTrace[]> {
  return getDb().select().from(ssoTraces).where(eq(ssoTraces.identityProviderId, identityProviderId)).orderBy(desc(ssoTraces.createdAt)).limit(limit);
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
  const settings = await getEnvironmentAuth(environment.id);
  if (!settings.ssoEnabled || settings.identityProviderId !== idp.id) {
    return { environment, denied: { check: "request", reason: `${environment.name} does not sign in with ${idp.name}.` } };
  }
  const identity = assertedIdentity(idp, settings, trace.subject, trace.attributes ?? {});
  if ("error" in identity) return { environment, denied: { check: "attributes", reason: identity.error } };
  const plan = await planSignIn(getDb(), { idp, environment, settings, identity });
  if ("denied" in plan) return { environment, identity, denied: { check: plan.check, reason: plan.reason } };
  return { environment, identity, plan: describePlan(plan) };
}

/** Drops expired pending requests and replay-cache entries (run by the job worker). */
export async function pruneSsoState(): Promise<void> {
  const db = getDb();
  await db.delete(ssoRequests).where(lt(ssoRequests.expiresAt, sql`now() - interval '1 hour'`));
  await db.delete(samlAssertionIds).where(lt(samlAssertionIds.expiresAt, sql`now()`));
}
