import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NextRequest } from "next/server";
import { getSql } from "@/db/client";
import { env as settings } from "@/env";
import { DEMO_IDP_ENTITY_ID, DEMO_IDP_NAME } from "@/lib/sso/testing/demo-idp";
import { seedDemo } from "@/scripts/demo-seed";
import { POST as acs } from "../../api/sso/acs/route";
import { POST as startSso } from "../../e/[env]/sso/route";
import { GET as metadata } from "../metadata/route";
import { GET, POST } from "./route";

// The demo's own IdP, end to end without a browser: `npm start`'s seed connects it to TEST; SSO
// starts at TEST's door, the demo IdP offers TEST's people, signs a response for the one picked,
// and the ACS signs them in with their groups. Off (404) unless the seed made its key.

let dataDir: string;
let original: string;
beforeAll(() => {
  original = settings().DATA_DIR;
  dataDir = mkdtempSync(path.join(tmpdir(), "demo-idp-"));
  (settings() as { DATA_DIR: string }).DATA_DIR = dataDir;
});
afterAll(() => {
  (settings() as { DATA_DIR: string }).DATA_DIR = original;
  rmSync(dataDir, { recursive: true, force: true });
});

const hidden = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&quot;/g, '"').replace(/&amp;/g, "&");

describe("the demo IdP", () => {
  it("is off until the demo seed makes it: its pages answer 404", async () => {
    expect((await metadata()).status).toBe(404);
    expect((await GET(new Request("http://localhost:3000/demo-idp/sso?SAMLRequest=x"))).status).toBe(404);
  });

  it("is connected to TEST by the demo seed (SSO for everyone there, JIT and group sync); DEV and PROD keep passwords", async () => {
    await seedDemo({ demoIdp: true });
    await seedDemo({ demoIdp: true }); // again: nothing new
    const rows = await getSql()<{ key: string; sso_enabled: boolean; enforcement: string; jit_enabled: boolean; idp: string | null }[]>`
      select e.key, a.sso_enabled, a.enforcement, a.jit_enabled, i.name as idp from environments e join environment_auth a on a.environment_id = e.id
      left join identity_providers i on i.id = a.identity_provider_id order by e.position`;
    expect(rows.map((r) => [r.key, r.sso_enabled, r.sso_enabled ? r.enforcement : "-", r.idp])).toEqual([
      ["dev", false, "-", null],
      ["test", true, "all", DEMO_IDP_NAME],
      ["prod", false, "-", null],
    ]);
    expect((await getSql()`select 1 from identity_providers where entity_id = ${DEMO_IDP_ENTITY_ID}`).length).toBe(1);
    expect(statSync(path.join(dataDir, "demo-idp", "key.pem")).mode & 0o777).toBe(0o600);
    const served = await metadata();
    expect(served.status).toBe(200);
    expect(await served.text()).toContain(`entityID="${DEMO_IDP_ENTITY_ID}"`);
  });

  it("asks again for an email the email step sent blank, where a form without the field starts SSO", async () => {
    const post = (body: string) =>
      startSso(new NextRequest("http://localhost:3000/e/test/sso", { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } }), {
        params: Promise.resolve({ env: "test" }),
      });
    const blank = await post("email=++&return_to=%2Fe%2Ftest%2Fapps");
    expect([blank.status, blank.headers.get("location"), blank.headers.getSetCookie()]).toEqual([303, "http://localhost:3000/e/test/sign-in?error=email_required&return_to=%2Fe%2Ftest%2Fapps", []]);
    const button = await post("return_to=%2Fe%2Ftest%2Fapps");
    expect([button.status, new URL(button.headers.get("location")!).pathname]).toEqual([303, "/demo-idp/sso"]);
  });

  it("signs a TEST user in by SSO: SP-initiated, with their groups, through the real ACS", async () => {
    const started = await startSso(new NextRequest("http://localhost:3000/e/test/sso", { method: "POST", body: "", headers: { "content-type": "application/x-www-form-urlencoded" } }), {
      params: Promise.resolve({ env: "test" }),
    });
    expect(started.status).toBe(303);
    const cookie = started.headers.getSetCookie()[0]!.split(";")[0]!;
    const toIdp = new URL(started.headers.get("location")!);
    expect(`${toIdp.origin}${toIdp.pathname}`).toBe("http://localhost:3000/demo-idp/sso");

    const chooser = await GET(new Request(toIdp));
    const html = await chooser.text();
    expect(chooser.status).toBe(200);
    expect(html).toContain("Demo IdP.</strong> Built into this demo");
    const [person] = await getSql()<{ email: string; name: string }[]>`
      select u.email, u.name from users u join environment_access a on a.user_id = u.id join environments e on e.id = a.environment_id
      where e.key = 'test' and u.status = 'active' order by u.email limit 1`;
    expect(html).toContain(`Sign in as ${person!.name}`);

    const form = new URLSearchParams({ SAMLRequest: toIdp.searchParams.get("SAMLRequest")!, RelayState: toIdp.searchParams.get("RelayState")!, email: person!.email });
    const answered = await POST(new Request("http://localhost:3000/demo-idp/sso", { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded", "x-nonce": "abc" } }));
    const page = await answered.text();
    expect(page).toContain('action="http://localhost:3000/api/sso/acs"');
    expect(page).toContain('<script nonce="abc">');
    const xml = Buffer.from(hidden(page, "SAMLResponse")!, "base64").toString("utf8");
    expect(xml).toContain(DEMO_IDP_ENTITY_ID);

    const signedIn = await acs(
      new NextRequest("http://localhost:3000/api/sso/acs", {
        method: "POST",
        body: new URLSearchParams({ SAMLResponse: hidden(page, "SAMLResponse")!, RelayState: hidden(page, "RelayState")! }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      }),
    );
    const traceId = new URL(signedIn.headers.get("location")!).searchParams.get("sso_error");
    const trace = traceId ? await getSql()`select failed_check, reason from sso_traces where id = ${traceId}` : [];
    expect([signedIn.status, signedIn.headers.get("location"), trace]).toEqual([303, "http://localhost:3000/e/test", []]);
    // The response carried their TEST groups, as a real IdP's groups attribute would.
    const groups = await getSql()<{ name: string }[]>`select distinct g.name from group_members m join groups g on g.id = m.group_id join environments e on e.id = g.environment_id
      join users u on u.id = m.user_id where u.email = ${person!.email} and e.key = 'test' and g.source <> 'system' order by g.name`;
    const [success] = await getSql()<{ groups: string[] }[]>`select groups from sso_traces where outcome = 'success' order by created_at desc limit 1`;
    expect(groups.length).toBeGreaterThan(0);
    expect([...success!.groups].sort()).toEqual(groups.map((g) => g.name));
    const [audit] = await getSql()<{ actor_label: string; outcome: string }[]>`select actor_label, outcome from audit_events where action = 'end_user.sign_in' order by id desc limit 1`;
    expect(audit).toEqual({ actor_label: person!.email, outcome: "success" });
  });

  it("answers only this app's requests, and refuses what is not one with the reason", async () => {
    const bad = await GET(new Request("http://localhost:3000/demo-idp/sso"));
    expect([bad.status, await bad.text()]).toEqual([400, expect.stringContaining("No sign-in request: start from an environment's sign-in page.")]);
    const { deflateRawSync } = await import("node:zlib");
    const elsewhere = deflateRawSync(Buffer.from('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" AssertionConsumerServiceURL="https://evil.example/acs"/>')).toString("base64");
    const refused = await GET(new Request(`http://localhost:3000/demo-idp/sso?SAMLRequest=${encodeURIComponent(elsewhere)}`));
    expect([refused.status, await refused.text()]).toEqual([400, expect.stringContaining("The demo IdP answers this app's sign-in requests only.")]);
    const post = await POST(new Request("http://localhost:3000/demo-idp/sso", { method: "POST", body: new URLSearchParams({ SAMLRequest: elsewhere, email: "a@example.com" }) }));
    expect(post.status).toBe(400);
  });
});
