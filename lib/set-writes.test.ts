import { beforeAll, describe, expect, it } from "vitest";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { getDb, type Executor, type Tx } from "@/db/client";
import type { Environment } from "@/db/schema";
import { recordAuditOfMany } from "@/lib/audit/record";
import { insertAccessRows } from "@/lib/groups/membership-rows";
import { insertUserRows } from "@/lib/users/rows";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";

// The writers of the SCIM create path send one statement text whatever the number of rows
// (db/records.ts): prepared once, planned once, instead of a text (and a parse, a describe and a
// plan) per batch size.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const dialect = new PgDialect({ casing: "snake_case" });

/** Runs `write` in a transaction that is rolled back, and returns the texts of the statements it sent. */
async function textsOf(write: (tx: Executor) => Promise<unknown>): Promise<string[]> {
  const texts: string[] = [];
  await getDb()
    .transaction(async (tx) => {
      const recording = new Proxy(tx, {
        get(target, prop, receiver) {
          if (prop === "execute") return (query: SQL) => (texts.push(dialect.sqlToQuery(query).sql), target.execute(query));
          return Reflect.get(target, prop, receiver);
        },
      }) as Tx;
      await write(recording);
      throw new Error("rollback");
    })
    .catch((e: Error) => {
      if (e.message !== "rollback") throw e;
    });
  return texts;
}

const newUsers = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ email: `${tag}${i}@set.example`, name: `Set ${i}`, source: "scim" as const, environmentKeys: "prod" }));

describe("set-based writers", () => {
  it("send the same statement text for one row as for many, and write every row", async () => {
    for (const [name, write] of [
      ["users", (tx: Executor, n: number) => insertUserRows(tx, newUsers(n, `u${n}-`))],
      ["access", async (tx: Executor, n: number) => insertAccessRows(tx, (await insertUserRows(tx, newUsers(n, `a${n}-`))).map((u) => u.id), env.prod.id, "scim")],
      ["audit", (tx: Executor, n: number) => recordAuditOfMany(tx, [{ ctx: systemCtx, entries: Array.from({ length: n }, (_, i) => ({ action: "test.write", targetType: "user", targetId: String(i), after: { i } })) }])],
    ] as const) {
      let written = 0;
      const one = await textsOf(async (tx) => void (written = ([] as unknown[]).concat(await write(tx, 1)).length));
      const many = await textsOf(async (tx) => void (written = ([] as unknown[]).concat(await write(tx, 7)).length));
      expect(one.length, name).toBeGreaterThan(0);
      expect(many, name).toEqual(one);
      if (name !== "audit") expect(written, name).toBe(7);
    }
  });
});
