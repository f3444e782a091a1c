import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { oauthConsents, resources, sessions, users } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { revokeSessionRow } from "@/lib/end-user/session-rows";
import { createEndUserSession, type EndUserSession } from "@/lib/end-user/sessions";
import { requireEnvironment } from "@/lib/environments";
import { ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { uuidSchema } from "@/lib/validation";
import { adapterFor } from "./adapter";
import { INTERACTION_COOKIE, OAUTH_SCOPE, oauthCookieKey, providerFor } from "./provider";

// Consent: an end user lets an OAuth client (an MCP client) use one MCP server as them. The
// authorization server (provider.ts) sends the browser to the consent page with an interaction;
// the page reads it here, and the user's answer finishes it. A consent is remembered per client
// and MCP server (the next authorization for them goes straight through) until the user (their
// "Connected apps") or an admin (the user's page) revokes it: its grant's tokens and refresh tokens
// then stop at once. The one writer of `oauth_consents`; every consent and revocation is audited.

export { INTERACTION_COOKIE };

export type ConsentRequest = {
  uid: string;
  environment: { id: string; key: string; name: string };
  client: { id: string; name: string; uri: string | null };
  server: { id: string; name: string; url: string };
  redirectUri: string;
  scopes: string[];
  returnTo: string;
};

async function interactionOf(environmentKey: string, uid: string) {
  const found = await providerFor(environmentKey);
  if (!found || !/^[A-Za-z0-9_-]{10,64}$/.test(uid)) throw new NotFoundError("This sign-in for an app has expired or does not exist; start it again from the app.");
  const interaction = await found.provider.Interaction.find(uid);
  if (!interaction) throw new NotFoundError("This sign-in for an app has expired or does not exist; start it again from the app.");
  return { ...found, interaction };
}

/** What the consent page shows: the client, the MCP server, what it may do. */
export async function consentRequest(environmentKey: string, uid: string): Promise<ConsentRequest> {
  const { provider, environment, interaction } = await interactionOf(environmentKey, uid);
  const params = interaction.params as Record<string, string | undefined>;
  const client = await provider.Client.find(String(params.client_id ?? ""));
  if (!client) throw new NotFoundError("The app that started this sign-in is no longer registered.");
  if (Array.isArray(params.resource)) throw new ValidationError("The app asked for several MCP servers at once; it may ask for one at a time.");
  const resource = String(params.resource ?? "");
  const prefix = resource.match(/\/mcp\/([0-9a-f-]{36})$/i)?.[1];
  const [server] = prefix
    ? await getDb().select({ id: resources.id, name: resources.name }).from(resources).where(and(eq(resources.id, prefix), eq(resources.environmentId, environment.id), eq(resources.feature, "mcp")))
    : [];
  if (!server) throw new ValidationError("The app did not name an MCP server of this environment (its resource parameter).");
  return {
    uid,
    environment: { id: environment.id, key: environment.key, name: environment.name },
    client: { id: client.clientId, name: (client.clientName as string | undefined) ?? client.clientId, uri: (client.clientUri as string | undefined) ?? null },
    server: { id: server.id, name: server.name, url: resource },
    redirectUri: String(params.redirect_uri ?? ""),
    scopes: String(params.scope ?? "").split(" ").filter(Boolean),
    returnTo: interaction.returnTo,
  };
}

/** The interaction cookie the browser sent: `_interaction` and its signature (`_interaction.sig`). */
export type InteractionCookie = { value?: string; sig?: string };

/**
 * Whether this browser started the authorization the interaction belongs to: the library set a
 * signed cookie holding the interaction's uid in that browser. Without the check, someone could
 * start an authorization for their own app, send the victim the consent link, and receive a code
 * for the victim's account (the resume step is bound to the starter's browser, not the victim's).
 */
function startedInThisBrowser(environmentId: string, uid: string, cookie: InteractionCookie): boolean {
  if (cookie.value !== uid || !cookie.sig) return false;
  const expected = Buffer.from(createHmac("sha1", oauthCookieKey(environmentId)).update(`${INTERACTION_COOKIE}=${uid}`).digest("base64url"));
  const sent = Buffer.from(cookie.sig);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

export const OTHER_BROWSER = "This sign-in for an app was started in another browser: start it again from the app, in this browser.";

/** The user's standing consent for this client and MCP server, if any. */
export async function rememberedConsent(session: EndUserSession, request: ConsentRequest) {
  const [row] = await getDb()
    .select({ id: oauthConsents.id, grantId: oauthConsents.grantId })
    .from(oauthConsents)
    .innerJoin(sessions, eq(sessions.id, oauthConsents.sessionId))
    .where(
      and(
        eq(oauthConsents.environmentId, request.environment.id),
        eq(oauthConsents.userId, session.user.id),
        eq(oauthConsents.clientId, request.client.id),
        eq(oauthConsents.resourceId, request.server.id),
        isNull(oauthConsents.revokedAt),
        isNull(sessions.revokedAt),
      ),
    )
    .orderBy(desc(oauthConsents.createdAt))
    .limit(1);
  return row;
}

/**
 * The user's answer. Allowed: a grant for the MCP server (its scope, offline access for refresh
 * tokens), a session of its own for the grant's tokens, the consent remembered and audited.
 * Denied: the app is told access_denied. Either way, where the browser goes next (the
 * authorization server, which answers the app).
 */
export async function answerConsent(
  session: EndUserSession,
  environmentKey: string,
  uid: string,
  allow: boolean,
  browser: InteractionCookie,
  request: { ip?: string; userAgent?: string } = {},
): Promise<string> {
  const consent = await consentRequest(environmentKey, uid);
  if (consent.environment.id !== session.environment.id) throw new ValidationError("This sign-in belongs to another environment.");
  if (!startedInThisBrowser(consent.environment.id, uid, browser)) throw new ValidationError(OTHER_BROWSER);
  const { provider, interaction } = await interactionOf(environmentKey, uid);
  const ctx: DomainContext = { actor: { type: "end_user", id: session.user.id, label: session.user.email, environmentIds: [session.environment.id] }, ip: request.ip };
  const login = { accountId: session.user.id, ts: Math.floor(Date.now() / 1000) };
  if (!allow) {
    interaction.result = { login, error: "access_denied", error_description: `${session.user.email} did not allow ${consent.client.name} to use ${consent.server.name}.` };
    await interaction.save(600);
    await recordAudit(getDb(), ctx, {
      action: "oauth.consent",
      targetType: "resource",
      targetId: consent.server.id,
      targetLabel: consent.server.name,
      environment: consent.environment,
      outcome: "denied",
      reason: "the user did not allow it",
      after: { client: consent.client.name, clientId: consent.client.id },
    });
    return interaction.returnTo;
  }
  const remembered = await rememberedConsent(session, consent);
  let grantId = remembered?.grantId;
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  if (!existing) {
    const grant = new provider.Grant({ accountId: session.user.id, clientId: consent.client.id });
    grant.addOIDCScope(`openid offline_access ${OAUTH_SCOPE}`);
    grant.addResourceScope(consent.server.url, OAUTH_SCOPE);
    grantId = await grant.save();
    await inTransaction(async (tx) => {
      if (remembered) await tx.update(oauthConsents).set({ revokedAt: sql`now()` }).where(eq(oauthConsents.id, remembered.id));
      const { session: grantSession } = await createEndUserSession(tx, {
        userId: session.user.id,
        environmentId: session.environment.id,
        method: session.session.method,
        identityProviderId: session.session.identityProviderId,
        secondFactor: session.session.secondFactor,
        authnContext: session.session.authnContext,
        ip: request.ip,
        userAgent: `OAuth: ${consent.client.name}`.slice(0, 200),
      });
      await tx.insert(oauthConsents).values({
        environmentId: session.environment.id,
        userId: session.user.id,
        clientId: consent.client.id,
        clientName: consent.client.name.slice(0, 200),
        resourceId: consent.server.id,
        grantId: grantId!,
        sessionId: grantSession.id,
      });
      await recordAudit(tx, ctx, {
        action: "oauth.consent",
        targetType: "resource",
        targetId: consent.server.id,
        targetLabel: consent.server.name,
        environment: consent.environment,
        after: { client: consent.client.name, clientId: consent.client.id, redirectUri: consent.redirectUri, scope: OAUTH_SCOPE, remembered: false },
      });
    });
  }
  interaction.result = { login, consent: { grantId } };
  await interaction.save(600);
  return interaction.returnTo;
}

export type ConnectedApp = { id: string; clientId: string; clientName: string; server: { id: string; name: string }; createdAt: Date };

/** A user's standing consents in an environment (their "Connected apps", and the user's page in the console). */
export async function connectedApps(environmentId: string, userId: string): Promise<ConnectedApp[]> {
  const rows = await getDb()
    .select({ id: oauthConsents.id, clientId: oauthConsents.clientId, clientName: oauthConsents.clientName, serverId: resources.id, serverName: resources.name, createdAt: oauthConsents.createdAt })
    .from(oauthConsents)
    .innerJoin(resources, eq(resources.id, oauthConsents.resourceId))
    .innerJoin(sessions, eq(sessions.id, oauthConsents.sessionId))
    .where(and(eq(oauthConsents.environmentId, environmentId), eq(oauthConsents.userId, userId), isNull(oauthConsents.revokedAt), isNull(sessions.revokedAt)))
    .orderBy(desc(oauthConsents.createdAt));
  return rows.map((r) => ({ id: r.id, clientId: r.clientId, clientName: r.clientName, server: { id: r.serverId, name: r.serverName }, createdAt: r.createdAt }));
}

/**
 * Revokes a consent: by the user themselves (end-user actor) or by an admin whose scope covers the
 * environment. Its session ends (access tokens are refused at once) and its grant's tokens go
 * (a refresh is refused). Audited.
 */
export async function revokeConsent(ctx: DomainContext, consentId: string): Promise<void> {
  const id = uuidSchema.safeParse(consentId);
  if (!id.success) throw new NotFoundError("No such connected app.");
  const revoked = await inTransaction(async (tx) => {
    const [row] = await tx
      .select({ consent: oauthConsents, email: users.email, serverName: resources.name })
      .from(oauthConsents)
      .innerJoin(users, eq(users.id, oauthConsents.userId))
      .innerJoin(resources, eq(resources.id, oauthConsents.resourceId))
      .where(and(eq(oauthConsents.id, id.data), isNull(oauthConsents.revokedAt)))
      .for("update", { of: oauthConsents });
    if (!row) throw new NotFoundError("No such connected app.");
    const own = ctx.actor.type === "end_user" && ctx.actor.id === row.consent.userId;
    if (!own && ctx.actor.type === "end_user") throw new ForbiddenError("Only the user who connected this app, or an administrator, can disconnect it.");
    if (!own) authorize(ctx.actor, "users", "write", [row.consent.environmentId]);
    await tx.update(oauthConsents).set({ revokedAt: sql`now()` }).where(eq(oauthConsents.id, row.consent.id));
    await revokeSessionRow(tx, row.consent.sessionId);
    const environment = await requireEnvironment(tx, row.consent.environmentId);
    await recordAudit(tx, ctx, {
      action: "oauth.consent_revoke",
      targetType: "user",
      targetId: row.consent.userId,
      targetLabel: row.email,
      environment,
      after: { client: row.consent.clientName, clientId: row.consent.clientId, server: row.serverName, by: own ? "the user" : "an admin" },
    });
    return row.consent;
  });
  // The grant's codes, access and refresh tokens (the library's records) go too.
  await new (adapterFor(revoked.environmentId))("Grant").revokeByGrantId(revoked.grantId);
}
