import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { sessions, type Environment } from "@/db/schema";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ForbiddenError } from "@/lib/errors";
import { createUser, revokeEnvironment, setUserStatus } from "@/lib/users";
import { createEndUserSession, readEndUserSession, signOutEverywhere } from "./sessions";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

async function signedIn(email: string) {
  const user = await createUser(systemCtx, { name: "Session Person", email, environmentIds: [env.dev.id, env.prod.id] });
  const dev = await createEndUserSession(getDb(), { userId: user.id, environmentId: env.dev.id, method: "password" });
  const prod = await createEndUserSession(getDb(), { userId: user.id, environmentId: env.prod.id, method: "password" });
  return { user, dev: dev.token, prod: prod.token };
}

describe("end-user sessions", () => {
  it("are valid only in their own environment", async () => {
    const s = await signedIn("own-env@example.com");
    expect((await readEndUserSession("dev", s.dev))?.user.email).toBe("own-env@example.com");
    expect(await readEndUserSession("prod", s.dev)).toBeNull();
    expect(await readEndUserSession("dev", "not-a-token")).toBeNull();
  });

  it("end at once when the environment is revoked (only there)", async () => {
    const s = await signedIn("revoked@example.com");
    await revokeEnvironment(systemCtx, { userId: s.user.id, environmentId: env.dev.id });
    expect(await readEndUserSession("dev", s.dev)).toBeNull();
    expect(await readEndUserSession("prod", s.prod)).not.toBeNull();
  });

  it("end at once when the user is suspended", async () => {
    const s = await signedIn("suspended@example.com");
    await setUserStatus(systemCtx, s.user.id, "suspended");
    expect(await readEndUserSession("dev", s.dev)).toBeNull();
    expect(await readEndUserSession("prod", s.prod)).toBeNull();
  });

  it("end everywhere on 'sign out everywhere', which a DEV-only admin may not do to a PROD user", async () => {
    const s = await signedIn("everywhere@example.com");
    const denied = await signOutEverywhere(memberCtx("environment_admin", [env.dev.id]), s.user.id).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect((denied as Error).message).toMatch(/outside your scope/);
    expect(await signOutEverywhere(systemCtx, s.user.id)).toBe(2);
    expect(await readEndUserSession("dev", s.dev)).toBeNull();
    expect(await readEndUserSession("prod", s.prod)).toBeNull();
  });

  it("end after the idle timeout and after the absolute lifetime", async () => {
    const s = await signedIn("idle@example.com");
    await getDb().update(sessions).set({ lastSeenAt: sql`now() - interval '61 minutes'` }).where(eq(sessions.userId, s.user.id));
    expect(await readEndUserSession("dev", s.dev)).toBeNull();
    const t = await signedIn("lifetime@example.com");
    await getDb().update(sessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(sessions.userId, t.user.id));
    expect(await readEndUserSession("prod", t.prod)).toBeNull();
  });
});
