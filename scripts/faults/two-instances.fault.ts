import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inflateRawSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { faultWorld, type FaultWorld, type Instance } from "./harness";
import { scim } from "./scim-client";

// Two app instances on one database, behind one public address (A's): an SSO sign-in started on
// A completes on B; the same assertion replayed on A is refused; the session B made works on A;
// a rate limit counts requests to both; a graceful stop of one still writes its last token
// issuance batch.

let world: FaultWorld;
let a: Instance;
let b: Instance;
let danaCookie = "";
beforeAll(async () => {
  world = await faultWorld("two");
  a = await world.start({ env: { SCIM_RATE_LIMIT_PER_MINUTE: "20" } });
  b = await world.start({ env: { SCIM_RATE_LIMIT_PER_MINUTE: "20" }, publicUrl: a.base });
  process.env.NEXTAUTH_URL = a.base;
}, 900_000);
afterAll(async () => world?.close(), 60_000);

describe("two instances on one database", () => {
  it("SSO started on one completes on the other; a replay on the first is refused; the session works on both", async () => {
    const { systemCtx } = await import("@/test-support/fixtures");
    const { findEnvironmentByKey } = await import("@/lib/environments");
    const { createIdentityProvider } = await import("@/lib/sso/identity-providers");
    const { updateEnvironmentAuth } = await import("@/lib/sso/environment-auth");
    const { spEndpoints } = await import("@/lib/sso/endpoints");
    const { buildResponse, generateKeyPair, idpMetadata } = await import("@/lib/sso/testing/test-idp");
    const prod = (await findEnvironmentByKey("prod"))!;
    const key = generateKeyPair("two-instances");
    const idp = await createIdentityProvider(systemCtx, { name: "Two-instance IdP", metadataXml: idpMetadata("https://two.example/idp", "https://two.example/sso", [key.certBase64]) });
    await updateEnvironmentAuth(systemCtx, prod.id, {
      passwordEnabled: false, ssoEnabled: true, identityProviderId: idp.id, enforcement: "all", enforcedDomains: [], breakGlassUserIds: [],
      jitEnabled: true, jitGroupIds: [], groupSyncEnabled: false, groupAttribute: null, sessionLifetimeMinutes: 60, idleTimeoutMinutes: 30,
    });

    // Started on A (a POST from A's own page).
    const start = await fetch(`${a.base}/e/prod/sso`, { method: "POST", redirect: "manual", headers: { origin: a.base, "content-type": "application/x-www-form-urlencoded" }, body: "email=dana%40two.example" });
    expect([start.status, start.status === 303 ? "" : await start.text()]).toEqual([303, ""]);
    const toIdp = new URL(start.headers.get("location")!);
    // The starting browser's binding cookie: the ACS accepts the response only with it.
    const binding = start.headers.getSetCookie().map((c) => c.split(";")[0]!).find((c) => c.includes("iam_sso_binding="))!;
    expect(binding).toMatch(/=/);
    expect(toIdp.origin + toIdp.pathname).toBe("https://two.example/sso");
    const requestId = /ID="([^"]+)"/.exec(inflateRawSync(Buffer.from(toIdp.searchParams.get("SAMLRequest")!, "base64")).toString())![1]!;
    const sp = spEndpoints();
    const { base64 } = buildResponse({ key, issuer: "https://two.example/idp", destination: sp.acsUrl, audience: sp.entityId, subject: "dana@two.example", attributes: { email: ["dana@two.example"], name: ["Dana Two"] }, inResponseTo: requestId });
    const form = new URLSearchParams({ SAMLResponse: base64, RelayState: toIdp.searchParams.get("RelayState")! });

    // Completed on B.
    const done = await fetch(`${b.base}/api/sso/acs`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: binding }, body: form });
    expect([done.status, new URL(done.headers.get("location")!, b.base).pathname]).toEqual([303, "/e/prod"]);
    const cookie = done.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    expect(cookie).toMatch(/=/);
    danaCookie = cookie;

    // The same assertion again, on A: refused (its sign-in request was consumed on B; the assertion
    // ID is in the shared replay cache too). Nothing is signed in.
    const replay = await fetch(`${a.base}/api/sso/acs`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: binding }, body: form });
    const page = await replay.text();
    expect([replay.status, replay.headers.getSetCookie().length]).toEqual([400, 0]);
    expect(page).toMatch(/already used/);
    const { getDb } = await import("@/db/client");
    const [trace] = await getDb().execute<{ outcome: string; reason: string }>(sql`select outcome, reason from sso_traces order by created_at desc limit 1`);
    expect(trace).toEqual({ outcome: "failure", reason: expect.stringMatching(/already used/) });

    // The session B created is honoured by A.
    for (const instance of [a, b]) {
      const home = await fetch(`${instance.base}/e/prod`, { redirect: "manual", headers: { cookie } });
      expect([instance.base, home.status]).toEqual([instance.base, 200]);
      expect(await home.text()).toContain("Dana Two");
    }
  }, 120_000);

  it("a rate limit counts the requests to both instances", async () => {
    const { systemCtx } = await import("@/test-support/fixtures");
    const { findEnvironmentByKey } = await import("@/lib/environments");
    const { createDirectory } = await import("@/lib/directories");
    const { getDb } = await import("@/db/client");
    const prod = (await findEnvironmentByKey("prod"))!;
    const { directory, token } = await createDirectory(systemCtx, { environmentId: prod.id, name: "Shared limit" });
    const ask = async (instance: Instance) => (await scim({ base: () => instance.base, directoryId: directory.id, token }, "GET", "/Users?count=1")).status;
    // Each instance counts in memory and adds its count to the shared row within 100 ms
    // (lib/rate-limit.ts); the test waits for the row, not for a time.
    const shared = async (count: number) => {
      for (;;) {
        const [row] = await getDb().execute<{ count: number }>(sql`select count from rate_limits where key = ${`scim:${directory.id}`}`);
        if ((row?.count ?? 0) >= count) return row!.count;
        await new Promise((r) => setImmediate(r));
      }
    };
    // 15 on A: under the limit of 20 a minute.
    const onA: number[] = [];
    for (let i = 0; i < 15; i++) onA.push(await ask(a));
    expect(onA).toEqual(Array(15).fill(200));
    expect(await shared(15)).toBe(15);
    // B's first request is its own first count; once B has added it, B reads A's 15 with it.
    expect(await ask(b)).toBe(200);
    expect(await shared(16)).toBe(16);
    // B alone would allow 19 more; with A's counted, 4 more pass and the rest are refused.
    const onB: number[] = [];
    for (let i = 0; i < 8; i++) onB.push(await ask(b));
    expect(onB).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  }, 60_000);

  it("a graceful stop (SIGTERM) writes the tokens issued in its last seconds to the audit trail", async () => {
    expect(danaCookie).toMatch(/=/);
    // Three tokens on A (batched: nothing is written for up to 5 s), then A is stopped at once.
    const jtis: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${a.base}/e/prod/token`, {
        method: "POST",
        headers: { origin: a.base, cookie: danaCookie, "content-type": "application/json" },
        body: JSON.stringify({ audience: "agent_studio" }),
      });
      const body = (await response.json()) as { access_token?: string };
      expect([response.status, typeof body.access_token]).toEqual([200, "string"]);
      jtis.push((JSON.parse(Buffer.from(body.access_token!.split(".")[1]!, "base64url").toString()) as { jti: string }).jti);
    }
    const stopped = Date.now();
    await a.app.stop();
    // It stopped by itself (start.ts escalates to SIGKILL only after 10 s), and wrote the batch.
    expect(Date.now() - stopped).toBeLessThan(10_000);
    const { getDb } = await import("@/db/client");
    const rows = await getDb().execute<{ count: number; jtis: string[] }>(
      sql`select (after ->> 'count')::int as count, after -> 'jtis' as jtis from audit_events
          where action = 'token.issue_batch' and actor_label = 'dana@two.example' and after ->> 'audience' = 'agent_studio'`,
    );
    expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(3);
    expect(rows.flatMap((r) => r.jtis).sort()).toEqual([...jtis].sort());
  }, 120_000);
});
