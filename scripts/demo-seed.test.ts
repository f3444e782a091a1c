import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { seedDemo } from "./demo-seed";
import { countRows } from "@/test-support/fixtures";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";

describe("demo seed", () => {
  it("creates the demo once; running it again changes nothing and prints no new password", async () => {
    const first = await seedDemo();
    expect(first.owner?.email).toBe("owner@example.com");
    expect(first.owner!.password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const counts = async () => ({
      environments: await countRows("environments"),
      users: await countRows("users"),
      groups: await countRows("groups"),
      members: await countRows("group_members"),
      resources: await countRows("resources"),
      grants: await countRows("access_grants"),
      owners: await countRows("console_members"),
    });
    const after = await counts();
    expect(after).toMatchObject({ environments: 3, users: 50, groups: 18, owners: 1 });
    expect(after.resources).toBe(21);

    const second = await seedDemo();
    expect(second.owner).toBeUndefined();
    expect(await counts()).toEqual(after);

    // The printed credentials work.
    expect((await signInConsoleMember({ email: first.owner!.email, password: first.owner!.password })).ok).toBe(true);
  });

  it("signs every environment in with a password when there is no demo IdP (npm start connects its own to TEST: app/demo-idp)", async () => {
    await seedDemo();
    const rows = await getDb().execute<{ key: string; password_enabled: boolean; sso_enabled: boolean; identity_provider_id: string | null }>(
      sql`select e.key, a.password_enabled, a.sso_enabled, a.identity_provider_id from environments e join environment_auth a on a.environment_id = e.id order by e.position`,
    );
    expect(rows.map((r) => [r.key, r.password_enabled, r.sso_enabled, r.identity_provider_id])).toEqual([
      ["dev", true, false, null],
      ["test", true, false, null],
      ["prod", true, false, null],
    ]);
  });

  it("leaves a TEST that signs in with a real IdP alone: no demo IdP is made, and nobody's email is vouched for", async () => {
    await seedDemo();
    const { systemCtx } = await import("@/test-support/fixtures");
    const { createIdentityProvider } = await import("@/lib/sso/identity-providers");
    const { getAuthRow, updateEnvironmentAuth } = await import("@/lib/sso/environment-auth");
    const { generateKeyPair, idpMetadata } = await import("@/lib/sso/testing/test-idp");
    const real = await createIdentityProvider(systemCtx, { name: "Real Okta", metadataXml: idpMetadata("https://real.example", "https://real.example/sso", [generateKeyPair("real").certBase64]) });
    const [test] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'test'`);
    const auth = await getAuthRow(test!.id);
    await updateEnvironmentAuth(systemCtx, test!.id, { ...auth, ssoEnabled: true, identityProviderId: real.id, enforcement: "all", breakGlassUserIds: [], jitGroupIds: [] });
    await seedDemo({ demoIdp: true });
    expect(await getDb().execute(sql`select name from identity_providers order by name`)).toEqual([{ name: "Real Okta" }]);
    expect((await getAuthRow(test!.id)).identityProviderId).toBe(real.id);
    expect(await getDb().execute(sql`select count(*)::int as n from users where email_verified_at is not null`)).toEqual([{ n: 0 }]);
  });
});
