import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { samlAssertionIds, ssoTraces, users } from "@/db/schema";
import { countRows, systemCtx } from "@/test-support/fixtures";
import type { handleAcs } from "./flow";
import { updateIdentityProvider } from "./identity-providers";
import { setupSso, type SsoFixture } from "./testing/fixture";
import { buildAssertion, generateKeyPair, signElement, signWithXmlsec1, toBase64, wrapInResponse, type KeyPair } from "./testing/test-idp";

// One test per check of ours, each built from a fresh response (mutated and re-signed) and each
// asserting the reason; the control cases go through the same harness and pass.

let f: SsoFixture;
let attacker: KeyPair;
beforeAll(async () => {
  f = await setupSso();
  attacker = generateKeyPair("attacker");
});

async function post(base64: string, relayState: string) {
  return f.post(base64, relayState);
}

async function expectRefused(result: Awaited<ReturnType<typeof handleAcs>>, check: string, reason: RegExp) {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.check).toBe(check);
  expect(result.reason).toMatch(reason);
}

describe("control cases", () => {
  it("accepts a correctly signed response (response and assertion signed by xml-crypto)", async () => {
    const result = await f.signIn({ subject: "control@example.com", attributes: { email: ["control@example.com"], name: ["Control"] } });
    expect(result.ok).toBe(true);
  });

  it("accepts an assertion signed by xmlsec1, independently of Node", async () => {
    const { relayState, requestId } = await f.start();
    const a = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "xmlsec@example.com", attributes: { email: ["xmlsec@example.com"] }, inResponseTo: requestId });
    const signed = signWithXmlsec1(wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, a.xml), a.id, f.key, "Assertion");
    const result = await post(toBase64(signed), relayState);
    expect(result.ok).toBe(true);
  });
});

describe("signature checks", () => {
  it("refuses a signature made with the wrong key (IdP's certificate in KeyInfo)", async () => {
    const { relayState, requestId } = await f.start();
    const forged = f.response(requestId, { key: attacker, sign: "assertion" }).xml.replace(attacker.certBase64, f.key.certBase64);
    await expectRefused(await post(toBase64(forged), relayState), "signature_invalid", /does not verify with this IdP's signing certificates/);
  });

  it("ignores an attacker's certificate carried in KeyInfo", async () => {
    const { relayState, requestId } = await f.start();
    const { base64 } = f.response(requestId, { key: attacker });
    await expectRefused(await post(base64, relayState), "signature_invalid", /not one of this IdP's; the certificate carried in KeyInfo is ignored/);
  });

  it("refuses an unsigned response", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { sign: "none" }).base64, relayState), "unsigned", /Neither the response nor the assertion is signed/);
  });

  it("refuses signature wrapping: the signed assertion moved aside and a forged one added", async () => {
    const { relayState, requestId } = await f.start();
    const genuine = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "alice@example.com", inResponseTo: requestId });
    const signed = signElement(genuine.xml, genuine.id, f.key);
    const forged = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "mallory@example.com", attributes: { email: ["mallory@example.com"] }, inResponseTo: requestId, assertionId: genuine.id });
    const xml = wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, forged.xml).replace(
      "<samlp:Status>",
      `<samlp:Extensions>${signed}</samlp:Extensions><samlp:Status>`,
    );
    await expectRefused(await post(toBase64(xml), relayState), "assertion_count", /exactly one assertion; it contains 2/);
    expect(await getDb().select().from(users).where(eq(users.email, "mallory@example.com"))).toHaveLength(0);
  });

  it("refuses a comment inside the NameID (signed value truncated for naive readers)", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { subject: "alice@example.com.evil.test", attributes: { email: ["alice@example.com.evil.test"] }, sign: "assertion" });
    const tampered = xml.replace(">alice@example.com.evil.test</saml:NameID>", ">alice@example.com<!---->.evil.test</saml:NameID>");
    expect(tampered).not.toBe(xml);
    await expectRefused(await post(toBase64(tampered), relayState), "comment", /NameID contains an XML comment/);
  });

  it("refuses two assertions, even when both are genuinely signed", async () => {
    const { relayState, requestId } = await f.start();
    const one = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "alice@example.com", inResponseTo: requestId });
    const two = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "bob@example.com", inResponseTo: requestId });
    const xml = wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, signElement(one.xml, one.id, f.key) + signElement(two.xml, two.id, f.key));
    await expectRefused(await post(toBase64(xml), relayState), "assertion_count", /exactly one assertion; it contains 2/);
  });

  it("refuses a DOCTYPE with entities within a second, before parsing", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId);
    const lol = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>`;
    const started = performance.now();
    const result = await post(toBase64(lol + xml.replace("alice@example.com</saml:NameID>", "&g;</saml:NameID>")), relayState);
    expect(performance.now() - started).toBeLessThan(1000);
    await expectRefused(result, "dtd", /DOCTYPE or entity declaration/);
  });

  it("refuses SHA-1 unless the IdP is allowed it", async () => {
    let { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { sha1: true }).base64, relayState), "sha1", /signed with SHA-1, which this IdP is not allowed to use/);
    await updateIdentityProvider(systemCtx, f.idp.id, { allowSha1: true });
    try {
      ({ relayState, requestId } = await f.start());
      const result = await post(f.response(requestId, { sha1: true, subject: "sha1@example.com", attributes: { email: ["sha1@example.com"] } }).base64, relayState);
      expect(result.ok, result.ok ? "" : result.reason).toBe(true);
    } finally {
      await updateIdentityProvider(systemCtx, f.idp.id, { allowSha1: false });
    }
  });
});

/** The enveloped signatures of a response, in document order (the response's first when both). */
const signaturesOf = (xml: string) => xml.match(/<Signature xmlns="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#">[\s\S]*?<\/Signature>/g) ?? [];
const responseIdOf = (xml: string) => /<samlp:Response [^>]*ID="([^"]+)"/.exec(xml)![1]!;

describe("every signature present verifies, where the profile allows it", () => {
  it("accepts a response signed only at the response level", async () => {
    const { relayState, requestId } = await f.start();
    const result = await post(f.response(requestId, { sign: "response", subject: "response-only@example.com", attributes: { email: ["response-only@example.com"] } }).base64, relayState);
    expect(result.ok, result.ok ? "" : result.reason).toBe(true);
  });

  it("refuses a broken response signature even when the assertion's own signature verifies", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { sign: "both" });
    // An attribute added to the Response: covered by the response's signature only.
    const tampered = xml.replace("<samlp:Response ", '<samlp:Response Consent="urn:oasis:names:tc:SAML:2.0:consent:obtained" ');
    await expectRefused(await post(toBase64(tampered), relayState), "signature_invalid", /^The response's signature does not verify with this IdP's signing certificates/);
  });

  it("refuses a response signed with another key around an assertion the IdP signed", async () => {
    const { relayState, requestId } = await f.start();
    const a = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "alice@example.com", inResponseTo: requestId });
    const responseId = "_rkeyswap";
    const xml = signElement(wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, signElement(a.xml, a.id, f.key), responseId), responseId, attacker);
    await expectRefused(await post(toBase64(xml), relayState), "signature_invalid", /^The response is signed with a certificate that is not one of this IdP's/);
  });

  it("refuses two signatures on the response", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { sign: "both" });
    const [responseSignature] = signaturesOf(xml);
    const doubled = xml.replace(responseSignature!, responseSignature! + responseSignature!);
    await expectRefused(await post(toBase64(doubled), relayState), "signature_placement", /The response carries 2 signatures; the SAML profile allows one/);
  });

  it("refuses a second element with the response's ID", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { sign: "both" });
    const duplicated = xml.replace("<samlp:Status>", `<samlp:Status ID="${responseIdOf(xml)}">`);
    await expectRefused(await post(toBase64(duplicated), relayState), "signature_placement", new RegExp(`More than one element carries the ID "${responseIdOf(xml)}"`));
  });

  it("refuses a signature inside samlp:Status", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { sign: "assertion" });
    // A signature nobody verifies there: another key's, over another document.
    const [stray] = signaturesOf(f.response(requestId, { sign: "assertion", key: attacker }).xml);
    const placed = xml.replace("<samlp:Status>", `<samlp:Status>${stray}`);
    await expectRefused(await post(toBase64(placed), relayState), "signature_placement", /A signature sits inside <samlp:Status>, where the SAML profile allows none/);
  });

  it("refuses a signature on the response that covers something else than the response", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { sign: "assertion" });
    // The assertion's signature moved up beside the response's Issuer: still valid for the assertion.
    const [assertionSignature] = signaturesOf(xml);
    const moved = xml.replace(assertionSignature!, "").replace(`${f.entityId}</saml:Issuer><samlp:Status>`, `${f.entityId}</saml:Issuer>${assertionSignature}<samlp:Status>`);
    expect(signaturesOf(moved)).toHaveLength(1);
    await expectRefused(await post(toBase64(moved), relayState), "signature_placement", /The response's signature must cover the response itself \(one reference, to "#_r[0-9a-f]+"\); it refers to "#_a[0-9a-f]+"/);
  });

  it("compares the signed assertion's own Issuer, not only the response's", async () => {
    const { relayState, requestId } = await f.start();
    const a = buildAssertion({ issuer: "https://other-idp.example.test/metadata", destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "alice@example.com", attributes: { email: ["alice@example.com"] }, inResponseTo: requestId });
    const xml = wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, signElement(a.xml, a.id, f.key));
    await expectRefused(await post(toBase64(xml), relayState), "issuer", /The signed assertion's issuer "https:\/\/other-idp\.example\.test\/metadata" is not this IdP's entity ID/);
  });
});

describe("the bearer subject confirmation (Web SSO profile)", () => {
  it("refuses a NotBefore on the SubjectConfirmationData", async () => {
    const { relayState, requestId } = await f.start();
    const response = f.response(requestId, { sign: "assertion", confirmationNotBefore: new Date(Date.now() + 10 * 60_000) });
    await expectRefused(await post(response.base64, relayState), "subject_confirmation", /carries NotBefore, which the Web SSO profile forbids/);
  });

  it("refuses a SubjectConfirmationData without NotOnOrAfter, even when the Conditions have one", async () => {
    const { relayState, requestId } = await f.start();
    const response = f.response(requestId, { sign: "assertion", confirmationNotOnOrAfter: null });
    expect(response.xml).toMatch(/<saml:Conditions NotBefore="[^"]+" NotOnOrAfter="[^"]+"/);
    await expectRefused(await post(response.base64, relayState), "subject_confirmation", /has no NotOnOrAfter, which the Web SSO profile requires/);
  });
});

describe("responses that are valid", () => {
  it("accepts an AudienceRestriction that lists our entity ID beside another audience", async () => {
    const { relayState, requestId } = await f.start();
    const response = f.response(requestId, { audiences: [["urn:other-sp", f.sp.entityId]], subject: "two-audiences@example.com", attributes: { email: ["two-audiences@example.com"] } });
    const result = await post(response.base64, relayState);
    expect(result.ok, result.ok ? "" : `${result.check}: ${result.reason}`).toBe(true);
  });

  it("accepts two AudienceRestrictions that each name us, and refuses them when one does not", async () => {
    let { relayState, requestId } = await f.start();
    const both = f.response(requestId, { audiences: [[f.sp.entityId], ["urn:other-sp", f.sp.entityId]], subject: "two-restrictions@example.com", attributes: { email: ["two-restrictions@example.com"] } });
    const result = await post(both.base64, relayState);
    expect(result.ok, result.ok ? "" : `${result.check}: ${result.reason}`).toBe(true);
    ({ relayState, requestId } = await f.start());
    const one = f.response(requestId, { audiences: [[f.sp.entityId], ["urn:a", "urn:b"]] });
    await expectRefused(await post(one.base64, relayState), "audience", /None of the audiences "urn:a", "urn:b" of an AudienceRestriction is our SP entity ID/);
  });

  it("accepts a UTF-8 byte-order mark before <?xml", async () => {
    const { relayState, requestId } = await f.start();
    const { xml } = f.response(requestId, { subject: "bom@example.com", attributes: { email: ["bom@example.com"] } });
    const result = await post(toBase64(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>${xml}`), relayState);
    expect(result.ok, result.ok ? "" : `${result.check}: ${result.reason}`).toBe(true);
  });
});

describe("where and when the assertion is valid", () => {
  it("refuses an audience that merely starts with our entity ID", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { audience: `${f.sp.entityId}.evil` }).base64, relayState), "audience", /must be equal, not merely start with it/);
  });

  it("refuses a wrong Destination", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(
      await post(f.response(requestId, { destination: "https://other.example/acs", recipient: f.sp.acsUrl }).base64, relayState),
      "destination",
      /Destination "https:\/\/other.example\/acs" is not our ACS URL/,
    );
  });

  it("refuses a wrong Recipient", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { recipient: "https://other.example/acs" }).base64, relayState), "recipient", /Recipient "https:\/\/other.example\/acs" is not our ACS URL/);
  });

  it("refuses an expired assertion (beyond 3 minutes of skew) and accepts one within it", async () => {
    let { relayState, requestId } = await f.start();
    const past = new Date(Date.now() - 4 * 60_000);
    await expectRefused(await post(f.response(requestId, { notBefore: new Date(Date.now() - 10 * 60_000), notOnOrAfter: past }).base64, relayState), "expired", /expired at/);
    ({ relayState, requestId } = await f.start());
    const withinSkew = new Date(Date.now() - 2 * 60_000);
    const ok = await post(f.response(requestId, { notBefore: new Date(Date.now() - 10 * 60_000), notOnOrAfter: withinSkew, subject: "skew@example.com", attributes: { email: ["skew@example.com"] } }).base64, relayState);
    // Jackson applies its own (smaller) skew; what matters here is that ours did not refuse it.
    if (!ok.ok) expect(ok.check).toBe("jackson");
  });

  it("refuses NotBefore in the future", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { notBefore: new Date(Date.now() + 10 * 60_000), notOnOrAfter: new Date(Date.now() + 20 * 60_000) }).base64, relayState), "not_yet_valid", /not valid before .* more than 3 minutes from now/);
  });

  it("refuses an assertion without Conditions", async () => {
    const { relayState, requestId } = await f.start();
    await expectRefused(await post(f.response(requestId, { withConditions: false }).base64, relayState), "conditions", /has no Conditions/);
  });
});

describe("which request it answers", () => {
  it("refuses a missing InResponseTo for an SP-initiated sign-in", async () => {
    const { relayState } = await f.start();
    await expectRefused(await post(f.response(null).base64, relayState), "in_response_to", /InResponseTo is missing/);
  });

  it("takes InResponseTo from the signed assertion: an unsolicited assertion in a response naming the pending request is refused", async () => {
    const { relayState, requestId } = await f.start();
    const a = buildAssertion({ issuer: f.entityId, destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "alice@example.com", attributes: { email: ["alice@example.com"] }, inResponseTo: null });
    // Only the assertion is signed: the response's InResponseTo is anyone's to write.
    const xml = wrapInResponse({ issuer: f.entityId, destination: f.sp.acsUrl, inResponseTo: requestId }, signElement(a.xml, a.id, f.key));
    await expectRefused(await post(toBase64(xml), relayState), "in_response_to", /InResponseTo is missing from its SubjectConfirmationData/);
  });

  it("refuses an InResponseTo that is not the pending request's", async () => {
    const { relayState } = await f.start();
    const other = await f.start();
    await expectRefused(await post(f.response(other.requestId).base64, relayState), "in_response_to", /does not match the pending sign-in request/);
  });

  it("refuses the same POST twice (the request is used up)", async () => {
    const { relayState, requestId } = await f.start();
    const { base64 } = f.response(requestId, { subject: "twice@example.com", attributes: { email: ["twice@example.com"] } });
    expect((await post(base64, relayState)).ok).toBe(true);
    await expectRefused(await post(base64, relayState), "request", /expired or was already used/);
  });

  it("refuses a replayed IdP-initiated assertion from the Postgres replay cache", async () => {
    await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: true });
    try {
      const { base64, assertionId } = f.response(null, { subject: "replay@example.com", attributes: { email: ["replay@example.com"] } });
      const first = await post(base64, "/e/prod");
      expect(first.ok, first.ok ? "" : first.reason).toBe(true);
      expect(await getDb().select().from(samlAssertionIds).where(eq(samlAssertionIds.assertionId, assertionId))).toHaveLength(1);
      await expectRefused(await post(base64, "/e/prod"), "replay", /was already used; a replayed response is refused/);
    } finally {
      await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: false });
    }
  });

  it("refuses IdP-initiated sign-in while the IdP does not allow it (the default)", async () => {
    await expectRefused(await post(f.response(null).base64, "/e/prod"), "unsolicited", /IdP-initiated sign-in is turned off/);
  });

  it("refuses an off-site RelayState", async () => {
    await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: true });
    try {
      for (const target of ["https://evil.example/e/prod", "//evil.example/e/prod", "/e/prod/../../x\\evil"]) {
        await expectRefused(await post(f.response(null).base64, target), "relay_state", /must be a path of this site/);
      }
    } finally {
      await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: false });
    }
  });

  it("touches no user when a check fails, and leaves a failure trace with the reason", async () => {
    const before = await countRows("users");
    const { relayState, requestId } = await f.start();
    const result = await post(f.response(requestId, { subject: "nobody@example.com", audience: "urn:other" }).base64, relayState);
    await expectRefused(result, "audience", /is not our SP entity ID/);
    expect(await countRows("users")).toBe(before);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.ok ? "" : result.traceId!));
    expect(trace).toMatchObject({ failedCheck: "audience", subject: "nobody@example.com", outcome: "failure" });
  });
});
