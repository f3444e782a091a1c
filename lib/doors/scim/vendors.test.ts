import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { groupMembers, users, type Environment } from "@/db/schema";
import { createEnvironments } from "@/test-support/fixtures";
import { ENTRA, OKTA, ONELOGIN, type Step } from "./fixtures/vendors";
import { scimClient } from "./testing";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

async function replay(steps: Step[], environment: Environment, patchAnswer: "resource" | "no_content" = "resource") {
  const scim = await scimClient(environment, undefined, { patchAnswer });
  const ids: Record<string, string> = {};
  const fill = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? null).replace(/\{\{(user|group)\}\}/g, (_, k: string) => ids[k] ?? ""));
  const results = [];
  for (const step of steps) {
    const res = await scim.call(step.method, fill(step.path) as string, step.body === undefined ? undefined : fill(step.body), { headers: step.headers });
    expect(step.expect, `${step.method} ${step.path}: ${JSON.stringify(res.body)}`).toContain(res.status);
    if (step.capture) ids[step.capture] = res.body.id;
    results.push(res);
  }
  return { ids, results, scim };
}

describe("vendor request shapes replayed end to end", () => {
  it("Okta: create, update, group push with members, deactivate (PATCH answers with the resource for Okta)", async () => {
    const { ids, results } = await replay(OKTA, env.prod);
    const patches = results.filter((_, i) => OKTA[i]!.method === "PATCH");
    expect(patches.every((p) => p.status === 200 && p.body?.id)).toBe(true);
    const [user] = await getDb().select().from(users).where(eq(users.id, ids.user!));
    expect(user).toMatchObject({ name: "Johnny Doe", status: "deprovisioned" });
    expect(user!.passwordHash).toBeNull();
  });

  it("Entra ID: Replace ops, the manager as a bare id, addMember/removeMember, \"False\", delete", async () => {
    // A directory set to answer as Entra expects (204 to a PATCH).
    const { ids, results, scim } = await replay(ENTRA.slice(0, 10), env.test, "no_content");
    const user = (await scim.call("GET", `/Users/${ids.user}`)).body;
    expect(user.emails).toEqual([{ primary: true, type: "work", value: "updatedEmail@microsoft.com" }]);
    expect(user.name.familyName).toBe("updatedFamilyName");
    expect(user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].manager).toEqual({ value: "2819c223-7f76-453a-919d-413861904646" });
    expect((await scim.call("GET", `/Groups/${ids.group}`)).body.displayName).toBe("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
    expect(await getDb().select().from(groupMembers).where(eq(groupMembers.groupId, ids.group!))).toHaveLength(0);
    expect(results.filter((r) => r.status === 204).length).toBeGreaterThan(0);
    for (const step of ENTRA.slice(10)) {
      const res = await scim.call(step.method, step.path.replace("{{user}}", ids.user!).replace("{{group}}", ids.group!), step.body);
      expect(step.expect).toContain(res.status);
    }
    expect((await scim.call("GET", `/Users/${ids.user}`)).status).toBe(404);
  });

  it("OneLogin: PUT updates, group members by value list, PUT active false deprovisions", async () => {
    const { ids } = await replay(ONELOGIN, env.dev);
    const [user] = await getDb().select().from(users).where(eq(users.id, ids.user!));
    expect(user).toMatchObject({ name: "Jane Roe-Smith", status: "deprovisioned" });
    // Deprovisioning took the user out of the environment's groups.
    expect(await getDb().select().from(groupMembers).where(eq(groupMembers.userId, ids.user!))).toHaveLength(0);
  });
});
