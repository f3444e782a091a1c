import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createGroup } from "@/lib/groups";
import { createUser, grantEnvironment } from "@/lib/users";

// A domain write and its audit row commit together or not at all. These tests make the database
// fail part-way through a write (a trigger that raises) and find neither the change nor the row.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

async function failing(table: string, when: string, run: () => Promise<unknown>) {
  const db = getDb();
  await db.execute(sql.raw(`create or replace function fail_now() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`));
  await db.execute(sql.raw(`create trigger inject_failure before insert on ${table} for each row when (${when}) execute function fail_now()`));
  try {
    return await run().then(
      () => null,
      (e: Error) => e,
    );
  } finally {
    await db.execute(sql.raw(`drop trigger inject_failure on ${table}`));
  }
}

function expectInjected(error: unknown) {
  const e = error as (Error & { cause?: Error }) | null;
  expect(e?.cause?.message ?? e?.message).toBe("injected failure");
}

describe("write and audit are one transaction", () => {
  it("a failing audit insert leaves no user, no access, no membership", async () => {
    const before = { users: await countRows("users"), access: await countRows("environment_access"), members: await countRows("group_members"), audit: await countRows("audit_events") };
    const error = await failing("audit_events", "true", () =>
      createUser(systemCtx, { name: "Half Done", email: "half@example.com", environmentIds: [env.dev.id, env.prod.id] }),
    );
    expectInjected(error);
    expect({ users: await countRows("users"), access: await countRows("environment_access"), members: await countRows("group_members"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("a failure after the access row (while joining Everyone) leaves neither the access nor an audit row", async () => {
    const user = await createUser(systemCtx, { name: "Later", email: "later@example.com" });
    const before = { access: await countRows("environment_access"), audit: await countRows("audit_events") };
    const error = await failing("group_members", "NEW.source = 'system'", () => grantEnvironment(systemCtx, { userId: user.id, environmentId: env.test.id }));
    expectInjected(error);
    expect({ access: await countRows("environment_access"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("a failure on the second membership of a create rolls back the first", async () => {
    const a = await createGroup(systemCtx, { environmentId: env.dev.id, name: "A" });
    const b = await createGroup(systemCtx, { environmentId: env.dev.id, name: "B" });
    const before = { users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") };
    const error = await failing("group_members", `NEW.group_id = '${b.id}'`, () =>
      createUser(systemCtx, { name: "Two Groups", email: "two@example.com", environmentIds: [env.dev.id], groupIds: [a.id, b.id] }),
    );
    expectInjected(error);
    expect({ users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("a successful write leaves exactly one audit row", async () => {
    const before = await countRows("audit_events");
    await createUser(systemCtx, { name: "Whole", email: "whole@example.com", environmentIds: [env.dev.id, env.test.id] });
    expect(await countRows("audit_events")).toBe(before + 1);
  });
});
