import "server-only";
import { and, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { noteInserted } from "@/db/growth";
import { recordset, tableRows } from "@/db/records";
import type { EmailVerifier, UserSource, UserStatus } from "@/db/enums";
import { users, type User } from "@/db/schema";
import { revokeSessionRows } from "@/lib/end-user/session-rows";

// The one writer of `users`: every door (console, REST, SCIM, CSV import, SSO, end-user password
// and session bookkeeping) changes user rows through these helpers, and a test fails when another
// module writes the table (lib/one-writer.test.ts). Like lib/groups/membership-rows.ts they write
// no audit row and check no permission: their callers do, once per change, in the same
// transaction. Set-based where a door writes many users at once.

/** Who proved the email, and where (a directory's or IdP's proof counts in its environment only). */
export type EmailProof = { by: EmailVerifier; environmentId: string | null };

export type NewUserRow = {
  email: string;
  name: string;
  source: UserSource;
  status?: UserStatus;
  externalId?: string | null;
  /** Sorted environment keys ("dev,prod") the user will be granted in the same transaction. */
  environmentKeys?: string;
  emailProof?: EmailProof | null;
  signedIn?: boolean;
};

const bump = { version: sql`${users.version} + 1`, updatedAt: sql`now()` };

function proofColumns(proof: EmailProof | null | undefined) {
  return proof
    ? { emailVerifiedAt: sql`now()`, emailVerifiedBy: proof.by, emailVerifiedEnvironmentId: proof.environmentId }
    : {};
}

/** Inserts users in one statement (one text whatever their number: db/records.ts); returns the rows in the order the database gives them. */
export async function insertUserRows(tx: Executor, rows: readonly NewUserRow[]): Promise<User[]> {
  if (rows.length === 0) return [];
  const records = rows.map((r) => ({
    email: r.email,
    name: r.name,
    source: r.source,
    status: r.status ?? "active",
    external_id: r.externalId ?? null,
    environment_keys: r.environmentKeys ?? "",
    proof_by: r.emailProof?.by ?? null,
    proof_environment_id: r.emailProof?.environmentId ?? null,
    signed_in: r.signedIn ?? false,
  }));
  const inserted = await tx.execute(sql`
    insert into ${users} (email, name, source, status, external_id, environment_keys, email_verified_at, email_verified_by, email_verified_environment_id, last_sign_in_at)
    select v.email, v.name, v.source, v.status, v.external_id, v.environment_keys,
      case when v.proof_by is not null then now() end, v.proof_by, v.proof_environment_id,
      case when v.signed_in then now() end
    from ${recordset(records, "email text, name text, source text, status text, external_id text, environment_keys text, proof_by text, proof_environment_id uuid, signed_in boolean")}
    returning *`);
  // A table that doubles is analyzed, so the plans of the lookups by id keep up (db/growth.ts).
  noteInserted("users", rows.length);
  return tableRows(users, inserted as unknown as Record<string, unknown>[]);
}

/** Renames users in one statement; returns the renamed rows. */
export async function renameUserRows(tx: Executor, renames: readonly { id: string; name: string }[]): Promise<User[]> {
  if (renames.length === 0) return [];
  const values = sql`jsonb_to_recordset(${JSON.stringify(renames)}::jsonb) as v(id uuid, name text)`;
  return tx
    .update(users)
    .set({ name: sql`v.name`, ...bump })
    .from(sql`${values}`)
    .where(sql`${users.id} = v.id`)
    .returning() as Promise<User[]>;
}

/**
 * Changes a user's name or email (the console's and the REST API's profile edit). A new email is
 * unproven: IdP sign-ins and directories no longer link to the user by it until it is proven again.
 */
export async function updateUserProfileRow(tx: Executor, id: string, changes: { name?: string; email?: string }): Promise<User> {
  const [row] = await tx
    .update(users)
    .set({
      ...changes,
      ...(changes.email !== undefined ? { emailVerifiedAt: null, emailVerifiedBy: null, emailVerifiedEnvironmentId: null } : {}),
      ...bump,
    })
    .where(eq(users.id, id))
    .returning();
  return row!;
}

/**
 * Sets users' status. Suspending ends every session and token at once; reactivating clears a
 * password lockout. `from` limits the change to users currently in one of those statuses.
 * Returns the ids changed.
 */
export async function setUserStatusRows(
  tx: Executor,
  ids: readonly string[],
  status: UserStatus,
  from?: readonly UserStatus[],
): Promise<string[]> {
  if (ids.length === 0) return [];
  const ending = status === "suspended" || status === "deprovisioned";
  const changed = await tx
    .update(users)
    .set({
      status,
      ...bump,
      ...(ending ? { revokedBefore: sql`now()` } : { failedSignIns: 0, lockedUntil: null }),
    })
    .where(and(inArray(users.id, [...ids]), from ? inArray(users.status, [...from]) : undefined))
    .returning({ id: users.id });
  const changedIds = changed.map((r) => r.id);
  if (ending) await revokeSessionRows(tx, changedIds);
  return changedIds;
}

/**
 * Records that the users' email was proven. A link's proof (account-wide) replaces a directory's
 * or an IdP's (one environment); otherwise an existing proof stays.
 */
export async function markEmailVerifiedRows(tx: Executor, ids: readonly string[], proof: EmailProof): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .update(users)
    .set(proofColumns(proof))
    .where(
      and(
        inArray(users.id, [...ids]),
        proof.by === "link" ? or(isNull(users.emailVerifiedAt), sql`${users.emailVerifiedBy} <> 'link'`) : isNull(users.emailVerifiedAt),
      ),
    );
}

/** Whether the user's email counts as proven for linking an identity of `environmentId` to them. */
export function emailVerifiedFor(user: Pick<User, "emailVerifiedAt" | "emailVerifiedBy" | "emailVerifiedEnvironmentId">, environmentId: string): boolean {
  if (!user.emailVerifiedAt) return false;
  return user.emailVerifiedBy === "link" || user.emailVerifiedEnvironmentId === environmentId;
}

/**
 * A password set through a mailed link: an invitation becomes active, any lockout ends, and (when
 * the link really went to the address, `proveEmail`) the email is proven. `endOtherSessions` (a reset) signs out whoever knew the old password, a
 * microsecond before now() so a session opened in the same transaction survives.
 */
export async function setPasswordRow(tx: Executor, id: string, passwordHash: string, options: { endOtherSessions: boolean; proveEmail: boolean; signedIn?: boolean }): Promise<User> {
  const [row] = await tx
    .update(users)
    .set({
      passwordHash,
      passwordChangedAt: sql`now()`,
      failedSignIns: 0,
      lockedUntil: null,
      status: sql`case when ${users.status} = 'invited' then 'active' else ${users.status} end`,
      ...(options.endOtherSessions ? { revokedBefore: sql`now() - interval '1 microsecond'` } : {}),
      ...(options.proveEmail ? proofColumns({ by: "link", environmentId: null }) : {}),
      // A link's password signs the user in; one changed from a session does not.
      ...(options.signedIn === false ? {} : { lastSignInAt: sql`now()` }),
      ...bump,
    })
    .where(eq(users.id, id))
    .returning();
  if (options.endOtherSessions) await revokeSessionRows(tx, [id]);
  return row!;
}

/**
 * Counts a failed password sign-in. From the `threshold`-th failure in a row the account locks, for
 * `minutes` and then twice as long at each further failure, never longer than `maxMinutes`: a
 * lockout always ends. Returns the count.
 */
/** One more failure, and from the threshold on a lockout that doubles with each (capped). */
const countFailure = (threshold: number, minutes: number, maxMinutes: number) => ({
  failedSignIns: sql`${users.failedSignIns} + 1`,
  lockedUntil: sql`case when ${users.failedSignIns} + 1 >= ${threshold}
    then now() + make_interval(mins => least(${minutes} * power(2, least(${users.failedSignIns} + 1 - ${threshold}, 20)), ${maxMinutes})::int)
    else ${users.lockedUntil} end`,
});

export async function recordFailedSignInRow(tx: Executor, id: string, threshold: number, minutes: number, maxMinutes: number): Promise<number> {
  const [row] = await tx
    .update(users)
    .set(countFailure(threshold, minutes, maxMinutes))
    .where(eq(users.id, id))
    .returning({ failed: users.failedSignIns });
  return row!.failed;
}

/**
 * Counts a password attempt on the account before it is judged, unless the account is locked:
 * the failure count after it (arming the lockout as recordFailedSignInRow does), or null when
 * locked. One statement, so parallel attempts queue on the row and none passes a lockout armed by
 * another. A success clears the count (clearLockoutRow).
 */
export async function reserveSignInAttemptRow(tx: Executor, id: string, threshold: number, minutes: number, maxMinutes: number): Promise<number | null> {
  const [row] = await tx
    .update(users)
    .set(countFailure(threshold, minutes, maxMinutes))
    .where(and(eq(users.id, id), sql`(${users.lockedUntil} is null or ${users.lockedUntil} <= now())`))
    .returning({ failed: users.failedSignIns });
  return row ? row.failed : null;
}

/** Ends a lockout (an unlock link, or a successful sign-in, which also stamps the time). */
export async function clearLockoutRow(tx: Executor, id: string, options: { signedIn: boolean }): Promise<User> {
  const [row] = await tx
    .update(users)
    .set({ failedSignIns: 0, lockedUntil: null, ...(options.signedIn ? { lastSignInAt: sql`now()` } : {}) })
    .where(eq(users.id, id))
    .returning();
  return row!;
}

/**
 * A sign-in's changes to the user: the time always; for an SSO sign-in the IdP's name and the
 * activation of an invited user, when the caller decided they may.
 */
export async function signedInRow(tx: Executor, id: string, changes: { name?: string; activate?: boolean } = {}): Promise<User> {
  const set: Record<string, unknown> = { lastSignInAt: sql`now()` };
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.activate) set.status = "active";
  const [row] = await tx
    .update(users)
    .set(changes.name !== undefined || changes.activate ? { ...set, ...bump } : set)
    .where(eq(users.id, id))
    .returning();
  return row!;
}

/** "Sign out everywhere": tokens and sessions issued before now stop working. */
export async function endSessionsRow(tx: Executor, id: string): Promise<void> {
  await tx.update(users).set({ revokedBefore: sql`now()` }).where(eq(users.id, id));
  await revokeSessionRows(tx, [id]);
}

/** Deletes users; access, memberships, grants and sessions go with them (foreign keys cascade). */
export async function deleteUserRows(tx: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.delete(users).where(inArray(users.id, [...ids]));
}
