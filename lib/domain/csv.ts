import { parse } from "csv-parse/sync";
import { stringify, type Options } from "csv-stringify/sync";

// Every CSV the console writes (exports, job reports, access review reports) goes through
// csvLines, so none can forget this: a spreadsheet runs a cell that begins with = + - @ (or a tab
// or carriage return, or the full-width = + - @ some spreadsheets fold to them) as a formula, and
// such cells carry text from outside (a sign-in email, an IdP's issuer, a SCIM display name). Such
// a cell is neutralised the OWASP way: prefixed with ' (csv-stringify's escape_formulas) and
// quoted. Numbers are ours, not text: a negative number stays a number.

/** The first characters that make a spreadsheet read a cell as a formula. */
export const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

const OPTIONS: Options = {
  escape_formulas: true,
  cast: { string: (value) => (FORMULA_START.test(value) ? { value, quoted: true } : value) },
};

/** Rows (the header is a row too) as CSV text, formula cells neutralised. */
export function csvLines(rows: readonly (readonly unknown[])[]): string {
  return stringify(rows as unknown[][], OPTIONS);
}

/**
 * A CSV kept from before every writer neutralised formulas (an access review's report signed off
 * then): the same rows through csvLines when a cell would run as a formula, else null (a report
 * written by csvLines needs nothing). Its bytes then differ from what was signed.
 */
export function neutralisedStoredCsv(csv: string): string | null {
  let rows: string[][];
  try {
    rows = parse(csv, { relax_column_count: true }) as string[][];
  } catch {
    return null; // not ours to repair: sent as it was signed
  }
  return rows.some((row) => row.some((cell) => FORMULA_START.test(cell))) ? csvLines(rows) : null;
}
