import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { enqueueJob, saveItems } from "@/lib/jobs";
import { GET as auditExport } from "@/app/console/[env]/audit/export/route";
import { GET as jobReport } from "@/app/console/[env]/jobs/[jobId]/report/route";
import { POST as upload } from "@/app/console/[env]/users/import/upload/route";

// The console's route handlers all start with consoleRouteContext: session, environment, permission.
// Here the refusals of the three that used to read the session by hand.

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));

let env: { dev: Environment; test: Environment; prod: Environment };
let prodJob: string;
let accountWideJob: string;
beforeAll(async () => {
  env = await createEnvironments();
  const job = async (environmentId: string | null, line: string) => {
    const row = await enqueueJob(getDb(), systemCtx, { kind: "bulk_users", environmentId, params: {} });
    await saveItems(getDb(), row.id, [{ seq: 1, key: line, outcome: "changed", detail: null }]);
    return row.id;
  };
  prodJob = await job(env.prod.id, "prod.person@example.com");
  accountWideJob = await job(null, "anyone@example.com");
});
beforeEach(() => cookieJar.clear());

const report = (envKey: string, jobId: string) => jobReport(new Request(`http://localhost/console/${envKey}/jobs/${jobId}/report`), { params: Promise.resolve({ env: envKey, jobId }) });
const problemOf = async (response: Response) => [response.status, ((await response.json()) as { detail: string }).detail];

describe("job report route", () => {
  it("needs a session", async () => {
    expect(await problemOf(await report("prod", prodJob))).toEqual([401, "Sign in to download the report."]);
  });

  it("serves a job's report under its own environment only: another environment's URL does not find it", async () => {
    await signInAs("owner");
    const own = await report("prod", prodJob);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain("prod.person@example.com");
    expect(await problemOf(await report("dev", prodJob))).toEqual([404, "Job not found."]);
    expect(await problemOf(await report("dev", crypto.randomUUID()))).toEqual([404, "Job not found."]);
    expect(await problemOf(await report("nowhere", prodJob))).toEqual([404, "No such environment."]);
    // An account-wide job (no environment) is found under any environment's URL.
    expect((await report("dev", accountWideJob)).status).toBe(200);
  });

  it("names a bulk report's columns as such, and says that a job without a report has none", async () => {
    await signInAs("owner");
    const bulk = await report("prod", prodJob);
    expect(bulk.headers.get("content-disposition")).toContain(`bulk-users-report-${prodJob.slice(0, 8)}.csv`);
    expect((await bulk.text()).split("\n")[0]).toBe("n,user,outcome,detail");
    const upkeep = await enqueueJob(getDb(), systemCtx, { kind: "access_review_upkeep", environmentId: null, params: {} });
    expect(await problemOf(await report("prod", upkeep.id))).toEqual([404, "This kind of job has no report."]);
  });

  it("refuses a DEV environment admin PROD's job under DEV's URL", async () => {
    await signInAs("environment_admin", [env.dev.id]);
    expect(await problemOf(await report("dev", prodJob))).toEqual([404, "Job not found."]);
  });
});

describe("CSV upload route", () => {
  const post = (envKey: string) =>
    upload(new Request(`http://localhost/console/${envKey}/users/import/upload`, { method: "POST", body: "email,name\na@example.com,A\n", headers: { "x-file-name": "u.csv" } }), {
      params: Promise.resolve({ env: envKey }),
    });

  it("refuses without a session, a reviewer, and an environment admin outside their environment, storing nothing", async () => {
    const before = await countRows("uploads");
    expect(await problemOf(await post("dev"))).toEqual([401, "Sign in to import."]);
    await signInAs("reviewer");
    expect(await problemOf(await post("dev"))).toEqual([403, "A reviewer cannot change users."]);
    cookieJar.clear();
    await signInAs("environment_admin", [env.dev.id]);
    expect(await problemOf(await post("prod"))).toEqual([403, "This change touches an environment outside your scope."]);
    expect(await problemOf(await post("nowhere"))).toEqual([404, "No such environment."]);
    expect(await countRows("uploads")).toBe(before);
    const accepted = await post("dev");
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ columns: ["email", "name"] });
    const uploads = await countRows("uploads");
    const malformed = await upload(new Request(`http://localhost/console/dev/users/import/upload`, { method: "POST", body: "email,name\n", headers: { "x-file-name": "%E0" } }), { params: Promise.resolve({ env: "dev" }) });
    expect(await problemOf(malformed)).toEqual([400, "The X-File-Name header is not a percent-encoded file name."]);
    expect(await countRows("uploads")).toBe(uploads);
  });
});

describe("audit export route", () => {
  const get = (envKey: string) => auditExport(new Request(`http://localhost/console/${envKey}/audit/export`), { params: Promise.resolve({ env: envKey }) });

  it("refuses without a session and under an unknown environment; serves a reader", async () => {
    expect(await problemOf(await get("dev"))).toEqual([401, "Sign in to export."]);
    await signInAs("reviewer");
    expect(await problemOf(await get("nowhere"))).toEqual([404, "No such environment."]);
    expect((await get("dev")).status).toBe(200);
  });
});
