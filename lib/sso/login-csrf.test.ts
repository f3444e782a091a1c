import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, ssoRequests, ssoTraces } from "@/db/schema";
import { systemCtx } from "@/test-support/fixtures";
import { bindingForStart, ssoBindingCookie } from "./browser-binding";
import { getTrace, handleAcs, signInFailureMessage } from "./flow";
import { updateIdentityProvider } from "./identity-providers";
import { setupSso, type SsoFixture } from "./testing/fixture";
import { generateKeyPair } from "./testing/test-idp";

// Login CSRF: an SP-initiated sign-in is bound to the browser that started it (its binding
// cookie), and its pending request is used up only by a response that passed every check.

let f: SsoFixture;
beforeAll(async () => {
  f = await setupSso();
});

async function consumedAt(relayState: string) {
  const [row] = await getDb().select({ consumedAt: ssoRequests.consumedAt }).from(ssoRequests).where(eq(ssoRequests.relayState, relayState));
  return row!.consumedAt;
}

async function traceOf(traceId: string | null) {
  const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, traceId!));
  return trace!;
}

describe("SP-initiated sign-in is bound to the browser that started it", () => {
  it("refuses the response in a browser without the cookie or with another browser's, with the reason in the trace, and leaves the sign-in open for the right one", async () => {
    // The victim's browser starts a sign-in (cookie A); another browser started its own (cookie B).
    const victim = await f.start();
    const other = await f.start();
    const { base64 } = f.response(victim.requestId, { subject: "bound@example.com", attributes: { email: ["bound@example.com"] } });

    const withoutCookie = await f.post(base64, victim.relayState, null);
    expect(withoutCookie.ok).toBe(false);
    if (withoutCookie.ok) return;
    expect([withoutCookie.check, withoutCookie.environmentKey]).toEqual(["binding", "prod"]);
    expect(withoutCookie.reason).toMatch(/^This browser sent no sign-in cookie: a response is accepted only in the browser that started the sign-in/);
    expect(await traceOf(withoutCookie.traceId)).toMatchObject({ outcome: "failure", failedCheck: "binding", identityProviderId: f.idp.id, reason: withoutCookie.reason });
    const [audit] = await getDb().select({ reason: auditEvents.reason, outcome: auditEvents.outcome }).from(auditEvents).where(eq(auditEvents.reason, `binding: ${withoutCookie.reason}`));
    expect(audit).toEqual({ reason: `binding: ${withoutCookie.reason}`, outcome: "failure" });

    const withOtherCookie = await f.post(base64, victim.relayState, other.binding);
    expect(withOtherCookie.ok).toBe(false);
    if (withOtherCookie.ok) return;
    expect(withOtherCookie.check).toBe("binding");
    expect(withOtherCookie.reason).toMatch(/^This browser's sign-in cookie belongs to another sign-in: the response answers a sign-in started in another browser/);
    expect((await traceOf(withOtherCookie.traceId)).failedCheck).toBe("binding");

    // Only a hash of the cookie is stored; each browser has its own.
    expect(victim.binding).not.toBe(other.binding);
    const [{ bindingHash }] = (await getDb().select({ bindingHash: ssoRequests.bindingHash }).from(ssoRequests).where(eq(ssoRequests.relayState, victim.relayState))) as [{ bindingHash: string }];
    expect(bindingHash).toMatch(/^[0-9a-f]{64}$/);
    expect(bindingHash).not.toContain(victim.binding);

    // Nothing was used up: the browser that started it completes it, with the very same response.
    expect(await consumedAt(victim.relayState)).toBeNull();
    const rightBrowser = await f.post(base64, victim.relayState, victim.binding);
    expect(rightBrowser.ok, rightBrowser.ok ? "" : `${rightBrowser.check}: ${rightBrowser.reason}`).toBe(true);
    if (rightBrowser.ok) expect(rightBrowser.user.email).toBe("bound@example.com");
    expect(await consumedAt(victim.relayState)).not.toBeNull();
  });

  it("does not use up the sign-in for a response that fails the signature check", async () => {
    const started = await f.start();
    const forged = f.response(started.requestId, { key: generateKeyPair("someone-else"), subject: "forged@example.com", attributes: { email: ["forged@example.com"] } });
    const refused = await f.post(forged.base64, started.relayState);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.check).toBe("signature_invalid");
    expect(await consumedAt(started.relayState)).toBeNull();

    const genuine = await f.post(f.response(started.requestId, { subject: "after-forgery@example.com", attributes: { email: ["after-forgery@example.com"] } }).base64, started.relayState);
    expect(genuine.ok, genuine.ok ? "" : `${genuine.check}: ${genuine.reason}`).toBe(true);
  });

  it("keeps IdP-initiated sign-in possible where the IdP allows it: unbound by nature, no cookie needed", async () => {
    await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: true });
    try {
      const result = await f.post(f.response(null, { subject: "unsolicited@example.com", attributes: { email: ["unsolicited@example.com"] } }).base64, "/e/prod", null);
      expect(result.ok, result.ok ? "" : `${result.check}: ${result.reason}`).toBe(true);
    } finally {
      await updateIdentityProvider(systemCtx, f.idp.id, { allowIdpInitiated: false });
    }
  });
});

describe("the binding cookie", () => {
  it("is __Host-, Secure, SameSite=None (the IdP's cross-site POST), HttpOnly, Path=/ and no Domain under https", () => {
    const cookie = ssoBindingCookie(true);
    expect(cookie).toEqual({ name: "__Host-iam_sso_binding", options: { httpOnly: true, secure: true, sameSite: "none", path: "/", maxAge: 600 } });
  });

  it("under plain http, like the session cookies: no prefix, no Secure, and no SameSite (None needs Secure)", () => {
    expect(ssoBindingCookie(false)).toEqual({ name: "iam_sso_binding", options: { httpOnly: true, secure: false, path: "/", maxAge: 600 } });
  });

  it("keeps a browser's value across sign-ins under https (two tabs both complete) and sets a fresh one under http", () => {
    const first = bindingForStart(undefined, true);
    expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bindingForStart(first.value, true)).toEqual(first);
    expect(bindingForStart("not a value we made", true).value).not.toBe("not a value we made");
    expect(bindingForStart(first.value, false).value).not.toBe(first.value);
  });
});

describe("what a sign-in page repeats of a refusal", () => {
  it("not the text of an unsigned answer (a forged Issuer): a link to the sign-in page with its trace shows a fixed sentence; the trace keeps the reason for admins", async () => {
    const { relayState } = await f.start();
    const text = "Your account is locked. Call the help desk at +1-555-0100 or visit https://evil.example/unlock";
    const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>${text}</saml:Issuer></samlp:Response>`;
    const result = await f.postAny(Buffer.from(xml).toString("base64"), relayState);
    if (result.ok) throw new Error("a forged response signed in");
    const trace = (await getTrace(result.traceId!))!;
    expect(trace).toMatchObject({ failedCheck: "issuer", reason: expect.stringContaining(text) });
    expect(signInFailureMessage(trace)).toBe('The identity provider\'s answer was refused (check "issuer"); an administrator can read why in its sign-in traces.');
    // Any check but those decided from our records or a verified answer says the fixed sentence
    // (signature_placement quotes a duplicated ID the sender chose); ours say why, as they are.
    expect(signInFailureMessage({ failedCheck: "signature_placement", reason: 'The ID "Call +1 555 0100" appears twice.' })).toBe(
      'The identity provider\'s answer was refused (check "signature_placement"); an administrator can read why in its sign-in traces.',
    );
    expect(signInFailureMessage({ failedCheck: "user_status", reason: "The account ann@example.com is suspended." })).toBe("The account ann@example.com is suspended.");
  });

  it("a response carrying NUL (as &#0; or raw) is refused as malformed, with a trace, not thrown as a database error", async () => {
    for (const nul of ["&#0;", "&#x000;"]) {
      const xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_n" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.example/${nul}</saml:Issuer></samlp:Response>`;
      const result = await handleAcs({ SAMLResponse: Buffer.from(xml).toString("base64"), RelayState: "" });
      expect(result).toMatchObject({ ok: false, check: "malformed", reason: "The SAML response carries a NUL character (U+0000), which XML does not allow." });
    }
    const relay = await handleAcs({ SAMLResponse: Buffer.from("<x/>").toString("base64"), RelayState: "boxyhq_jackson_\0" });
    expect(relay.ok).toBe(false);
  });
});
