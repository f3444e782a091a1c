import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { TransactionRollbackError } from "drizzle-orm/errors";
import { createSql, getDb } from "@/db/client";
import { pipelinedTransactions } from "./pipelined-transactions";

// Transactions whose BEGIN goes out with their first statements (db/pipelined-transactions.ts)
// keep every guarantee of postgres.js's own: all or nothing, errors surface, savepoints roll back.
const names = async () => (await getDb().execute<{ name: string }>(sql`select name from pipelined_probe order by name`)).map((r) => r.name);
const insert = (tx: Pick<ReturnType<typeof getDb>, "execute">, name: string) => tx.execute(sql`insert into pipelined_probe (name) values (${name})`);

beforeAll(async () => {
  await getDb().execute(sql`create table pipelined_probe (name text primary key)`);
});

describe("pipelined transactions", () => {
  it("runs the body's first statement inside the transaction: a body that throws leaves nothing", async () => {
    await expect(
      getDb().transaction(async (tx) => {
        await insert(tx, "first-then-throw");
        throw new Error("body failed");
      }),
    ).rejects.toThrow("body failed");
    expect(await names()).toEqual([]);
  });

  it("commits what the body wrote and returns its result", async () => {
    const result = await getDb().transaction(async (tx) => {
      await Promise.all([insert(tx, "a"), insert(tx, "b")]);
      return "done";
    });
    expect(result).toBe("done");
    expect(await names()).toEqual(["a", "b"]);
  });

  it("a statement that failed fails the transaction even when the body caught its error", async () => {
    const outcome = getDb().transaction(async (tx) => {
      await insert(tx, "c");
      await insert(tx, "a").catch(() => "swallowed");
      return "claims success";
    });
    await expect(outcome).rejects.toThrow(/duplicate key value violates unique constraint "pipelined_probe_pkey"/);
    expect(await names()).toEqual(["a", "b"]);
  });

  it("drizzle's rollback() leaves nothing", async () => {
    await expect(
      getDb().transaction(async (tx) => {
        await insert(tx, "d");
        tx.rollback();
      }),
    ).rejects.toBeInstanceOf(TransactionRollbackError);
    expect(await names()).toEqual(["a", "b"]);
  });

  it("a nested transaction that throws is rolled back to its savepoint; the outer one commits the rest", async () => {
    await getDb().transaction(async (tx) => {
      await insert(tx, "outer-1");
      await expect(
        tx.transaction(async (inner) => {
          await insert(inner, "inner");
          throw new Error("inner failed");
        }),
      ).rejects.toThrow("inner failed");
      await tx.transaction((inner) => insert(inner, "inner-kept"));
      await insert(tx, "outer-2");
    });
    expect(await names()).toEqual(["a", "b", "inner-kept", "outer-1", "outer-2"]);
  });

  it("more transactions than connections all complete, each with its own rows", async () => {
    const many = Array.from({ length: 40 }, (_, i) => `many-${String(i).padStart(2, "0")}`);
    await Promise.all(many.map((name) => getDb().transaction((tx) => insert(tx, name))));
    expect((await names()).filter((n) => n.startsWith("many-"))).toEqual(many);
  });
});

describe("on the wire", () => {
  it("BEGIN and the body's first statement reach the server before its first answer", async () => {
    // A TCP relay between a client and the server that notes which way each chunk went.
    const target = new URL(process.env.DATABASE_URL!);
    const flow: { to: "server" | "client"; text: string }[] = [];
    const relay = net.createServer((client) => {
      const server = net.connect(Number(target.port || 5432), target.hostname);
      client.on("data", (d) => (flow.push({ to: "server", text: d.toString("latin1") }), server.write(d)));
      server.on("data", (d) => (flow.push({ to: "client", text: d.toString("latin1") }), client.write(d)));
      client.on("close", () => server.destroy());
      server.on("close", () => client.destroy());
      client.on("error", () => server.destroy());
      server.on("error", () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const url = new URL(process.env.DATABASE_URL!);
    url.hostname = "127.0.0.1";
    url.port = String((relay.address() as net.AddressInfo).port);
    const client = pipelinedTransactions(createSql(url.toString(), 1));
    try {
      await client`select 1`; // connected: what follows is the transaction alone
      flow.length = 0;
      const [row] = await client.begin((tx) => tx.unsafe("select 'pipelined-probe' as probe"));
      expect(row).toEqual({ probe: "pipelined-probe" });
      const statement = flow.findIndex((f) => f.to === "server" && f.text.includes("pipelined-probe"));
      const firstAnswer = flow.findIndex((f) => f.to === "client");
      expect(flow[0]!.text).toContain("begin");
      expect(statement).toBeGreaterThanOrEqual(0);
      expect(statement).toBeLessThan(firstAnswer);
    } finally {
      await client.end();
      await new Promise((r) => relay.close(r));
    }
  });
});
