import type postgres from "postgres";

// postgres.js's begin() sends BEGIN and waits for its answer before it hands the transaction to
// its body: a round trip that carries nothing, at every transaction (and SAVEPOINT likewise at
// every nested one). Here BEGIN is queued on a reserved connection and goes out with the body's
// first statements, as pgjdbc and Npgsql send it. A connection runs its queries in the order they
// were queued, and BEGIN is queued before the body runs, so the body's statements are inside the
// transaction. (BEGIN on an idle connection fails only with the connection itself, and then so do
// the statements queued behind it.)
//
// What postgres.js's begin() guarantees is kept: the body's result is returned only after COMMIT
// answered COMMIT; if a statement failed, even one whose error the body caught, Postgres turns the
// COMMIT into a ROLLBACK and the transaction throws that statement's error; a body that throws is
// rolled back; a nested transaction is a savepoint, rolled back to when its body throws.

type Body = (tx: postgres.TransactionSql) => unknown;

/** The client with `begin` replaced (see above); everything else is the client's own. */
export function pipelinedTransactions(sql: postgres.Sql): postgres.Sql {
  const begin = async (...args: unknown[]) => {
    const body = args.pop() as Body;
    // postgres.js's begin(options, body): "read only", "isolation level serializable", …
    const mode = typeof args[0] === "string" ? args[0].replace(/[^a-z ]/gi, "") : "";
    const reserved = await sql.reserve();
    try {
      const failures: unknown[] = [];
      const tx = transactionClient(reserved, failures);
      const opened = queue(reserved, `begin ${mode}`);
      let result: unknown;
      try {
        result = await body(tx);
        await opened;
      } catch (error) {
        await reserved.unsafe("rollback").catch(() => {});
        throw error;
      }
      const ended = await reserved.unsafe("commit");
      if (ended.command !== "COMMIT") throw failures[0] ?? new Error(`The transaction ended with ${ended.command}: one of its statements failed.`);
      return result;
    } finally {
      reserved.release();
    }
  };
  return new Proxy(sql, { get: (target, prop, receiver) => (prop === "begin" ? begin : Reflect.get(target, prop, receiver)) });
}

/** Sends a statement now, without waiting for its answer; its failure is seen by whoever awaits it. */
function queue(reserved: postgres.ReservedSql, text: string) {
  const query = reserved.unsafe(text).execute();
  query.catch(() => {});
  return query;
}

function transactionClient(reserved: postgres.ReservedSql, failures: unknown[]): postgres.TransactionSql {
  let savepoints = 0;
  const unsafe = (...args: Parameters<postgres.ReservedSql["unsafe"]>) => {
    const query = reserved.unsafe(...args);
    // Noted, not handled: the caller awaits the query and sees its error as before.
    void query.catch((error: unknown) => failures.push(error));
    return query;
  };
  const savepoint = async (...args: unknown[]) => {
    const body = args.pop() as Body;
    const name = `s${savepoints++}`;
    const opened = queue(reserved, `savepoint ${name}`);
    try {
      const result = await body(tx);
      await opened;
      return result;
    } catch (error) {
      await reserved.unsafe(`rollback to savepoint ${name}`).catch(() => {});
      throw error;
    }
  };
  const tx = new Proxy(reserved, {
    get: (target, prop, receiver) => (prop === "unsafe" ? unsafe : prop === "savepoint" ? savepoint : Reflect.get(target, prop, receiver)),
    has: (target, prop) => prop === "savepoint" || Reflect.has(target, prop),
  }) as unknown as postgres.TransactionSql;
  return tx;
}
