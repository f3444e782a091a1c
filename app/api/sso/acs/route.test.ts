import { describe, expect, it } from "vitest";
import { NextRequest } from "next/server";
import { spEndpoints } from "@/lib/sso/endpoints";
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
