import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { directories, type Environment } from "@/db/schema";
import { auditActions, countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ForbiddenError, ValidationError } from "@/lib/errors";
import { authenticateDirectory, createDirectory, listDirectories, rotateDirectoryToken, setDirectoryStatus } from "@/lib/directories";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

describe("directories", () => {
  it("shows the token once and keeps only its hash; the base URL names the directory", async () => {
    const { directory, token } = await createDirectory(systemCtx, { environmentId: env.prod.id, name: "Okta PROD" });
    expect(token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    expect(directory.baseUrl).toMatch(new RegExp(`/scim/v2/${directory.id}$`));
    expect(directory).not.toHaveProperty("tokenHash");
    const [row] = await getDb().select().from(directories).where(eq(directories.id, directory.id));
    expect(row!.tokenHash).not.toContain(token.slice(5));
    expect(row!.tokenHint).toBe(`${token.slice(0, 9)}…${token.slice(-4)}`);
    expect((await authenticateDirectory(directory.id, token))?.actor).toMatchObject({ type: "directory", environmentIds: [env.prod.id] });
    expect((await listDirectories(env.prod.id)).map((d) => d.name)).toEqual(["Okta PROD"]);
  });

  it("rotating stops the old token at once; disabling refuses every token until enabled", async () => {
    const { directory, token: first } = await createDirectory(systemCtx, { environmentId: env.dev.id, name: "Entra DEV" });
    const { token: second } = await rotateDirectoryToken(systemCtx, directory.id);
    expect(await authenticateDirectory(directory.id, first)).toBeNull();
    expect(await authenticateDirectory(directory.id, second)).not.toBeNull();
    await setDirectoryStatus(systemCtx, directory.id, "disabled");
    expect(await authenticateDirectory(directory.id, second)).toBeNull();
    await setDirectoryStatus(systemCtx, directory.id, "active");
    expect(await authenticateDirectory(directory.id, second)).not.toBeNull();
    expect((await auditActions()).filter((a) => a.startsWith("directory."))).toEqual(expect.arrayContaining(["directory.create", "directory.rotate_token", "directory.disable", "directory.enable"]));
  });

  it("a token of one directory sees nothing of another; wrong and malformed tokens see nothing", async () => {
    const a = await createDirectory(systemCtx, { environmentId: env.test.id, name: "A" });
    const b = await createDirectory(systemCtx, { environmentId: env.test.id, name: "B" });
    expect(await authenticateDirectory(b.directory.id, a.token)).toBeNull();
    expect(await authenticateDirectory(a.directory.id, "scim_wrong")).toBeNull();
    expect(await authenticateDirectory(a.directory.id, null)).toBeNull();
    expect(await authenticateDirectory("not-a-uuid", a.token)).toBeNull();
  });

  it("refuses bad input with field errors and out-of-scope admins with the reason, writing nothing", async () => {
    const before = await countRows("directories");
    const bad = await createDirectory(systemCtx, { environmentId: env.dev.id, name: "", logRetentionDays: 0 }).catch((e) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect(Object.keys((bad as ValidationError).fieldErrors ?? {}).sort()).toEqual(["logRetentionDays", "name"]);
    const denied = await createDirectory(memberCtx("environment_admin", [env.dev.id]), { environmentId: env.prod.id, name: "Nope" }).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect((denied as Error).message).toBe("This change touches an environment outside your scope.");
    const reviewer = await createDirectory(memberCtx("reviewer"), { environmentId: env.dev.id, name: "Nope" }).catch((e) => e);
    expect((reviewer as Error).message).toBe("A reviewer cannot change directories.");
    expect(await countRows("directories")).toBe(before);
    const dup = await createDirectory(systemCtx, { environmentId: env.dev.id, name: "Dup" }).then(() => createDirectory(systemCtx, { environmentId: env.dev.id, name: "dup" })).catch((e) => e);
    expect((dup as Error).message).toBe("A directory with this name already exists in this environment.");
  });
});
