import { z } from "zod";
import { ValidationError, type FieldErrors } from "@/lib/errors";

/**
 * A date, or a date and time, as a client writes one (ISO 8601: 2026-12-31, 2026-12-31T17:00,
 * …T17:00:00Z, …+05:30), or a Date: a real calendar day (not 2027-02-30, which Date rolls into
 * March) from year 1 to 9999 (what Postgres holds as written; a five-digit year reached it as a 500).
 * A time without a zone is UTC.
 */
export function dateTimeSchema(message: string) {
  return z.preprocess(
    (v) => {
      if (v instanceof Date) return v;
      if (typeof v !== "string") return undefined;
      const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(v.trim());
      if (!m) return undefined;
      const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
      const calendar = new Date(Date.UTC(2000, month - 1, day));
      if (year < 1 || month < 1 || month > 12 || calendar.getUTCMonth() !== month - 1 || (month === 2 && day === 29 && new Date(Date.UTC(year, 1, 29)).getUTCDate() !== 29)) return undefined;
      const text = v.trim().replace(" ", "T");
      const date = new Date(m[4] !== undefined && !m[7] ? `${text}Z` : text);
      return Number.isNaN(date.getTime()) ? undefined : date;
    },
    z.date({ error: message }).refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, message),
  );
}

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
/** A whole number as a form or JSON sends it: a number, or a string of digits (not true, which Number() reads as 1, nor [3] or "0x10"). For z.preprocess. */
export const fromDigits = (v: unknown): unknown => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v);

export const uuidSchema = z.uuid("Not a valid id.").toLowerCase();

export const emailSchema = z
  .string({ error: "Enter an email address." })
  .trim()
  .min(1, "Enter an email address.")
  // RFC 5321's limits, which mail servers hold to: 254 in all, 64 before the @.
  .max(254, "An email address has at most 254 characters.")
  .refine((e) => e.lastIndexOf("@") <= 64, "An email address has at most 64 characters before the @.")
  .pipe(z.email("Enter a valid email address."));

export const personNameSchema = z
  .string({ error: "Enter a name." })
  .trim()
  .min(1, "Enter a name.")
  .max(200, "A name has at most 200 characters.");

/**
 * One text field of a submitted form, as a server action receives it from any client: not only the
 * page's form. A body that is no form, a field sent twice or a file where text belongs is refused
 * with the reason (a field error), never read as "[object File]" or thrown as a 500. A missing
 * field is "" (the schema that follows says whether it may be empty).
 */
export function formText(form: unknown, name: string): string {
  if (!(form instanceof FormData)) throw new ValidationError("This form could not be read: reload the page and send it again.");
  const values = form.getAll(name);
  if (values.length > 1) throw ValidationError.field(name, "This field was sent more than once.");
  const [value = ""] = values;
  if (typeof value !== "string") throw ValidationError.field(name, "This field takes text, not a file.");
  return value;
}
