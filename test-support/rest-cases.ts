import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import type { HttpMethod } from "@/lib/doors/rest/v1";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import type { restClient } from "./rest-api";

// One request for every endpoint of the REST table, pointed at real PROD rows (a PROD user, group,
// resource, grant, directory, review with its item, access request and exclusion, an IdP mapped into
// PROD, a console member and a webhook), with a body the endpoint accepts, and what a token limited
// to DEV must get there. The environment-scope sweep sends them with DEV tokens; the bad-input sweep
// breaks them one way at a time (placeholder ids would 404 before anything else is checked).

export const OUTSIDE_WRITE = "This change touches an environment outside your scope.";
export const OUTSIDE_READ = "This reads an environment outside your scope.";
export const NAME_ONE = "This API token is scoped to environments: pass ?environment=<key> of one of them.";
export const ACCOUNT_WIDE = "This API token is scoped to environments and cannot make account-wide changes.";
export const NO_MEMBERS = "This API token is scoped to environments; console members are account-wide.";
/** The token may do this (account-wide reads, as an environment admin may): it answers 200. */
export const ALLOWED = 200;

export type EndpointCase = { path: string; body?: unknown; devToken: string | typeof ALLOWED };
export type ProdRows = Record<"user" | "devUser" | "group" | "resource" | "grant" | "directory" | "review" | "reviewItem" | "request" | "exclusion" | "idp" | "webhook" | "member", string>;

/** The PROD rows, made through the API by a token that may (every answer checked); the DEV export, a document to plan and apply. */
export async function createProdRows(api: ReturnType<typeof restClient>["api"], env: { dev: Environment; prod: Environment }): Promise<{ rows: ProdRows; document: unknown }> {
  const r = {} as ProdRows;
  const made = async (method: HttpMethod, path: string, body: unknown) => {
    const answer = await api(method, path, { body });
    expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.json)}`).toBe(201);
    return answer.json;
  };
  r.user = (await made("POST", "/users", { name: "Prod Person", email: "prod.person@example.com", environmentIds: [env.prod.id] })).id;
  r.devUser = (await made("POST", "/users", { name: "Dev Person", email: "dev.person@example.com", environmentIds: [env.dev.id] })).id;
  r.group = (await made("POST", "/groups", { environment: "prod", name: "Prod Ops" })).id;
  expect((await api("POST", `/groups/${r.group}/members`, { body: { userIds: [r.user] } })).status).toBe(200);
  r.resource = (await made("POST", "/resources", { environment: "prod", feature: "mcp", name: "Prod MCP" })).id;
  expect((await made("POST", "/grants", { environment: "prod", feature: "mcp", resourceId: r.resource, groupIds: [r.group] })).added).toBe(1);
  r.grant = (await api("GET", "/grants?environment=prod")).json.data[0].id;
  r.directory = (await made("POST", "/directories", { environment: "prod", name: "Prod Okta" })).id;
  const key = await generateKeyPair();
  r.idp = (await made("POST", "/identity-providers", { name: "Prod IdP", metadataXml: idpMetadata("https://idp.prod.example", "https://idp.prod.example/sso", [key.certBase64]) })).id;
  expect((await api("PUT", `/identity-providers/${r.idp}/mappings`, { body: { environment: "prod", mappings: [{ idpValue: "ops", groupId: r.group }] } })).status).toBe(200);
  const ownerId = (await api("GET", "/console-members")).json.data.find((m: { role: string }) => m.role === "owner").id;
  r.review = (await made("POST", "/access-reviews", { environment: "prod", name: "PROD entry", scope: "environment_access", reviewerIds: [ownerId], dueAt: new Date(Date.now() + 5 * 86_400_000).toISOString() })).id;
  r.reviewItem = (await api("GET", `/access-reviews/${r.review}`)).json.items[0].id;
  const devDocument = (await api("GET", "/environments/dev/config")).json;
  r.member = (await made("POST", "/console-members", { email: "prod.admin@example.com", role: "environment_admin", environmentIds: [env.prod.id] })).id;
  r.webhook = (await made("POST", "/webhooks", { name: "SIEM", url: "http://127.0.0.1:9/siem", actions: ["user."] })).id;
  const { requestAccess } = await import("@/lib/access-requests");
  const asUser = { actor: { type: "end_user" as const, id: r.user, label: "prod.person@example.com", environmentIds: [env.prod.id] } };
  r.request = (await requestAccess(asUser, { environmentId: env.prod.id, userId: r.user, resourceId: (await made("POST", "/resources", { environment: "prod", feature: "mcp", name: "Prod billing MCP" })).id, reason: "on call" })).request.id;
  const [exclusion] = await getDb().execute<{ id: string }>(sql`insert into membership_exclusions (kind, environment_id, user_id, group_id, source, reason, created_by)
    values ('member', ${env.prod.id}, ${r.user}, ${r.group}, 'scim', 'Left', 'test') returning id`);
  r.exclusion = exclusion!.id;
  return { rows: r, document: devDocument };
}

/** Every endpoint (`METHOD /path` as in the table) with its request against `r`, and what a DEV-limited token gets. */
export function endpointCases(r: ProdRows, env: { prod: Environment }, document: unknown): Record<string, EndpointCase> {
  const settings = { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: 480, idleTimeoutMinutes: 60 };
  return {
    "GET /environments": { path: "/environments", devToken: ALLOWED },
    "POST /environments": { path: "/environments", body: { key: "staging", name: "Staging" }, devToken: ACCOUNT_WIDE },
    "GET /environments/{key}": { path: "/environments/prod", devToken: ALLOWED },
    "PATCH /environments/{key}": { path: "/environments/prod", body: { name: "Production" }, devToken: ACCOUNT_WIDE },
    "GET /environments/{key}/sign-in": { path: "/environments/prod/sign-in", devToken: OUTSIDE_READ },
    "PUT /environments/{key}/sign-in": { path: "/environments/prod/sign-in", body: settings, devToken: OUTSIDE_WRITE },
    "GET /environments/{key}/config": { path: "/environments/prod/config", devToken: OUTSIDE_READ },
    "POST /environments/{key}/plan": { path: "/environments/prod/plan", body: document, devToken: OUTSIDE_READ },
    "POST /environments/{key}/apply": { path: "/environments/prod/apply", body: { document }, devToken: OUTSIDE_WRITE },

    "GET /users": { path: "/users?environment=prod", devToken: OUTSIDE_READ },
    "POST /users": { path: "/users", body: { name: "New", email: "new.prod@example.com", environmentIds: [env.prod.id] }, devToken: OUTSIDE_WRITE },
    "GET /users/{id}": { path: `/users/${r.user}`, devToken: OUTSIDE_READ },
    "PATCH /users/{id}": { path: `/users/${r.user}`, body: { name: "Renamed" }, devToken: OUTSIDE_WRITE },
    "DELETE /users/{id}": { path: `/users/${r.user}`, devToken: OUTSIDE_WRITE },
    "POST /users/{id}/suspend": { path: `/users/${r.user}/suspend`, devToken: OUTSIDE_WRITE },
    "POST /users/{id}/reactivate": { path: `/users/${r.user}/reactivate`, devToken: OUTSIDE_WRITE },
    // A DEV user let into PROD, and a PROD user's PROD access removed: both touch PROD.
    "PUT /users/{id}/environments/{environment}": { path: `/users/${r.devUser}/environments/prod`, devToken: OUTSIDE_WRITE },
    "DELETE /users/{id}/environments/{environment}": { path: `/users/${r.user}/environments/prod`, devToken: OUTSIDE_WRITE },

    "GET /groups": { path: "/groups?environment=prod", devToken: OUTSIDE_READ },
    "POST /groups": { path: "/groups", body: { environment: "prod", name: "New" }, devToken: OUTSIDE_WRITE },
    "GET /groups/{id}": { path: `/groups/${r.group}`, devToken: OUTSIDE_READ },
    "PATCH /groups/{id}": { path: `/groups/${r.group}`, body: { name: "Renamed" }, devToken: OUTSIDE_WRITE },
    "DELETE /groups/{id}": { path: `/groups/${r.group}`, devToken: OUTSIDE_WRITE },
    "GET /groups/{id}/members": { path: `/groups/${r.group}/members`, devToken: OUTSIDE_READ },
    "POST /groups/{id}/members": { path: `/groups/${r.group}/members`, body: { userIds: [r.user] }, devToken: OUTSIDE_WRITE },
    "POST /groups/{id}/members/remove": { path: `/groups/${r.group}/members/remove`, body: { userIds: [r.user] }, devToken: OUTSIDE_WRITE },

    "GET /console-members": { path: "/console-members", devToken: NO_MEMBERS },
    "POST /console-members": { path: "/console-members", body: { email: "another@example.com", role: "reviewer" }, devToken: ACCOUNT_WIDE },
    "GET /console-members/{id}": { path: `/console-members/${r.member}`, devToken: NO_MEMBERS },
    "PATCH /console-members/{id}": { path: `/console-members/${r.member}`, body: { role: "reviewer" }, devToken: ACCOUNT_WIDE },
    "POST /console-members/{id}/suspend": { path: `/console-members/${r.member}/suspend`, devToken: ACCOUNT_WIDE },
    "POST /console-members/{id}/reactivate": { path: `/console-members/${r.member}/reactivate`, devToken: ACCOUNT_WIDE },
    "POST /console-members/{id}/invitation": { path: `/console-members/${r.member}/invitation`, devToken: ACCOUNT_WIDE },
    "DELETE /console-members/{id}": { path: `/console-members/${r.member}`, devToken: ACCOUNT_WIDE },

    "GET /access-reviews": { path: "/access-reviews?environment=prod", devToken: OUTSIDE_READ },
    "POST /access-reviews": { path: "/access-reviews", body: { environment: "prod", name: "Another", scope: "environment_access", reviewerIds: [r.member], dueAt: new Date(Date.now() + 86_400_000).toISOString() }, devToken: OUTSIDE_WRITE },
    "GET /access-reviews/{id}": { path: `/access-reviews/${r.review}`, devToken: OUTSIDE_READ },
    "POST /access-reviews/{id}/decisions": { path: `/access-reviews/${r.review}/decisions`, body: { itemIds: [r.reviewItem], decision: "keep" }, devToken: OUTSIDE_WRITE },
    "POST /access-reviews/{id}/close": { path: `/access-reviews/${r.review}/close`, devToken: OUTSIDE_WRITE },
    "GET /access-requests": { path: "/access-requests?environment=prod", devToken: OUTSIDE_READ },
    "POST /access-requests/{id}/decision": { path: `/access-requests/${r.request}/decision`, body: { decision: "approve" }, devToken: OUTSIDE_WRITE },
    "POST /membership-exclusions/{id}/lift": { path: `/membership-exclusions/${r.exclusion}/lift`, devToken: OUTSIDE_WRITE },
    "POST /authz/check": { path: "/authz/check", body: { subject: r.user, environment: "prod", feature: "mcp", resource: r.resource }, devToken: OUTSIDE_READ },

    "GET /resources": { path: "/resources?environment=prod", devToken: OUTSIDE_READ },
    "POST /resources": { path: "/resources", body: { environment: "prod", feature: "mcp", name: "New" }, devToken: OUTSIDE_WRITE },
    "GET /resources/{id}": { path: `/resources/${r.resource}`, devToken: OUTSIDE_READ },
    "PATCH /resources/{id}": { path: `/resources/${r.resource}`, body: { name: "Renamed" }, devToken: OUTSIDE_WRITE },
    "DELETE /resources/{id}": { path: `/resources/${r.resource}`, devToken: OUTSIDE_WRITE },
    "GET /grants": { path: "/grants?environment=prod", devToken: OUTSIDE_READ },
    "POST /grants": { path: "/grants", body: { environment: "prod", feature: "mcp", resourceId: r.resource, userIds: [r.user] }, devToken: OUTSIDE_WRITE },
    "DELETE /grants/{id}": { path: `/grants/${r.grant}`, devToken: OUTSIDE_WRITE },
    "POST /grants/explain": { path: "/grants/explain", body: { environment: "prod", userId: r.user, feature: "mcp", resourceId: r.resource }, devToken: OUTSIDE_READ },

    "GET /directories": { path: "/directories?environment=prod", devToken: OUTSIDE_READ },
    "POST /directories": { path: "/directories", body: { environment: "prod", name: "Another" }, devToken: OUTSIDE_WRITE },
    "GET /directories/{id}": { path: `/directories/${r.directory}`, devToken: OUTSIDE_READ },
    "POST /directories/{id}/rotate-token": { path: `/directories/${r.directory}/rotate-token`, devToken: OUTSIDE_WRITE },
    "POST /directories/{id}/disable": { path: `/directories/${r.directory}/disable`, devToken: OUTSIDE_WRITE },
    "POST /directories/{id}/enable": { path: `/directories/${r.directory}/enable`, devToken: OUTSIDE_WRITE },
    "GET /directories/{id}/requests": { path: `/directories/${r.directory}/requests`, devToken: OUTSIDE_READ },

    "GET /audit-events": { path: "/audit-events?environment=prod", devToken: OUTSIDE_READ },
    "GET /webhooks": { path: "/webhooks", devToken: ALLOWED },
    "POST /webhooks": { path: "/webhooks", body: { name: "Another", url: "http://127.0.0.1:9/other", actions: [] }, devToken: ACCOUNT_WIDE },
    "POST /webhooks/{id}/disable": { path: `/webhooks/${r.webhook}/disable`, devToken: ACCOUNT_WIDE },
    "POST /webhooks/{id}/enable": { path: `/webhooks/${r.webhook}/enable`, devToken: ACCOUNT_WIDE },
    "DELETE /webhooks/{id}": { path: `/webhooks/${r.webhook}`, devToken: ACCOUNT_WIDE },

    "GET /identity-providers": { path: "/identity-providers", devToken: ALLOWED },
    "POST /identity-providers": { path: "/identity-providers", body: { name: "Another", metadataUrl: "https://idp.other.example/metadata" }, devToken: ACCOUNT_WIDE },
    "GET /identity-providers/{id}": { path: `/identity-providers/${r.idp}`, devToken: ALLOWED },
    "PATCH /identity-providers/{id}": { path: `/identity-providers/${r.idp}`, body: { name: "Renamed" }, devToken: ACCOUNT_WIDE },
    "DELETE /identity-providers/{id}": { path: `/identity-providers/${r.idp}`, devToken: ACCOUNT_WIDE },
    "POST /identity-providers/{id}/refresh": { path: `/identity-providers/${r.idp}/refresh`, body: {}, devToken: ACCOUNT_WIDE },
    "POST /identity-providers/{id}/certificates/approve": { path: `/identity-providers/${r.idp}/certificates/approve`, body: { fingerprint: "AA:BB" }, devToken: ACCOUNT_WIDE },
    "POST /identity-providers/{id}/certificates/remove": { path: `/identity-providers/${r.idp}/certificates/remove`, body: { fingerprint: "AA:BB" }, devToken: ACCOUNT_WIDE },
    "GET /identity-providers/{id}/mappings": { path: `/identity-providers/${r.idp}/mappings?environment=prod`, devToken: OUTSIDE_READ },
    "PUT /identity-providers/{id}/mappings": { path: `/identity-providers/${r.idp}/mappings`, body: { environment: "prod", mappings: [] }, devToken: OUTSIDE_WRITE },
    "GET /identity-providers/{id}/traces": { path: `/identity-providers/${r.idp}/traces?environment=prod`, devToken: OUTSIDE_READ },
  };
}
