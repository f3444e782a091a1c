import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sql } from "drizzle-orm";
import { NextRequest } from "next/server";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { clearWriteLog, installWriteLog, readWriteLog } from "@/test-support/write-log";
import { createResource } from "@/lib/access/resources";
import { createApiToken } from "@/lib/api-tokens";
import { ENDPOINTS } from "@/lib/doors/rest/v1";
import { dispatchMachine, MACHINE_ROUTES } from "@/lib/doors/server/routes";
import { createGroup } from "@/lib/groups";
import { ensureSigningKeys } from "@/lib/tokens/keys";
import { flushRequestLog } from "@/lib/doors/scim/handler";
import { scimClient } from "@/lib/doors/scim/testing";
import { createUser } from "@/lib/users";

// "GET never changes state": every route handler's GET, found by file, and every machine door of
// the lean server that answers GET (its route table), is called with real
// parameters and every credential it accepts (none, a console owner's session, an API token, a
// directory token), while a row trigger on every table of the database logs any write
// (test-support/write-log.ts says what request bookkeeping is left out).

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));

const routes = import.meta.glob<Record<string, unknown>>("/app/**/route.ts", { exhaustive: true });

const exec = (statement: string) => getDb().execute<Record<string, unknown>>(sql.raw(statement));
const writes = () => readWriteLog(exec);

beforeAll(() => installWriteLog(exec));
afterAll(() => cookieJar.clear());

let dev: Environment, prod: Environment;
beforeAll(async () => {
  ({ dev, prod } = await createEnvironments());
});

describe("GET never changes state", () => {
  it("the trigger sees a write (the check can fail)", async () => {
    await createGroup(systemCtx, { environmentId: dev.id, name: `Probe ${crypto.randomUUID().slice(0, 6)}` });
    expect(await writes()).toContain("groups INSERT");
    await clearWriteLog(exec);
  });

  it("no route's GET writes anything, with or without credentials", async () => {
    const group = await createGroup(systemCtx, { environmentId: dev.id, name: `Readers ${crypto.randomUUID().slice(0, 6)}` });
    const user = await createUser(systemCtx, { name: "Reader Rae", email: `rae.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [dev.id, prod.id], groupIds: [group.id] });
    const resource = await createResource(systemCtx, { environmentId: dev.id, feature: "mcp", name: "Read-only MCP" });
    const { token: apiToken } = await createApiToken(systemCtx, { name: "reader", scope: "read" });
    const scim = await scimClient(dev);
    await signInAs("owner");
    await ensureSigningKeys(); // as at start-up, so the JWKS has keys to publish
    await clearWriteLog(exec);

    const params = { env: "dev", id: resource.id, resourceId: resource.id, jobId: crypto.randomUUID(), directory: scim.directory.id, nextauth: ["session"] };
    // The console session is read through next/headers (mocked), so it is present on every call.
    const credentials: Record<string, string>[] = [{}, { authorization: `Bearer ${apiToken}` }, { authorization: `Bearer ${scim.token}` }];
    let calls = 0;
    const statuses = new Set<number>();
    for (const [file, load] of Object.entries(routes)) {
      const mod = await load();
      // next-auth's own handler needs Next's request scope; its GETs are session reads and CSRF tokens.
      if (typeof mod.GET !== "function" || file.includes("[...nextauth]")) continue;
      for (const headers of credentials) {
        const response = (await (mod.GET as (r: Request, c: unknown) => Promise<Response>)(new NextRequest("http://localhost:3000/x/", { headers }), { params: Promise.resolve(params) })) as Response;
        await response.arrayBuffer();
        statuses.add(response.status);
        calls++;
      }
    }
    // The lean server's machine doors, through its routing: every GET of the REST API and of SCIM,
    // and the example path of every other door that answers GET.
    const machinePaths: Record<string, string[]> = {
      rest: ENDPOINTS.filter((e) => e.method === "GET").map((e) => `/api/v1${e.path.replace("{id}", e.path.startsWith("/groups") ? group.id : user.id)}`),
      scim: ["Users", `Users/${user.id}`, "Groups", `Groups/${group.id}`, "ServiceProviderConfig", "Schemas", "ResourceTypes"].map((p) => `/scim/v2/${scim.directory.id}/${p}`),
    };
    for (const route of MACHINE_ROUTES.filter((r) => r.methods.includes("GET"))) {
      for (const path of machinePaths[route.name] ?? [route.example.replaceAll("{id}", resource.id)]) {
        for (const headers of credentials) {
          const response = (await dispatchMachine(new Request(`http://localhost:3000${path}`, { headers })))!;
          await response.arrayBuffer();
          statuses.add(response.status);
          calls++;
        }
      }
    }
    // Buffered request bookkeeping is written now, so it is in the log (and left out by name)
    // whatever the timing.
    await flushRequestLog();
    // The GETs did real work (2xx answers with the right credential), and wrote nothing.
    expect(calls).toBeGreaterThan(60);
    expect(statuses).toContain(200);
    expect(await writes()).toEqual([]);
  });
});
