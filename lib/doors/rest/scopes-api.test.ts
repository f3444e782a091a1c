import { beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "@/lib/api-tokens";
import { countRows, createEnvironments, realMemberCtx } from "@/test-support/fixtures";
import { handleApiRequest } from "./handler";
import { ENDPOINTS } from "./v1";

// Every endpoint of the table, refused as it should be before anything runs: without a token (401),
// with a read-only token when it writes, with a decisions-only token when it is not the decision
// endpoint, and with a reviewer token when it writes anything but review decisions (403, each with
// its reason), writing nothing. The per-endpoint files test what each does when allowed.

const tokens = { read: "", authz: "", reviewer: "" };
beforeAll(async () => {
  await createEnvironments();
  const owner = await realMemberCtx("owner");
  tokens.read = (await createApiToken(owner, { name: "read", scope: "read" })).token;
  tokens.authz = (await createApiToken(owner, { name: "authz", scope: "authz" })).token;
  tokens.reviewer = (await createApiToken(await realMemberCtx("reviewer"), { name: "reviewer", scope: "reviewer" })).token;
});

const concrete = (path: string) => path.replace(/\{key\}|\{environment\}/g, "prod").replace(/\{\w+\}/g, "00000000-0000-4000-8000-000000000000");

async function call(method: string, path: string, token: string | null) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await handleApiRequest(new Request(`http://localhost/api/v1${concrete(path)}`, { method, headers, body: method === "GET" || method === "DELETE" ? undefined : "{}" }), method as never);
  return { status: response.status, detail: ((await response.json()) as { detail?: string }).detail };
}

describe("every REST endpoint refuses the tokens that may not call it", () => {
  it("covers the whole table", () => {
    expect(ENDPOINTS.length).toBeGreaterThan(60);
  });

  it("refuses a request without a token (401), read-only tokens' writes, decisions-only tokens elsewhere and reviewer tokens' writes (403), writing nothing", async () => {
    const before = { audit: await countRows("audit_events"), users: await countRows("users"), groups: await countRows("groups") };
    const wrong: string[] = [];
    let writes = 0;
    for (const e of ENDPOINTS) {
      const name = `${e.method} ${e.path}`;
      const anonymous = await call(e.method, e.path, null);
      if (anonymous.status !== 401) wrong.push(`${name} without a token: ${anonymous.status}`);
      if (e.permission[1] === "write") {
        writes++;
        const read = await call(e.method, e.path, tokens.read);
        if (read.status !== 403 || read.detail !== "This API token is read-only.") wrong.push(`${name} read-only: ${read.status} ${read.detail}`);
        if (e.permission[0] !== "review_decisions") {
          const reviewer = await call(e.method, e.path, tokens.reviewer);
          if (reviewer.status !== 403 || reviewer.detail !== "This API token is reviewer-scoped: it reads, and decides the review items of the member it acts for.") {
            wrong.push(`${name} reviewer: ${reviewer.status} ${reviewer.detail}`);
          }
        }
      }
      if (e.permission[0] !== "decisions") {
        const authz = await call(e.method, e.path, tokens.authz);
        if (authz.status !== 403 || authz.detail !== "This API token may only ask the decision endpoint.") wrong.push(`${name} decisions-only: ${authz.status} ${authz.detail}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(writes).toBeGreaterThan(40);
    expect({ audit: await countRows("audit_events"), users: await countRows("users"), groups: await countRows("groups") }).toEqual(before);
  }, 120_000);
});
