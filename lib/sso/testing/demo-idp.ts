import "server-only";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { inflateRawSync } from "node:zlib";
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { environmentAccess, environmentAuth, environments, groupMembers, groups, identityProviders, ssoRequests, users } from "@/db/schema";
import { env as settings, publicOrigin } from "@/env";
import type { DomainContext } from "@/lib/auth/actor";
import { spEndpoints } from "@/lib/sso/endpoints";
import { createIdentityProvider, refreshMetadata } from "@/lib/sso/identity-providers";
import { buildResponse, generateKeyPair, idpMetadata, type KeyPair } from "./test-idp";

// The demo's own SAML IdP, so that a newcomer sees single sign-on work in the first minute with no
// other service: `npm start`'s demo seed generates its key into the data folder and connects it to
// TEST. It signs a real SAML response (the same checks as any IdP's: signature, audience,
// InResponseTo, lifetimes) for whichever demo user the visitor picks: anyone can be anyone, so it
// answers only when the demo seed created it (its key in the data folder and its IdP connected),
// says so on every page, and only ever posts to this app's own ACS.

export const DEMO_IDP_ENTITY_ID = "urn:iam-console:demo-idp";
export const DEMO_IDP_NAME = "Demo IdP (built in, not for production)";
export const DEMO_IDP_SSO_PATH = "/demo-idp/sso";
export const DEMO_IDP_METADATA_PATH = "/demo-idp/metadata";

const keyDir = () => path.resolve(settings().DATA_DIR, "demo-idp");

function readKey(): KeyPair | null {
  const dir = keyDir();
  if (!existsSync(path.join(dir, "key.pem")) || !existsSync(path.join(dir, "cert.pem"))) return null;
  const keyPem = readFileSync(path.join(dir, "key.pem"), "utf8");
  const certPem = readFileSync(path.join(dir, "cert.pem"), "utf8");
  return { keyPem, certPem, certBase64: certPem.replace(/-----[^-]+-----|\s+/g, "") };
}

/** The demo IdP's metadata, as served at /demo-idp/metadata. */
export function demoIdpMetadata(key: KeyPair): string {
  return idpMetadata(DEMO_IDP_ENTITY_ID, `${publicOrigin()}${DEMO_IDP_SSO_PATH}`, [key.certBase64]);
}

/** The demo IdP's key when it is on: the demo seed made its key and its IdP is connected. Otherwise null (its pages answer 404). */
export async function demoIdp(): Promise<{ key: KeyPair; identityProviderId: string } | null> {
  const key = readKey();
  if (!key) return null;
  const [idp] = await getDb().select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.entityId, DEMO_IDP_ENTITY_ID));
  return idp ? { key, identityProviderId: idp.id } : null;
}

/** The demo IdP's id when it is connected (whatever its key). */
export async function demoIdpIdentityProviderId(): Promise<string | null> {
  const [idp] = await getDb().select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.entityId, DEMO_IDP_ENTITY_ID));
  return idp?.id ?? null;
}

/**
 * For the demo seed (`npm start` only): the key in the data folder (made once), the IdP connected
 * (once; its SSO URL kept in step with the public URL), and its id.
 */
export async function ensureDemoIdp(ctx: DomainContext): Promise<string> {
  const dir = keyDir();
  if (!readKey()) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = generateKeyPair("IAM console demo IdP");
    writeFileSync(path.join(dir, "key.pem"), made.keyPem, { mode: 0o600 });
    writeFileSync(path.join(dir, "cert.pem"), made.certPem);
  }
  const key = readKey()!;
  const [existing] = await getDb().select({ id: identityProviders.id, ssoUrl: identityProviders.ssoUrl }).from(identityProviders).where(eq(identityProviders.entityId, DEMO_IDP_ENTITY_ID));
  if (!existing) return (await createIdentityProvider(ctx, { name: DEMO_IDP_NAME, metadataXml: demoIdpMetadata(key) })).id;
  if (existing.ssoUrl !== `${publicOrigin()}${DEMO_IDP_SSO_PATH}`) await refreshMetadata(ctx, existing.id, { metadataXml: demoIdpMetadata(key) });
  return existing.id;
}

export type DemoRequest = { id: string; acsUrl: string; relayState: string | null };

/** Reads an AuthnRequest sent by the redirect binding (deflated, base64); only one addressed to this app's ACS is answered. */
export function readAuthnRequest(samlRequest: string | null, relayState: string | null): DemoRequest | { problem: string } {
  if (!samlRequest) return { problem: "No sign-in request: start from an environment's sign-in page." };
  let xml: string;
  try {
    xml = inflateRawSync(Buffer.from(samlRequest, "base64")).toString("utf8");
  } catch {
    try {
      xml = Buffer.from(samlRequest, "base64").toString("utf8");
    } catch {
      return { problem: "The sign-in request is not readable." };
    }
  }
  const root = /<(?:\w+:)?AuthnRequest\b[^>]*>/.exec(xml)?.[0];
  if (!root) return { problem: "This is not a SAML AuthnRequest." };
  const id = /\sID="([^"]+)"/.exec(root)?.[1];
  const acsUrl = /\sAssertionConsumerServiceURL="([^"]+)"/.exec(root)?.[1] ?? spEndpoints().acsUrl;
  if (!id) return { problem: "The sign-in request has no ID." };
  if (acsUrl !== spEndpoints().acsUrl) return { problem: "The demo IdP answers this app's sign-in requests only." };
  return { id, acsUrl, relayState };
}

/** Whether the pending sign-in this RelayState names is the console's (console SSO), not an environment's. */
export async function isConsoleRequest(relayState: string | null): Promise<boolean> {
  if (!relayState) return false;
  const [row] = await getDb().select({ purpose: ssoRequests.purpose }).from(ssoRequests).where(eq(ssoRequests.relayState, relayState));
  return row?.purpose === "console";
}

export type DemoPerson = { email: string; name: string; groups: string[] };

/** Who the demo IdP offers: active users of the environments that sign in with it, each with their groups there. */
export async function demoPeople(
  identityProviderId: string,
  { limit = 60, email }: { limit?: number; email?: string } = {},
): Promise<{ environments: string[]; people: DemoPerson[]; groups: string[] }> {
  const db = getDb();
  const envs = await db
    .select({ id: environments.id, name: environments.name })
    .from(environmentAuth)
    .innerJoin(environments, eq(environments.id, environmentAuth.environmentId))
    .where(and(eq(environmentAuth.identityProviderId, identityProviderId), eq(environmentAuth.ssoEnabled, true)));
  const envIds = envs.map((e) => e.id);
  if (!envIds.length) return { environments: [], people: [], groups: [] };
  const people = await db
    .selectDistinct({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .innerJoin(environmentAccess, eq(environmentAccess.userId, users.id))
    .where(and(inArray(environmentAccess.environmentId, envIds), eq(users.status, "active"), email ? sql`lower(${users.email}) = lower(${email})` : undefined))
    .orderBy(asc(users.email))
    .limit(limit);
  const memberships = people.length
    ? await db
        .select({ userId: groupMembers.userId, name: groups.name })
        .from(groupMembers)
        .innerJoin(groups, eq(groups.id, groupMembers.groupId))
        .where(and(inArray(groupMembers.userId, people.map((p) => p.id)), inArray(groups.environmentId, envIds), ne(groups.source, "system")))
    : [];
  const groupNames = await db.selectDistinct({ name: groups.name }).from(groups).where(and(inArray(groups.environmentId, envIds), ne(groups.source, "system"))).orderBy(asc(groups.name));
  const groupsOf = new Map<string, Set<string>>();
  for (const m of memberships) groupsOf.set(m.userId, (groupsOf.get(m.userId) ?? new Set()).add(m.name));
  return {
    environments: envs.map((e) => e.name),
    people: people.map((p) => ({ email: p.email, name: p.name, groups: [...(groupsOf.get(p.id) ?? [])].sort() })),
    groups: groupNames.map((g) => g.name),
  };
}

/** The signed SAML response for `person`, answering `request`: what the browser posts to the ACS. */
export function demoResponse(key: KeyPair, request: DemoRequest, person: DemoPerson): string {
  return buildResponse({
    key,
    issuer: DEMO_IDP_ENTITY_ID,
    destination: request.acsUrl,
    audience: spEndpoints().entityId,
    inResponseTo: request.id,
    subject: person.email,
    attributes: { email: [person.email], name: [person.name], groups: person.groups },
  }).base64;
}
