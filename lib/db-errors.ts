import { ConflictError, isDomainError, ValidationError, type DomainError } from "@/lib/errors";

type PgError = { code?: string; constraint_name?: string; constraint?: string; cause?: unknown };

// Constraint → the field and message a person should see. Unique indexes are the last word on
// uniqueness (two concurrent requests both pass an application-level check).
const UNIQUE_MESSAGES: Record<string, { field: string; message: string }> = {
  users_email_lower_key: { field: "email", message: "A user with this email already exists." },
  groups_env_name_lower_key: { field: "name", message: "A group with this name already exists in this environment." },
  environments_key_key: { field: "key", message: "An environment with this key already exists." },
  environments_name_lower_key: { field: "name", message: "An environment with this name already exists." },
  console_members_email_lower_key: { field: "email", message: "A console member with this email already exists." },
  identity_providers_name_lower_key: { field: "name", message: "An identity provider with this name already exists." },
  identity_providers_entity_id_key: { field: "metadata", message: "An identity provider with this entity ID is already connected." },
  directories_env_name_lower_key: { field: "name", message: "A directory with this name already exists in this environment." },
  resources_env_feature_name_lower_key: { field: "name", message: "A resource with this name already exists for this feature." },
};

function pgError(error: unknown): PgError | undefined {
  let current: unknown = error;
  for (let i = 0; i < 4 && current && typeof current === "object"; i++) {
    const e = current as PgError;
    if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e;
    current = e.cause;
  }
  return undefined;
}

/** Whether a write met another change made meanwhile: a row it refers to is gone (23503) or a unique value was just taken (23505). */
export function changedMeanwhile(error: unknown): boolean {
  const code = pgError(error)?.code;
  return code === "23503" || code === "23505";
}

/** The unique index a write violated (23505), or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const e = pgError(error);
  return e?.code === "23505" ? (e.constraint_name ?? e.constraint) : undefined;
}

// Postgres's refusals of a value a client sent (its class 22, data exceptions), as the 400 they are:
// the doors refuse NUL and bad encodings up front; this is the net for a door or page that passes
// one through (a 500 for anything a client can send is a bug of ours, and says nothing useful).
const CLIENT_DATA_ERRORS: Record<string, string> = {
  "22021": "A value contains a character that cannot be stored (NUL, U+0000, or invalid UTF-8).",
  "22P05": "A value contains a character that cannot be stored (NUL, U+0000, or invalid UTF-8).",
  "22003": "A number is out of range.",
  "22P02": "A value has the wrong format.",
  "22007": "A date or time is not valid.",
  "22008": "A date or time is out of range.",
  "22001": "A value is too long.",
  // A time zone displacement Postgres cannot hold (a year of five digits printed in ISO form).
  "22009": "A date or time is out of range.",
};

/**
 * A change that met another one made at the same time (a deadlock, 40P01; a serialization failure,
 * 40001, should a transaction ever run above READ COMMITTED): nothing of it was saved, and it is the
 * caller's to try again (not a 500: nothing is wrong with the request).
 */
export class ConcurrentChangeError extends ConflictError {
  constructor() {
    super("Someone else changed the same records at the same time; nothing was saved: try again.");
  }
}

/** The 409 for a change that met a concurrent one (see ConcurrentChangeError), or undefined. */
function concurrentChange(error: unknown): ConcurrentChangeError | undefined {
  const e = pgError(error);
  if (e?.code !== "40001" && e?.code !== "40P01") return undefined;
  // The client is told to try again; a deadlock may still point at a lock-order bug of ours: logged.
  if (e.code === "40P01") console.error("[db] deadlock answered 409:", (error as Error).message);
  return new ConcurrentChangeError();
}

/** The 400 a client should see for a value Postgres refused (see CLIENT_DATA_ERRORS), or undefined: the rest of class 22 (a division by zero…) is a bug of ours, a 500. */
export function clientDataError(error: unknown): ValidationError | undefined {
  const code = pgError(error)?.code;
  return code && CLIENT_DATA_ERRORS[code] ? new ValidationError(CLIENT_DATA_ERRORS[code]) : undefined;
}

/** A thrown error as the one a client should see: a domain error as it is, a value Postgres refused as its 400, a change that met a concurrent one as its 409; undefined for ours (a 500). Every door's last catch. */
export function clientErrorOf(error: unknown): DomainError | undefined {
  return isDomainError(error) ? error : (clientDataError(error) ?? concurrentChange(error));
}

/** Turns a constraint violation into the domain error a client should see; rethrows anything else. */
export function translateDbError(error: unknown): never {
  // Already what a client should see (a savepoint's translation, passing through its enclosing transaction).
  if (isDomainError(error)) throw error;
  const e = pgError(error);
  if (e?.code === "23505") {
    const name = e.constraint_name ?? e.constraint ?? "";
    const known = UNIQUE_MESSAGES[name];
    if (known) throw new ConflictError(known.message, { [known.field]: [known.message] });
    throw new ConflictError("This would create a duplicate.");
  }
  if (e?.code === "23514") throw new ValidationError(`A value is not allowed (${e.constraint_name ?? "check"}).`);
  throw clientDataError(error) ?? concurrentChange(error) ?? error;
}
