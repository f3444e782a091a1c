import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { sql } from "drizzle-orm";
import { NextRequest } from "next/server";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/db/testing/console-session";
import { countRows, createEnvironments } from "@/db/testing/fixtures";
import { ENVIRONMENT_SCOPED, type PermissionAction, type PermissionResource } from "@/lib/permissions";

// The authorization sweep: every server action in the code, found by file (a new one cannot be
// forgotten), is refused without a session; every write is refused for a reviewer; every
// account-wide write is refused for an environment admin (their environment-scoped writes are
// checked against the actual environments in each domain's tests).

vi.mock("next/headers", () => import("@/db/testing/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));
vi.mock("next/navigation", () => ({ redirect: vi.fn(), notFound: vi.fn() }));

type Action = ((...args: unknown[]) => Promise<{ ok: boolean; error?: string }>) & { permission?: [PermissionResource, PermissionAction] };

const modules = import.meta.glob<Record<string, unknown>>("/app/**/actions.ts");
// Server-action modules that are not the console's: the end users' own sign-in and password steps,
// public by nature (they check the end user's session or one-time link themselves).
const PUBLIC_ACTION_MODULES = new Set(["/app/e/[env]/actions.ts"]);

async function consoleActions(): Promise<[string, Action][]> {
  const found: [string, Action][] = [];
  for (const [file, load] of Object.entries(modules)) {
    if (PUBLIC_ACTION_MODULES.has(file)) continue;
    for (const [name, value] of Object.entries(await load())) if (typeof value === "function") found.push([`${file}#${name}`, value as Action]);
  }
  return found;
}

let dev: Environment;
beforeAll(async () => {
  ({ dev } = await createEnvironments());
});
beforeEach(() => cookieJar.clear());

const notDenied = async () => (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where outcome <> 'denied'`))[0]!.n;

describe("authorization sweep over every server action", () => {
  it("finds the console's actions, each wrapped with its permission", async () => {
    const actions = await consoleActions();
    expect(actions.length).toBeGreaterThan(40);
    expect(actions.filter(([, a]) => !a.permission).map(([name]) => name)).toEqual([]);
    expect(Object.keys(modules).filter((f) => !f.startsWith("/app/console/") && !PUBLIC_ACTION_MODULES.has(f))).toEqual([]);
  });

  it("refuses every one without a session, writing nothing", async () => {
    const before = await countRows("audit_events");
    for (const [name, action] of await consoleActions()) {
      expect([name, await action(crypto.randomUUID(), {})]).toEqual([name, { ok: false, error: "Your session has ended. Sign in again." }]);
    }
    expect(await countRows("audit_events")).toBe(before);
  });

  it("refuses every write to a reviewer, and every account-wide write to an environment admin", async () => {
    const writes = (await consoleActions()).filter(([, a]) => a.permission![1] === "write");
    expect(writes.length).toBeGreaterThan(30);
    await signInAs("reviewer");
    const before = await countRows("audit_events");
    for (const [name, action] of writes) {
      const result = await action(crypto.randomUUID(), {});
      expect([name, result.ok, result.error]).toEqual([name, false, expect.stringMatching(/^A reviewer cannot change /)]);
    }
    cookieJar.clear();
    await signInAs("environment_admin", [dev.id]);
    for (const [name, action] of writes.filter(([, a]) => !ENVIRONMENT_SCOPED.has(a.permission![0]))) {
      const result = await action(crypto.randomUUID(), {});
      expect([name, result.ok, result.error]).toEqual([name, false, expect.stringMatching(/^An environment admin cannot change /)]);
    }
    // Only what the test itself did: the environment admin created and signed in.
    expect(await countRows("audit_events")).toBe(before + 2);
  });
});

// Every route handler, found by file: how it authenticates, and what a request without any
// credential gets. A new route fails this test until it is classified here.
const routes = import.meta.glob<Record<string, unknown>>("/app/**/route.ts");
const ROUTES: Record<string, { door: string; anonymous: number[] }> = {
  "/app/.well-known/jwks.json/route.ts": { door: "public", anonymous: [200] },
  "/app/.well-known/openid-configuration/route.ts": { door: "public", anonymous: [200] },
  "/app/.well-known/oauth-authorization-server/route.ts": { door: "public", anonymous: [200] },
  "/app/.well-known/oauth-protected-resource/mcp/[id]/route.ts": { door: "public", anonymous: [404] },
  "/app/api/sso/metadata/route.ts": { door: "public", anonymous: [200] },
  "/app/api/v1/openapi.json/route.ts": { door: "public", anonymous: [200] },
  "/app/api/sso/acs/route.ts": { door: "SAML response (signed by the IdP)", anonymous: [400, 415] },
  "/app/e/[env]/sso/route.ts": { door: "starts SSO for an environment", anonymous: [303, 307, 404] },
  "/app/api/auth/[...nextauth]/route.ts": { door: "next-auth (console sign-in)", anonymous: [] },
  "/app/api/v1/[...path]/route.ts": { door: "API token", anonymous: [401, 404] },
  "/app/scim/v2/[directory]/[[...path]]/route.ts": { door: "directory token", anonymous: [401] },
  "/app/mcp/[id]/route.ts": { door: "access token", anonymous: [401, 404] },
  "/app/api/genies/[id]/messages/route.ts": { door: "access token", anonymous: [401, 404] },
  "/app/e/[env]/token/route.ts": { door: "end-user session", anonymous: [401, 403] },
  "/app/console/[env]/users/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/memberships/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/users/import/upload/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/jobs/[jobId]/report/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/access/[resourceId]/who/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/audit/export/route.ts": { door: "console session", anonymous: [401] },
};

describe("authorization sweep over every route handler", () => {
  it("classifies every route, and none answers a request without credentials with more than it should", async () => {
    expect(Object.keys(routes).filter((f) => !ROUTES[f]).sort()).toEqual([]);
    const id = crypto.randomUUID();
    const params = { env: "dev", id, resourceId: id, jobId: id, directory: id, path: ["users"], nextauth: ["session"] };
    const before = await notDenied();
    for (const [file, load] of Object.entries(routes)) {
      const { anonymous } = ROUTES[file]!;
      if (!anonymous.length) continue; // next-auth's own handler
      const mod = await load();
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => typeof mod[m] === "function")) {
        const request = new NextRequest(`http://localhost:3000/x`, { method, headers: { "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
        const response = (await (mod[method] as (r: Request, c: unknown) => Promise<Response>)(request, { params: Promise.resolve(params) })) as Response;
        expect([file, method, anonymous.includes(response.status) ? "as expected" : response.status]).toEqual([file, method, "as expected"]);
      }
    }
    // Denials at components are audited; nothing else was written.
    expect(await notDenied()).toBe(before);
  });
});
