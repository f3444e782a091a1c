import { beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "@/db/schema";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createIdentityProvider, setGroupMappings } from "@/lib/sso/identity-providers";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { createUser } from "@/lib/users";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { getDb } from "@/db/client";
import { addMembers, createGroup } from ".";
import { insertMembershipPairs } from "./membership-rows";
import { groupDetail, groupsOverview, membersBySourceWords } from "./overview";

let env: { dev: Environment; test: Environment; prod: Environment };
let sales: { id: string };

beforeAll(async () => {
  env = await createEnvironments();
  sales = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Sales", description: "Sellers" });
  await createGroup(systemCtx, { environmentId: env.prod.id, name: "Support" });
  await createGroup(systemCtx, { environmentId: env.dev.id, name: "Sales" }); // another environment's
  const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Sales genie" });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [sales.id] });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", groupIds: [sales.id] });
  const idp = await createIdentityProvider(systemCtx, { name: "Okta", metadataXml: idpMetadata("https://okta.groups.example", "https://okta.groups.example/sso", [generateKeyPair("groups").certBase64]) });
  await setGroupMappings(systemCtx, idp.id, { environmentId: env.prod.id, mappings: [{ idpValue: "okta-sales", groupId: sales.id }] });
  const ana = await createUser(systemCtx, { name: "Ana", email: "ana.groups@example.com", environmentIds: [env.prod.id] });
  await addMembers(systemCtx, { groupId: sales.id, userIds: [ana.id] });
});

describe("the groups overview", () => {
  it("lists an environment's groups, Everyone first, with size, source, mapped IdP groups and grants", async () => {
    const { rows, total } = await groupsOverview(env.prod.id);
    expect(total).toBe(3);
    expect(rows.map((r) => [r.name, r.source, r.memberCount])).toEqual([
      ["Everyone", "system", 1],
      ["Sales", "manual", 1],
      ["Support", "manual", 0],
    ]);
    expect(rows[1]).toMatchObject({ description: "Sellers", mappedFrom: ["Okta: okta-sales"] });
    expect(rows[1]!.grants.map((g) => g.label)).toEqual(["Agent Studio: Sales genie", "All of MCP servers"]);
    expect(rows[2]).toMatchObject({ mappedFrom: [], grants: [] });
  });

  it("narrows by a name fragment, literally (a % matches a %)", async () => {
    expect((await groupsOverview(env.prod.id, "SUP")).rows.map((r) => r.name)).toEqual(["Support"]);
    expect(await groupsOverview(env.prod.id, "%")).toEqual({ rows: [], total: 0 });
  });

  it("says who is in a group by source, and nothing for another environment's id", async () => {
    const detail = await groupDetail(env.prod.id, sales.id);
    expect(detail).toMatchObject({ name: "Sales", membersBySource: { manual: 1 }, syncedByIdp: [], mappedFrom: ["Okta: okta-sales"], standingExclusions: 0 });
    expect(membersBySourceWords(detail!)).toBe("1 added in the console");
    expect(await groupDetail(env.dev.id, sales.id)).toBeNull();
    expect(await groupDetail(env.prod.id, "not-a-uuid")).toBeNull();
  });
});

describe("members an IdP's group sync added", () => {
  it("are counted by the IdP that synced them, those with no IdP recorded last", async () => {
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Synced" });
    const metadata = (name: string) => idpMetadata(`https://${name}.synced.example`, `https://${name}.synced.example/sso`, [generateKeyPair(name).certBase64]);
    const [entra, okta] = [
      await createIdentityProvider(systemCtx, { name: "Entra", metadataXml: metadata("entra") }),
      await createIdentityProvider(systemCtx, { name: "Okta synced", metadataXml: metadata("okta") }),
    ];
    const user = async (name: string) => (await createUser(systemCtx, { name, email: `${name}.synced@example.com`, environmentIds: [env.prod.id] })).id;
    const [a, b, c, d] = [await user("a"), await user("b"), await user("c"), await user("d")];
    const pair = (userId: string) => ({ groupId: group.id, userId, environmentId: env.prod.id });
    await getDb().transaction(async (tx) => {
      await insertMembershipPairs(tx, [pair(a), pair(b)], "saml", null, okta.id);
      await insertMembershipPairs(tx, [pair(c)], "saml", null, entra.id);
      await insertMembershipPairs(tx, [pair(d)], "saml", null, null);
    });
    await addMembers(systemCtx, { groupId: group.id, userIds: [(await createUser(systemCtx, { name: "e", email: "e.synced@example.com", environmentIds: [env.prod.id] })).id] });
    const detail = (await groupDetail(env.prod.id, group.id))!;
    expect(detail.membersBySource).toEqual({ saml: 4, manual: 1 });
    expect(detail.syncedByIdp).toEqual([
      { idp: "Entra", n: 1 },
      { idp: "Okta synced", n: 2 },
      { idp: null, n: 1 },
    ]);
    expect(membersBySourceWords(detail)).toBe("1 added in the console, 4 from IdP sign-ins (Entra: 1, Okta synced: 2, no IdP recorded: 1)");
  });
});
