import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import postgres from "postgres";
import { clearWriteLog, installWriteLog, readWriteLog } from "../test-support/write-log";
import { baseUrl, signInAsOwner } from "./helpers";

// "GET never changes state", for pages: every page file of the app (found on disk, so a new one
// cannot be missed) is opened as a signed-in owner with real ids, while a row trigger on every
// table logs any write (test-support/write-log.ts, shared with lib/get-is-safe.test.ts). It runs
// after every other spec; what those set going in the app process (token issuance batches, jobs,
// the audit sealer and its webhook deliveries) is waited for by condition before the watch starts.

function pageFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? pageFiles(path.join(dir, e.name)) : e.name === "page.tsx" ? [path.join(dir, e.name)] : []));
}

test("no page's GET writes anything", async ({ page }) => {
  test.setTimeout(300_000);
  const sql = postgres(process.env.E2E_DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    await signInAsOwner(page); // signing in writes (session, audit): before the watch starts
    // A directory in DEV for its page (the other specs make theirs elsewhere).
    await page.goto(`${baseUrl()}/console/dev/directories`);
    await page.getByLabel("Directory name").fill(`Crawl ${Date.now().toString(36)}`);
    await page.getByRole("button", { name: "Create directory" }).click();
    await expect(page.getByTestId("scim-token")).toBeVisible();
    // An IdP for its page: the SSO specs connect SimpleSAMLphp; alone, this spec connects a test IdP.
    const [idp] = await sql`select 1 from identity_providers limit 1`;
    if (!idp) {
      const { generateKeyPair, idpMetadata } = await import("../lib/sso/testing/test-idp");
      await page.goto(`${baseUrl()}/console/dev/identity-providers`);
      await page.getByLabel("Name").fill("Crawl IdP");
      await page.getByLabel("…or metadata XML (paste, or choose a file)").fill(idpMetadata("https://crawl.example/idp", "https://crawl.example/sso", [generateKeyPair("crawl").certBase64]));
      await page.getByRole("button", { name: "Add identity provider" }).click();
      await expect.poll(async () => (await sql`select 1 from identity_providers limit 1`).length).toBe(1);
    }
    const [ids] = await sql<Record<string, string | null>[]>`select
      (select u.id::text from users u join environment_access a on a.user_id = u.id join environments e on e.id = a.environment_id where e.key = 'dev' order by u.created_at limit 1) as "userId",
      (select g.id::text from groups g join environments e on e.id = g.environment_id where e.key = 'dev' and g.source <> 'system' order by g.name limit 1) as "groupId",
      (select r.id::text from resources r join environments e on e.id = r.environment_id where e.key = 'dev' order by r.created_at limit 1) as "resourceId",
      (select r.id::text from resources r join environments e on e.id = r.environment_id where e.key = 'dev' and r.feature = 'agent_studio' order by r.created_at limit 1) as "id",
      (select d.id::text from directories d join environments e on e.id = d.environment_id where e.key = 'dev' order by d.created_at limit 1) as "directoryId",
      (select i.id::text from identity_providers i order by i.created_at limit 1) as "idpId",
      (select v.id::text from access_reviews v join environments e on e.id = v.environment_id where e.key = 'dev' order by v.created_at limit 1) as "reviewId"`;
    // Ids the other specs did not leave in DEV: a campaign is made here before the watch starts, due
    // in 30 days (no reminder falls due during the walk).
    if (!ids!.reviewId) {
      const [dev] = await sql<{ id: string }[]>`select id from environments where key = 'dev'`;
      const [owner] = await sql<{ id: string }[]>`select id from console_members where role = 'owner' order by created_at limit 1`;
      const [review] = await sql<{ id: string }[]>`insert into access_reviews (environment_id, name, scope, scope_ids, due_at, created_by) values (${dev!.id}, 'Crawl', 'groups', ${[ids!.groupId!]}, now() + interval '30 days', 'e2e') returning id::text`;
      await sql`insert into access_review_reviewers (review_id, member_id) values (${review!.id}, ${owner!.id})`;
      ids!.reviewId = review!.id;
    }
    const urls = pageFiles("app").map((file) => {
      const route = path.dirname(path.relative("app", file)).replace(/^\.$/, "");
      const url = `/${route}`.replace(/\[([a-zA-Z]+)\]/g, (_, name: string) => (name === "env" ? "dev" : name === "token" ? "not-a-real-token" : name === "uid" ? "not-a-real-interaction" : (ids![name] ?? `[missing ${name}]`)));
      return url === "/" ? url : url.replace(/\/$/, "");
    });
    expect(urls.filter((u) => u.includes("[missing"))).toEqual([]);
    expect(urls.length).toBeGreaterThan(20);

    await settleBackgroundWrites(page, sql);
    const exec = (statement: string) => sql.unsafe(statement);
    await installWriteLog(exec);

    // The check can fail: an update that changes nothing is not logged, a real one is.
    await sql`update groups set description = description where id = ${ids!.groupId!}`;
    await sql`update groups set description = 'watched' where id = ${ids!.groupId!}`;
    expect(await readWriteLog(exec)).toEqual(["groups UPDATE"]);
    await clearWriteLog(exec);

    const statuses: string[] = [];
    for (const url of urls) {
      const response = await page.goto(`${baseUrl()}${url}`);
      statuses.push(`${url} ${response?.status()}`);
      expect([url, (response?.status() ?? 0) < 500]).toEqual([url, true]);
    }
    // A sealer pass after the walk, so a late write would show too: a marker event, once sealed,
    // proves one ran (it seals in order, so everything written before the marker is sealed as well).
    const [marker] = await sql<{ id: string }[]>`insert into audit_events (actor_type, actor_label, action, target_type) values ('system', 'e2e', 'e2e.read_only_marker', 'e2e') returning id::text`;
    await expect.poll(async () => (await sql`select seq from audit_events where id = ${marker!.id}`)[0]!.seq, { timeout: 60_000, message: "the audit sealer's next pass" }).not.toBeNull();
    expect((await readWriteLog(exec)).filter((e) => e !== "audit_events INSERT e2e.read_only_marker success")).toEqual([]);
    expect(statuses.filter((s) => s.endsWith(" 200")).length).toBeGreaterThan(15);
  } finally {
    await sql.end();
  }
});

/**
 * Waits, by condition, until nothing an earlier spec set going in the app process can still write:
 * - token issuance is audited in batches that the app flushes 5 s after the first pending issuance,
 *   all pending batches in one flush. A probe token minted now is written in the same flush as (or
 *   after) every issuance noted before it, so once its jti is in a token.issue_batch event, none is
 *   pending. The probe has its own user (a batch lists its first 20 token ids only).
 * - background jobs: none queued or running;
 * - the audit sealer: every event sealed (sealing enqueues webhook deliveries);
 * - the webhook worker: no delivery due while the walk may run.
 * (The SCIM request log, flushed 50 ms after a request, writes only what the write log skips.)
 */
async function settleBackgroundWrites(page: Page, sql: postgres.Sql) {
  const until = async (what: string, count: () => Promise<number>, expected = 0) => expect.poll(count, { timeout: 120_000, message: what }).toBe(expected);
  const secret = crypto.randomBytes(32).toString("base64url");
  await sql.begin(async (tx) => {
    const [dev] = await tx<{ id: string }[]>`select id from environments where key = 'dev'`;
    const [user] = await tx<{ id: string }[]>`insert into users (email, name) values (${`read-only-probe-${Date.now().toString(36)}@example.com`}, 'Read-only probe') returning id`;
    await tx`insert into environment_access (user_id, environment_id) values (${user!.id}, ${dev!.id})`;
    await tx`insert into sessions (token_hash, user_id, environment_id, method, expires_at)
      values (${crypto.createHash("sha256").update(secret).digest("hex")}, ${user!.id}, ${dev!.id}, 'password', now() + interval '1 hour')`;
  });
  await page.context().addCookies([{ name: "iam_env_dev", value: secret, url: baseUrl() }]);
  const minted = await page.request.post(`${baseUrl()}/e/dev/token`, { headers: { origin: baseUrl() }, data: { audience: "agent_studio" } });
  expect(minted.status()).toBe(200);
  const { access_token: token } = (await minted.json()) as { access_token: string };
  const { jti } = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { jti: string };
  await until("the probe token's issuance batch", async () => (await sql<{ n: number }[]>`select count(*)::int as n from audit_events where action = 'token.issue_batch' and (after -> 'jtis') ? ${jti}`)[0]!.n, 1);
  await until("queued and running jobs", async () => (await sql<{ n: number }[]>`select count(*)::int as n from jobs where status in ('queued', 'running')`)[0]!.n);
  await until("unsealed audit events", async () => (await sql<{ n: number }[]>`select count(*)::int as n from audit_events where seq is null`)[0]!.n);
  await until("webhook deliveries due within the walk", async () => (await sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where status = 'pending' and next_attempt_at < now() + interval '10 minutes'`)[0]!.n);
  // Jackson's TTL sweeper (every 5 minutes) deletes the records of SAML flows once they expire (seen
  // once in CI: "jackson_store DELETE", "jackson_ttl DELETE"): the records that would expire during
  // the walk, of flows the other specs finished, are removed before it starts.
  const horizon = Date.now() + 15 * 60_000;
  await sql`delete from jackson_store where key in (select key from jackson_ttl where "expiresAt" <= ${horizon})`;
  await sql`delete from jackson_ttl where "expiresAt" <= ${horizon}`;
}
