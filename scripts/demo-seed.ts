import crypto from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Feature } from "@/db/enums";
import { accessGrants, consoleMembers, environmentAccess, groups, resources, users } from "@/db/schema";
import { SYSTEM_ACTOR, type DomainContext } from "@/lib/auth/actor";
import { requestAccess } from "@/lib/access-requests";
import { createConsoleMember } from "@/lib/console-members";
import { createEnvironment, listEnvironments } from "@/lib/environments";
import { addMembers, createGroup } from "@/lib/groups";
import { getAuthRow, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { demoIdpIdentityProviderId, ensureDemoIdp } from "@/lib/sso/testing/demo-idp";
import { createUser } from "@/lib/users";
import { markEmailVerifiedRows } from "@/lib/users/rows";

// The demo seed: idempotent (each step checks what exists), written through the domain layer so the
// demo's audit trail shows how it came to be.

const ctx: DomainContext = { actor: { ...SYSTEM_ACTOR, label: "demo seed" } };

export const DEMO_ENVIRONMENTS = [
  { key: "dev", name: "DEV", description: "Development: password sign-in." },
  { key: "test", name: "TEST", description: "Testing: SSO once an IdP is connected, password until then." },
  { key: "prod", name: "PROD", description: "Production: SSO once an IdP is connected, password until then." },
] as const;

const GROUP_NAMES = ["Engineering", "Support", "Finance", "Sales", "Operations"] as const;

export const FIRST_NAMES = [
  "Olivia", "Liam", "Amara", "Noah", "Sofia", "Mateo", "Priya", "Lucas", "Hana", "Ethan",
  "Chloé", "Kwame", "Isabella", "Arjun", "Mia", "Diego", "Yuki", "Samuel", "Fatima", "Oliver",
  "Elena", "Jonas", "Aisha", "Gabriel", "Ingrid", "Tomás", "Leila", "Henry", "Zanele", "Marco",
  "Nadia", "Felix", "Ava", "Ravi", "Camila", "Erik", "Grace", "Omar", "Lena", "Daniel",
  "Sara", "Kenji", "Emma", "Jamal", "Clara", "Pedro", "Anika", "Hugo", "Maya", "Victor",
];
export const LAST_NAMES = [
  "Smith", "Okafor", "García", "Nguyen", "Müller", "Rossi", "Patel", "Kowalski", "Tanaka", "Johnson",
  "Dubois", "Mensah", "Silva", "Sharma", "Andersson", "Hernández", "Sato", "Cohen", "Haddad", "Brown",
  "Ivanova", "Schmidt", "Bello", "Martins", "Larsen", "Ortega", "Karimi", "Wilson", "Dlamini", "Romano",
  "Petrov", "Becker", "Taylor", "Iyer", "Lopez", "Nilsson", "Kim", "Farouk", "Fischer", "Murphy",
  "Costa", "Yamamoto", "Clarke", "Hassan", "Weber", "Almeida", "Gupta", "Moreau", "Chen", "Novak",
];

/** A readable random password for the first owner: 20 characters from 120 bits. */
export function generatePassword(): string {
  return crypto.randomBytes(15).toString("base64url");
}

function asciiSlug(s: string): string {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z]/g, "");
}

export function demoPeople(): { name: string; email: string }[] {
  return FIRST_NAMES.map((first, i) => {
    const last = LAST_NAMES[(i * 7) % LAST_NAMES.length]!;
    return { name: `${first} ${last}`, email: `${asciiSlug(first)}.${asciiSlug(last)}@example.com` };
  });
}

const DEMO_RESOURCES: { feature: Feature; name: string; description: string }[] = [
  { feature: "agent_studio", name: "Invoice Assistant", description: "Answers questions about invoices and payment status." },
  { feature: "agent_studio", name: "IT Helpdesk Genie", description: "Resets passwords and triages IT tickets." },
  { feature: "agent_studio", name: "Sales Research Genie", description: "Summarises accounts before a call." },
  { feature: "workato_go", name: "Company Workspace", description: "The Workato GO workspace for everyone." },
  { feature: "mcp", name: "Salesforce MCP", description: "Salesforce records as MCP tools." },
  { feature: "mcp", name: "Jira MCP", description: "Jira issues as MCP tools." },
  { feature: "mcp", name: "Snowflake MCP", description: "Read-only Snowflake queries." },
];

export type SeedResult = { owner?: { email: string; password: string } };

export async function seedDemo(options: { ownerEmail?: string; ownerPassword?: string; demoIdp?: boolean } = {}): Promise<SeedResult> {
  const db = getDb();
  const result: SeedResult = {};

  // Environments, each with its Everyone group and auth settings (password sign-in).
  const existing = new Set((await listEnvironments()).map((e) => e.key));
  const created = new Set<string>();
  for (const env of DEMO_ENVIRONMENTS) {
    if (existing.has(env.key)) continue;
    await createEnvironment(ctx, env);
    created.add(env.key);
  }
  const envs = (await listEnvironments()).filter((e) => DEMO_ENVIRONMENTS.some((d) => d.key === e.key));

  // `npm start`'s demo: its own SAML IdP (lib/sso/testing/demo-idp.ts) connected to TEST, SSO for
  // everyone there with JIT and group sync, so SSO works at once. DEV and PROD sign in with a
  // password until an admin connects a real IdP. (A TEST left by an older demo with SSO on and no
  // IdP is connected too.)
  const test = envs.find((e) => e.key === "test");
  let demoOnTest = false;
  if (options.demoIdp && test) {
    const auth = await getAuthRow(test.id);
    // Made only for a TEST it signs in (or already signs in: kept in step with the public URL).
    const demoIdpId = await demoIdpIdentityProviderId();
    if (created.has("test") || (auth.ssoEnabled && !auth.identityProviderId) || (demoIdpId && auth.identityProviderId === demoIdpId)) {
      const identityProviderId = await ensureDemoIdp(ctx);
      demoOnTest = true;
      if (auth.identityProviderId !== identityProviderId) await updateEnvironmentAuth(ctx, test.id, {
        passwordEnabled: true,
        ssoEnabled: true,
        identityProviderId,
        enforcement: "all",
        jitEnabled: true,
        groupSyncEnabled: true,
        groupAttribute: "groups",
        sessionLifetimeMinutes: auth.sessionLifetimeMinutes,
        idleTimeoutMinutes: auth.idleTimeoutMinutes,
        tokenLifetimeSeconds: auth.tokenLifetimeSeconds,
      });
    }
  }

  // The first owner, with a random password printed once by the caller.
  const [anyOwner] = await db.select({ id: consoleMembers.id }).from(consoleMembers).where(eq(consoleMembers.role, "owner")).limit(1);
  if (!anyOwner) {
    const email = options.ownerEmail ?? "owner@example.com";
    const password = options.ownerPassword ?? generatePassword();
    await createConsoleMember(ctx, { email, name: "Demo Owner", role: "owner", password });
    result.owner = { email, password };
  }

  // Groups per environment.
  const groupIds = new Map<string, string>(); // `${envKey}/${name}` → id
  for (const env of envs) {
    const rows = await db.select({ id: groups.id, name: groups.name }).from(groups).where(eq(groups.environmentId, env.id));
    for (const r of rows) groupIds.set(`${env.key}/${r.name}`, r.id);
    for (const name of GROUP_NAMES) {
      if (groupIds.has(`${env.key}/${name}`)) continue;
      const g = await createGroup(ctx, { environmentId: env.id, name, description: `${name} team in ${env.name}.` });
      groupIds.set(`${env.key}/${name}`, g.id);
    }
  }

  // ~50 users: everyone in DEV, most in TEST, about half in PROD; one or two groups each.
  const people = demoPeople();
  const [{ count } = { count: 0 }] = await db.select({ count: sql<number>`count(*)::int` }).from(users);
  if (count === 0) {
    const envByKey = new Map(envs.map((e) => [e.key, e]));
    const members = new Map<string, string[]>(); // group id → user ids
    for (const [i, person] of people.entries()) {
      const keys = ["dev", ...(i % 5 !== 4 ? ["test"] : []), ...(i % 2 === 0 ? ["prod"] : [])];
      const user = await createUser(ctx, {
        ...person,
        status: i % 17 === 16 ? "invited" : "active",
        environmentIds: keys.map((k) => envByKey.get(k)!.id),
      });
      for (const key of keys) {
        const primary = GROUP_NAMES[i % GROUP_NAMES.length]!;
        const secondary = i % 6 === 0 ? GROUP_NAMES[(i + 2) % GROUP_NAMES.length]! : null;
        for (const name of [primary, secondary]) {
          if (!name) continue;
          const id = groupIds.get(`${key}/${name}`)!;
          members.set(id, [...(members.get(id) ?? []), user.id]);
        }
      }
    }
    for (const [groupId, userIds] of members) await addMembers(ctx, { groupId, userIds });
  }

  // The demo IdP stands for TEST's company directory: it vouches for the emails of TEST's people (as
  // an IdP's or a directory's proof does, for that environment), so their first SSO sign-in links.
  if (demoOnTest && test) {
    const testUsers = await db.select({ id: environmentAccess.userId }).from(environmentAccess).where(eq(environmentAccess.environmentId, test.id));
    await markEmailVerifiedRows(db, testUsers.map((u) => u.id), { by: "identity_provider", environmentId: test.id });
  }

  // Resources per feature and a few grants, so the access policy has something to show.
  for (const env of envs) {
    const [anyResource] = await db.select({ id: resources.id }).from(resources).where(eq(resources.environmentId, env.id)).limit(1);
    if (anyResource) continue;
    const created = await db
      .insert(resources)
      .values(DEMO_RESOURCES.map((r) => ({ ...r, environmentId: env.id })))
      .returning({ id: resources.id, name: resources.name, feature: resources.feature });
    const byName = new Map(created.map((r) => [r.name, r]));
    const grant = (group: string, feature: Feature, resource?: string) => ({
      environmentId: env.id,
      feature,
      resourceId: resource ? byName.get(resource)!.id : null,
      groupId: groupIds.get(`${env.key}/${group}`)!,
    });
    await db.insert(accessGrants).values([
      grant("Everyone", "workato_go"),
      grant("Engineering", "mcp"),
      grant("Support", "agent_studio", "IT Helpdesk Genie"),
      grant("Finance", "agent_studio", "Invoice Assistant"),
      grant("Sales", "agent_studio", "Sales Research Genie"),
      grant("Sales", "mcp", "Salesforce MCP"),
    ]);
    // An open access request (as the MCP server's request_access tool files them), for the admins to decide.
    // The first salesperson outside Engineering (who may use every MCP server already).
    const [asker] = await db.execute<{ id: string }>(sql`
      select gm.user_id as id from group_members gm join users u on u.id = gm.user_id
      where gm.group_id = ${groupIds.get(`${env.key}/Sales`)!}::uuid and u.status = 'active'
        and not exists (select 1 from group_members e where e.user_id = gm.user_id and e.group_id = ${groupIds.get(`${env.key}/Engineering`)!}::uuid)
        and exists (select 1 from environment_access a where a.user_id = gm.user_id and a.environment_id = ${env.id}::uuid)
      order by lower(u.email) limit 1`);
    if (asker) {
      await requestAccess(ctx, { environmentId: env.id, userId: asker.id, resourceId: byName.get("Jira MCP")!.id, reason: "I triage customer escalations in Jira." });
    }
  }
  return result;
}
