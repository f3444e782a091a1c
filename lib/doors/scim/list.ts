import { and, type SQL } from "drizzle-orm";
import { ScimError } from "./errors";
import { FilterError, parseFilter } from "./filter";
import { filterToSql, type Resolver } from "./filter-sql";

export const MAX_COUNT = 1000;

/** The list's WHERE: the scope, plus the client's filter translated (400 invalidFilter when it cannot be). */
export function listWhere(scope: SQL, filter: string | null | undefined, resolver: Resolver): SQL {
  if (!filter) return scope;
  try {
    return and(scope, filterToSql(parseFilter(filter), resolver))!;
  } catch (e) {
    if (e instanceof FilterError) throw new ScimError(400, e.message, "invalidFilter");
    throw e;
  }
}

/** Past any list's end (an OFFSET Postgres takes): a larger startIndex answers an empty page as well. */
const MAX_START = 2 ** 31;

/** startIndex is 1-based (clamped to 1…2^31); count defaults to 100 and is clamped to 0…1000 (RFC 7644 §3.4.2.4). */
export function pageOf(query: { startIndex?: number; count?: number }): { startIndex: number; count: number } {
  return { startIndex: Math.min(MAX_START, Math.max(1, Math.floor(query.startIndex ?? 1))), count: Math.min(MAX_COUNT, Math.max(0, Math.floor(query.count ?? 100))) };
}
