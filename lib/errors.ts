// Errors that a domain function throws on purpose. Every door (server action, REST, SCIM,
// sign-in) maps them to its own protocol; anything else is a bug and is logged as such.

export type FieldErrors = Record<string, string[]>;

/** The errors of a field and of its parts (`breakGlassEmails.1`, `additionalIdentityProviders.0.domains`): what a form shows beside one input holding a list. */
export function fieldErrorsUnder(errors: FieldErrors, field: string): string[] {
  return Object.entries(errors)
    .filter(([k]) => k === field || k.startsWith(`${field}.`))
    .flatMap(([, v]) => v);
}

/**
 * A list's field errors renamed to the rows of a form that left some rows out when sending (blank
 * ones): `field.<i>.…` of the i-th row sent becomes `field.<shown[i]>.…`, the row's place in the form.
 */
export function fieldErrorsOfShownRows(errors: FieldErrors, field: string, shown: readonly number[]): FieldErrors {
  const prefix = `${field}.`;
  return Object.fromEntries(
    Object.entries(errors).map(([key, messages]) => {
      if (!key.startsWith(prefix)) return [key, messages];
      const [index, ...rest] = key.slice(prefix.length).split(".");
      const place = /^\d+$/.test(index!) ? shown[Number(index)] : undefined;
      return [place === undefined ? key : [field, place, ...rest].join("."), messages];
    }),
  );
}

export class DomainError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fieldErrors?: FieldErrors;
  constructor(code: string, status: number, message: string, fieldErrors?: FieldErrors) {
    super(message);
    this.code = code;
    this.status = status;
    this.fieldErrors = fieldErrors;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, fieldErrors: FieldErrors = {}) {
    super("validation_failed", 400, message, fieldErrors);
  }

  /** One field's error: the message, shown beside that field too. */
  static field(field: string, message: string): ValidationError {
    return new ValidationError(message, { [field]: [message] });
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = "Sign in to continue.") {
    super("unauthenticated", 401, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string, fieldErrors?: FieldErrors) {
    super("forbidden", 403, message, fieldErrors);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super("not_found", 404, message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, fieldErrors?: FieldErrors) {
    super("conflict", 409, message, fieldErrors);
  }
}

/** The row changed since the caller read it (stale If-Match / expected version). */
export class VersionConflictError extends DomainError {
  constructor(message = "This was changed by someone else; reload and try again.") {
    super("version_conflict", 412, message, { _form: [message] });
  }
}

export class RateLimitedError extends DomainError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super("rate_limited", 429, `Too many requests; retry in ${retryAfterSeconds} s.`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
