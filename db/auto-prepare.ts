import type postgres from "postgres";

// Automatic preparation of drizzle's statements, as Npgsql's "Max Auto Prepare" and pgjdbc's
// prepareThreshold do it. Drizzle sends every statement unprepared: Postgres parses and plans it
// each time, and postgres.js first asks the server for the parameters' types (one more round
// trip). A prepared statement is parsed once per connection and sent in one round trip; on the
// SCIM create path this took Postgres's CPU per create down by a quarter (see the README).
//
// Prepared only once a text has been seen MIN_USES times (a statement built once, say an IN list
// of an unusual length, is not kept), and at most MAX_PREPARED texts per hour. postgres.js keeps a
// prepared statement for the life of its connection (30 to 60 minutes, then the connection is
// replaced) with no eviction, and Postgres holds about 35 to 45 kB for each of ours (measured with
// pg_backend_memory_contexts); a connection lives through at most two of these hours, so it holds at
// most 2 × MAX_PREPARED statements (about 18 MB) whatever texts arrive, and a text that becomes hot
// later is prepared from the next hour on.

// A prepared statement's plan is cached: after five runs Postgres may keep a generic plan, made
// without the parameters' values, when it costs no more than the custom ones did (the statements
// of our triggers, run at every write, are planned once instead of at every run). A pattern match
// is the one kind of ours whose best plan depends on the value: a trigram index serves '%ada%' and
// not '%a%'. Those texts are never prepared, so each run is planned for its own pattern.
const PLANNED_PER_VALUE = /\b(i?like|similar\s+to)\b/i;

export const MIN_USES = 2;
export const MAX_PREPARED = 200;
export const EPOCH_MS = 60 * 60 * 1000;
const MAX_COUNTED = 10_000;

/** Whether to prepare a statement text: true from its MIN_USES-th use, while fewer than `max` texts are prepared this epoch; never for a pattern match. */
export function preparePolicy(max = MAX_PREPARED, minUses = MIN_USES, epochMs = EPOCH_MS, now: () => number = Date.now): (text: string) => boolean {
  const prepared = new Set<string>();
  const uses = new Map<string, number>();
  let epochStart = now();
  return (text) => {
    if (now() - epochStart >= epochMs) {
      // A new epoch: connections opened from now on start empty; the hot texts are prepared again.
      epochStart = now();
      prepared.clear();
      uses.clear();
    }
    if (prepared.has(text)) return true;
    // The pattern test reads the whole text: only texts not prepared yet pay for it.
    if (prepared.size >= max || PLANNED_PER_VALUE.test(text)) return false;
    const n = (uses.get(text) ?? 0) + 1;
    if (n >= minUses) {
      uses.delete(text);
      prepared.add(text);
      return true;
    }
    // Counting one-off texts is bounded too: the counts start again rather than grow.
    if (uses.size >= MAX_COUNTED) uses.clear();
    uses.set(text, n);
    return false;
  };
}

type Client = postgres.Sql | postgres.TransactionSql;
type UnsafeOptions = { prepare?: boolean };

/**
 * The client as drizzle sees it: `unsafe` (every drizzle statement goes through it) prepares what
 * `shouldPrepare` says; transactions and savepoints hand their own client through the same filter.
 */
export function autoPreparing<T extends Client>(client: T, shouldPrepare: (text: string) => boolean): T {
  // Made once per client, not at every statement.
  const unsafe = (text: string, params?: postgres.ParameterOrJSON<never>[], options?: UnsafeOptions) =>
    client.unsafe(text, params, { ...options, prepare: options?.prepare === true || shouldPrepare(text) });
  const opening = (open: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
    const body = args.pop() as (tx: postgres.TransactionSql) => unknown;
    return open.call(client, ...args, (tx: postgres.TransactionSql) => body(autoPreparing(tx, shouldPrepare)));
  };
  const begin = "begin" in client ? opening(client.begin as (...args: unknown[]) => unknown) : undefined;
  const savepoint = "savepoint" in client ? opening(client.savepoint as (...args: unknown[]) => unknown) : undefined;
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe") return unsafe;
      if (prop === "begin" && begin) return begin;
      if (prop === "savepoint" && savepoint) return savepoint;
      return Reflect.get(target, prop, receiver);
    },
  });
}
