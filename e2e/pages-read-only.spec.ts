import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { clearWriteLog, installWriteLog, readWriteLog } from "../test-support/write-log";
import { baseUrl, signInAsOwner } from "./helpers";

// "GET never changes state", for pages: every page file of the app (found on disk, so a new one
// cannot be missed) is opened as a signed-in owner with real ids, while a row trigger on every
// table logs any write (test-support/write-log.ts, shared with lib/get-is-safe.test.ts). It runs
// after every other spec, when nothing else is writing.

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
    // Ids the other specs did not leave in DEV: a campaign is made here before the watch starts.
    if (!ids!.reviewId) {
      const [dev] = await sql<{ id: string }[]>`select id from environments where key = 'dev'`;
      const [owner] = await sql<{ id: string }[]>`select id from console_members where role = 'owner' order by created_at limit 1`;
      const [review] = await sql<{ id: string }[]>`insert into access_reviews (environment_id, name, scope, scope_ids, due_at, created_by) values (${dev!.id}, 'Crawl', 'groups', ${[ids!.groupId!]}, now() + interval '1 day', 'e2e') returning id::text`;
      await sql`insert into access_review_reviewers (review_id, member_id) values (${review!.id}, ${owner!.id})`;
      ids!.reviewId = review!.id;
    }
    const urls = pageFiles("app").map((file) => {
      const route = path.dirname(path.relative("app", file)).replace(/^\.$/, "");
      const url = `/${route}`.replace(/\[([a-zA-Z]+)\]/g, (_, name: string) => (name === "env" ? "dev" : name === "token" ? "not-a-real-token" : (ids![name] ?? `[missing ${name}]`)));
      return url === "/" ? url : url.replace(/\/$/, "");
    });
    expect(urls.filter((u) => u.includes("[missing"))).toEqual([]);
    expect(urls.length).toBeGreaterThan(20);

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
    // Wait out the sealer's next pass, so a late write would show too.
    await page.waitForTimeout(2500);
    expect(await readWriteLog(exec)).toEqual([]);
    expect(statuses.filter((s) => s.endsWith(" 200")).length).toBeGreaterThan(15);
  } finally {
    await sql.end();
  }
});
