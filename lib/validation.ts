import { z } from "zod";
import { ValidationError, type FieldErrors } from "@/lib/errors";

/** Parses `input` or throws a ValidationError carrying every issue, keyed by field path. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fieldErrors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const key = issue.path.length ? issue.path.map(String).join(".") : "_form";
    (fieldErrors[key] ??= []).push(issue.message);
  }
  const count = result.error.issues.length;
  throw new ValidationError(count === 1 ? result.error.issues[0]!.message : `${count} fields need attention.`, fieldErrors);
}

// Lowercased (as Postgres prints ids): the same id in two cases is one id when lists are deduplicated.
export const uuidSchema = z.uuid("Not a valid id.").toLowerCase();

export const emailSchema = z
  .string({ error: "Enter an email address." })
  .trim()
  .min(1, "Enter an email address.")
  .max(320, "An email address has at most 320 characters.")
  .pipe(z.email("Enter a valid email address."));

export const personNameSchema = z
  .string({ error: "Enter a name." })
  .trim()
  .min(1, "Enter a name.")
  .max(200, "A name has at most 200 characters.");
