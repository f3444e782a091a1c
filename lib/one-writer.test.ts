import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// One writer per table (../shared/DESIGN.md): only lib/users inserts, updates or deletes `users`;
// only lib/groups writes `groups` and `group_members`. Every door calls them, so a rule written
// there (scope, audit shape, email proof) cannot be skipped by one door. Benchmark fills
// (scripts/bench/), migrations and test code may write SQL directly.

const WRITERS: Record<string, string> = {
  users: "lib/users/",
  groups: "lib/groups/",
  group_members: "lib/groups/",
  membership_exclusions: "lib/groups/",
  api_idempotency_keys: "lib/api-tokens/",
  second_factors: "lib/second-factor/",
  recovery_codes: "lib/second-factor/",
  console_settings: "lib/second-factor/",
  webauthn_challenges: "lib/second-factor/",
  console_sso: "lib/console-sso/",
  console_sso_mappings: "lib/console-sso/",
  environment_branding: "lib/branding/",
  environment_identity_providers: "lib/sso/environment-auth.ts",
  user_identities: "lib/sso/identities.ts",
  sessions: "lib/end-user/",
};
const DRIZZLE_NAMES: Record<string, string> = {
  users: "users",
  groups: "groups",
  groupMembers: "group_members",
  membershipExclusions: "membership_exclusions",
  apiIdempotencyKeys: "api_idempotency_keys",
  secondFactors: "second_factors",
  recoveryCodes: "recovery_codes",
  consoleSettings: "console_settings",
  webauthnChallenges: "webauthn_challenges",
  consoleSso: "console_sso",
  consoleSsoMappings: "console_sso_mappings",
  environmentBranding: "environment_branding",
  environmentIdentityProviders: "environment_identity_providers",
  userIdentities: "user_identities",
  sessions: "sessions",
};

const ROOTS = ["app", "components", "lib", "db", "scripts", "proxy.ts", "instrumentation.ts"];
const EXEMPT = [/\.(test|spec|fault)\.tsx?$/, /^scripts\/bench\//, /^db\/migrations\//, /^test-support\//, /^db\/testing\//];

/** The writes of the registered tables in one file's source: [table, line] pairs. */
export function tableWrites(source: string): { table: string; line: number }[] {
  const hits: { table: string; line: number }[] = [];
  const lineOf = (index: number) => source.slice(0, index).split("\n").length;
  for (const m of source.matchAll(/\b(?:insert|update|delete)\(\s*(users|groups|groupMembers|membershipExclusions|apiIdempotencyKeys|secondFactors|recoveryCodes|consoleSettings|webauthnChallenges|consoleSso|consoleSsoMappings|environmentBranding|environmentIdentityProviders|userIdentities|sessions)\s*\)/g)) {
    hits.push({ table: DRIZZLE_NAMES[m[1]!]!, line: lineOf(m.index!) });
  }
  for (const m of source.matchAll(/\b(?:insert\s+into|update|delete\s+from|truncate(?:\s+table)?)\s+"?(users|groups|group_members|membership_exclusions|api_idempotency_keys|second_factors|recovery_codes|console_settings|webauthn_challenges|console_sso|console_sso_mappings|environment_branding|environment_identity_providers|user_identities|sessions)"?(?=[\s(;`"]|$)/gi)) {
    hits.push({ table: m[1]!.toLowerCase(), line: lineOf(m.index!) });
  }
  return hits;
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(p)) if (name !== "node_modules" && !name.startsWith(".")) walk(path.join(p, name));
    } else if (/\.(ts|tsx|mjs|js)$/.test(p)) out.push(p.split(path.sep).join("/"));
  };
  for (const root of ROOTS) if (fs.existsSync(root)) walk(root);
  return out;
}

describe("one writer per table", () => {
  it("finds writes in every spelling (the check can fail)", () => {
    const sample = [
      "await tx.insert(users).values(x);",
      "tx.update( groups ).set({})",
      "await db.delete(groupMembers).where(w)",
      "sql`UPDATE users u SET name = v.name`",
      'sql`insert into "group_members" (group_id) values (1)`',
      "sql`delete from groups where id = ${id}`",
      "select * from users where id = 1; update sso_traces set x = 1",
      "await tx.insert(userIdentities).values(v)",
      "await tx.update(sessions).set({ revokedAt: sql`now()` })",
    ].join("\n");
    expect(tableWrites(sample).map((h) => `${h.table}:${h.line}`)).toEqual([
      "users:1",
      "groups:2",
      "group_members:3",
      "user_identities:8",
      "sessions:9",
      "users:4",
      "group_members:5",
      "groups:6",
    ]);
  });

  it("only lib/users writes users; only lib/groups writes groups, group_members and membership_exclusions; only lib/second-factor writes second factors; only lib/sso/identities.ts writes user_identities; only lib/end-user writes sessions", () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    for (const file of files) {
      if (EXEMPT.some((re) => re.test(file))) continue;
      for (const hit of tableWrites(fs.readFileSync(file, "utf8"))) {
        if (!file.startsWith(WRITERS[hit.table]!)) offenders.push(`${file}:${hit.line} writes ${hit.table} (its one writer is ${WRITERS[hit.table]})`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
