import { describe, expect, it } from "vitest";
import { inflateRawSync } from "node:zlib";
import { NextRequest } from "next/server";
import { spEndpoints } from "@/lib/sso/endpoints";
import { setupSso } from "@/lib/sso/testing/fixture";
import { POST as startSso } from "../../../e/[env]/sso/route";
import { GET as metadata } from "../metadata/route";
import { POST } from "./route";

const post = (body: BodyInit, type: string) =>
  POST(new NextRequest("http://localhost:3000/api/sso/acs", { method: "POST", body, headers: { "content-type": type } }));

describe("ACS route", () => {
  it("accepts only the HTTP-POST binding's form post", async () => {
    const res = await post(JSON.stringify({ SAMLResponse: "x" }), "application/json");
    expect(res.status).toBe(415);
    expect(await res.text()).toContain("The ACS accepts the SAML HTTP-POST binding (a form post) only.");
  });

  it("answers 400 with the reason for a post without SAMLResponse, and for garbage", async () => {
    let res = await post(new URLSearchParams({ RelayState: "" }).toString(), "application/x-www-form-urlencoded");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("The POST carries no SAMLResponse.");
    res = await post(new URLSearchParams({ SAMLResponse: "%%%not base64%%%" }).toString(), "application/x-www-form-urlencoded");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("The SAMLResponse parameter is not base64.");
    res = await post(new URLSearchParams({ SAMLResponse: Buffer.from("<x").toString("base64") }).toString(), "application/x-www-form-urlencoded");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not well-formed XML");
  });

  it("refuses an oversized post with 413", async () => {
    const res = await POST(
      new NextRequest("http://localhost:3000/api/sso/acs", {
        method: "POST",
        body: "SAMLResponse=" + "A".repeat(600 * 1024),
        headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(600 * 1024 + 13) },
      }),
    );
    expect(res.status).toBe(413);
  });
});

describe("SSO start and ACS: the browser binding cookie", () => {
  it("the start sets the binding cookie; the ACS signs in only the browser that sends it back", async () => {
    const f = await setupSso();
    const started = await startSso(new NextRequest("http://localhost:3000/e/prod/sso", { method: "POST", body: "", headers: { "content-type": "application/x-www-form-urlencoded" } }), { params: Promise.resolve({ env: "prod" }) });
    expect(started.status).toBe(303);
    const [setCookie] = started.headers.getSetCookie();
    // Served over http here (like the session cookies: no prefix, no Secure); see lib/sso/browser-binding.ts.
    expect(setCookie).toMatch(/^iam_sso_binding=[A-Za-z0-9_-]{43}; Path=\/; Expires=[^;]+; Max-Age=600; HttpOnly$/);
    const cookie = setCookie!.split(";")[0]!;
    const toIdp = new URL(started.headers.get("location")!);
    const requestId = /ID="([^"]+)"/.exec(inflateRawSync(Buffer.from(toIdp.searchParams.get("SAMLRequest")!, "base64")).toString())![1]!;
    const form = new URLSearchParams({ SAMLResponse: f.response(requestId, { subject: "door@example.com", attributes: { email: ["door@example.com"] } }).base64, RelayState: toIdp.searchParams.get("RelayState")! }).toString();
    const acs = (headers: Record<string, string>) =>
      POST(new NextRequest("http://localhost:3000/api/sso/acs", { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded", ...headers } }));

    // Another browser (no cookie, or its own) posting the same response: back to the sign-in page with the trace.
    for (const headers of [{}, { cookie: "iam_sso_binding=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }] as Record<string, string>[]) {
      const refused = await acs(headers);
      expect(refused.status).toBe(303);
      expect(refused.headers.get("location")).toMatch(/\/e\/prod\/sign-in\?sso_error=[0-9a-f-]{36}$/);
      expect(refused.headers.getSetCookie()).toEqual([]);
    }
    const signedIn = await acs({ cookie });
    expect([signedIn.status, signedIn.headers.get("location")]).toEqual([303, "http://localhost:3000/e/prod"]);
    expect(signedIn.headers.getSetCookie()[0]).toMatch(/^iam_env_prod=/);
  });
});

describe("SP metadata route", () => {
  it("publishes our entity ID and ACS URL, downloadable", async () => {
    const res = await metadata(new NextRequest("http://localhost:3000/api/sso/metadata?download=1"));
    expect(res.headers.get("content-type")).toContain("application/samlmetadata+xml");
    expect(res.headers.get("content-disposition")).toContain("sp-metadata.xml");
    const xml = await res.text();
    expect(xml).toContain(`entityID="${spEndpoints().entityId}"`);
    expect(xml).toContain(`Location="${spEndpoints().acsUrl}"`);
  });
});
