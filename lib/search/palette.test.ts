import { beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "@/db/schema";
import { createResource } from "@/lib/access/resources";
import { createDirectory } from "@/lib/directories";
import { createGroup } from "@/lib/groups";
import { createIdentityProvider } from "@/lib/sso/identity-providers";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { createUser } from "@/lib/users";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { paletteSearch } from "./palette";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
  await createUser(systemCtx, { name: "Nora Atlas", email: "nora.atlas@example.com", environmentIds: [env.prod.id] });
  await createUser(systemCtx, { name: "Dev Atlas", email: "dev.atlas@example.com", environmentIds: [env.dev.id] });
  await createGroup(systemCtx, { environmentId: env.prod.id, name: "Atlas team" });
  await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Atlas MCP" });
  await createIdentityProvider(systemCtx, { name: "Atlas Okta", metadataXml: idpMetadata("https://atlas.example", "https://atlas.example/sso", [generateKeyPair("atlas").certBase64]) });
  await createDirectory(systemCtx, { environmentId: env.prod.id, name: "Atlas directory" });
});

const search = (q: string, ctx = memberCtx("reviewer")) => paletteSearch(ctx, { environmentId: env.prod.id, environmentKey: "prod", q });

describe("the command palette's search", () => {
  it("finds users, groups, resources, IdPs and directories of the environment, each with where it leads", async () => {
    const hits = await search("atlas");
    expect(hits.map((h) => [h.kind, h.label])).toEqual([
      ["user", "Nora Atlas"],
      ["group", "Atlas team"],
      ["resource", "Atlas MCP"],
      ["identity provider", "Atlas Okta"],
      ["directory", "Atlas directory"],
    ]);
    expect(hits[0]!.href).toMatch(/^\/console\/prod\/users\/[0-9a-f-]{36}$/);
    expect(hits[2]).toMatchObject({ detail: "MCP servers", href: expect.stringMatching(/^\/console\/prod\/access\//) });
  });

  it("needs two characters, takes a % literally, and refuses a malformed request with the reason", async () => {
    expect(await search("a")).toEqual([]);
    expect(await search("%%")).toEqual([]);
    const bad = await paletteSearch(systemCtx, { environmentId: "nope", environmentKey: "prod", q: "atlas" }).catch((e) => e);
    expect(bad.fieldErrors.environmentId).toBeDefined();
  });
});
