import { ConflictError, ValidationError } from "@/lib/errors";

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

/** The unique index a write violated (23505), or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const e = pgError(error);
  return e?.code === "23505" ? (e.constraint_name ?? e.constraint) : undefined;
}

/** Turns a constraint violation into the domain error a client should see; rethrows anything else. */
export function translateDbError(error: unknown): never {
  const e = pgError(error);
  if (e?.code === "23505") {
    const name = e.constraint_name ?? e.constraint ?? "";
    const known = UNIQUE_MESSAGES[name];
    if (known) throw new ConflictError(known.message, { [known.field]: [known.message] });
    throw new ConflictError("This would create a duplicate.");
  }
  if (e?.code === "23514") throw new ValidationError(`A value is not allowed (${e.constraint_name ?? "check"}).`);
  if (e?.code === "22P02") throw new ValidationError("A value has the wrong format.");
  throw error;
}
