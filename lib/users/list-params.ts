import {
  createLoader,
  createSerializer,
  parseAsArrayOf,
  parseAsInteger,
  parseAsString,
  parseAsStringLiteral,
  type inferParserType,
} from "nuqs/server";
import { USER_SOURCES, USER_STATUSES } from "@/db/enums";

// The users table's state, all of it in the URL so a link reproduces the view. The same parsers
// serve the server page (createLoader), the client table (useQueryStates) and the CSV export link.

export const USER_SORTS = ["name", "email", "status", "source", "environments", "groups", "lastSignIn", "created"] as const;
export type UserSort = (typeof USER_SORTS)[number];
export const PAGE_SIZES = [25, 50, 100, 200] as const;

export const usersTableParsers = {
  q: parseAsString.withDefault(""),
  status: parseAsArrayOf(parseAsStringLiteral(USER_STATUSES)).withDefault([]),
  source: parseAsArrayOf(parseAsStringLiteral(USER_SOURCES)).withDefault([]),
  // Environments (keys) the users must also be able to enter.
  access: parseAsArrayOf(parseAsString).withDefault([]),
  // A group of the current environment the users must belong to.
  group: parseAsString.withDefault(""),
  // "env": users with access to the current environment; "all": every user of the account.
  scope: parseAsStringLiteral(["env", "all"] as const).withDefault("env"),
  sort: parseAsStringLiteral(USER_SORTS).withDefault("created"),
  dir: parseAsStringLiteral(["asc", "desc"] as const).withDefault("desc"),
  size: parseAsInteger.withDefault(50),
  after: parseAsString.withDefault(""),
  before: parseAsString.withDefault(""),
};

export type UsersTableState = inferParserType<typeof usersTableParsers>;
export const loadUsersTableState = createLoader(usersTableParsers);
export const serializeUsersTableState = createSerializer(usersTableParsers);
