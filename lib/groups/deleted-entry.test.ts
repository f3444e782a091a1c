import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { scimClient } from "@/lib/doors/scim/testing";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { createIdentityProvider, setGroupMappings } from "@/lib/sso/identity-providers";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { createUser } from "@/lib/users";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createGroup, deleteGroup, DELETED_EXCLUSIONS_NAMED } from ".";
import { insertExclusionRows } from "./exclusions";
import { groupDetail } from "./overview";

// What ends with a deleted group (its grants, IdP mappings, JIT, and access reviews' standing
// exclusions, all cascading with it) is in its group.delete audit row, whichever door deletes it.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const deletedRow = async (groupId: string) => {
  const rows = await getDb().execute<{ before: Record<string, unknown> }>(sql`select before from audit_events where action = 'group.delete' and target_id = ${groupId}`);
  expect(rows).toHaveLength(1);
  return rows[0]!.before;
};

async function excludeFrom(groupId: string, environmentId: string, emails: string[]) {
  const people = [];
  for (const email of emails) people.push(await createUser(systemCtx, { name: email, email, environmentIds: [environmentId] }));
  await insertExclusionRows(
    getDb(),
    systemCtx,
    people.map((u) => ({ kind: "member" as const, environmentId, userId: u.id, groupId, source: "saml" as const, directoryId: null, identityProviderId: null, reason: "revoked in a review", reviewId: null, reviewItemId: null })),
  );
  return people;
}

describe("a group's deletion in the audit trail", () => {
  it("names the grants, IdP mappings, JIT and standing exclusions that end with the group (console)", async () => {
    const sales = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Sales", description: "Sellers" });
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Sales genie" });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [sales.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "workato_go", groupIds: [sales.id] });
    const idp = await createIdentityProvider(systemCtx, { name: "Okta", metadataXml: idpMetadata("https://okta.deleted.example", "https://okta.deleted.example/sso", [generateKeyPair("deleted").certBase64]) });
    await setGroupMappings(systemCtx, idp.id, { environmentId: env.prod.id, mappings: [{ idpValue: "okta-sales", groupId: sales.id }] });
    const auth = await getEnvironmentAuth(env.prod.id);
    await updateEnvironmentAuth(systemCtx, env.prod.id, { ...auth, identityProviderId: idp.id, jitGroupIds: [sales.id], expectedVersion: undefined });
    await excludeFrom(sales.id, env.prod.id, ["zoe.excluded@example.com", "ada.excluded@example.com"]);

    // The group's page counts them, so the delete dialog can say they end.
    expect((await groupDetail(env.prod.id, sales.id))!.standingExclusions).toBe(2);

    await deleteGroup(systemCtx, sales.id);

    expect(await deletedRow(sales.id)).toEqual({
      name: "Sales",
      description: "Sellers",
      source: "manual",
      memberCount: 0,
      grants: [{ feature: "agent_studio", resource: "Sales genie" }, { feature: "workato_go" }],
      mappings: [{ identityProvider: "Okta", value: "okta-sales" }],
      jit: true,
      exclusions: {
        count: 2,
        named: [
          { user: "ada.excluded@example.com", reason: "revoked in a review" },
          { user: "zoe.excluded@example.com", reason: "revoked in a review" },
        ],
      },
    });
  });

  it(`names at most ${DELETED_EXCLUSIONS_NAMED} exclusions and counts them all; a SCIM DELETE writes the same shape`, async () => {
    const scim = await scimClient(env.test);
    const created = await scim.call("POST", "/Groups", { displayName: "Contractors" });
    expect(created.status).toBe(201);
    const many = Array.from({ length: DELETED_EXCLUSIONS_NAMED + 3 }, (_, i) => `c${String(i).padStart(3, "0")}@example.com`);
    await excludeFrom(created.body.id, env.test.id, many);

    expect((await scim.call("DELETE", `/Groups/${created.body.id}`)).status).toBe(204);

    const before = await deletedRow(created.body.id);
    expect(before).toMatchObject({ name: "Contractors", source: "scim", memberCount: 0, grants: [], mappings: [], jit: false });
    const exclusions = before.exclusions as { count: number; named: { user: string }[] };
    expect(exclusions.count).toBe(DELETED_EXCLUSIONS_NAMED + 3);
    expect(exclusions.named.map((e) => e.user)).toEqual(many.slice(0, DELETED_EXCLUSIONS_NAMED));
  });
});
