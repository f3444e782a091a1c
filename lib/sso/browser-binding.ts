import { timingSafeEqual } from "node:crypto";
import { servedOverHttps } from "@/env";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";

// Login CSRF protection for SP-initiated SAML: the browser that starts a sign-in gets a cookie
// holding a random value; the pending request (sso_requests) keeps only its SHA-256; the ACS
// accepts a response for that request only from a browser that sends the same value. Without it,
// an attacker could complete SSO as themselves and have a victim's browser post their response:
// the victim would be signed in as the attacker.
//
// The cookie must reach the ACS on the IdP's cross-site form POST, so under https it is
// SameSite=None (which needs Secure), with the `__Host-` prefix (Secure, Path=/, no Domain).
// Under plain http (development and tests only, like the session cookies: no prefix, no Secure)
// SameSite=None is impossible; the cookie then carries no SameSite attribute, and a new value is
// set at every start, so Chromium's Lax-by-default still sends it on the IdP's top-level POST for
// 2 minutes after it was set (its "Lax+POST" allowance); other browsers send it anyway.

/** How long an SP-initiated sign-in may take (the pending request's life, and the cookie's). */
export const SSO_REQUEST_MINUTES = 10;
const BINDING_COOKIE_SECONDS = SSO_REQUEST_MINUTES * 60;

export type BindingCookie = {
  name: string;
  options: { httpOnly: true; secure: boolean; sameSite?: "none"; path: "/"; maxAge: number };
};

export function ssoBindingCookie(https: boolean = servedOverHttps()): BindingCookie {
  return https
    ? { name: "__Host-iam_sso_binding", options: { httpOnly: true, secure: true, sameSite: "none", path: "/", maxAge: BINDING_COOKIE_SECONDS } }
    : { name: "iam_sso_binding", options: { httpOnly: true, secure: false, path: "/", maxAge: BINDING_COOKIE_SECONDS } };
}

const VALUE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The binding value for a sign-in this browser starts: under https the browser's current value
 * when it has a well-formed one (so sign-ins started in two tabs both stay completable), otherwise
 * a new random one (always under http, see above).
 */
export function bindingForStart(current: string | undefined, https: boolean = servedOverHttps()): { value: string; hash: string } {
  const value = https && current && VALUE.test(current) ? current : newSecretToken();
  return { value, hash: hashToken(value) };
}

export type BindingCheck = { ok: true } | { ok: false; reason: string };

/** Whether the browser's cookie value is the one the pending request was started with. */
export function checkBinding(cookieValue: string | undefined, storedHash: string): BindingCheck {
  if (!cookieValue) {
    return {
      ok: false,
      reason:
        "This browser sent no sign-in cookie: a response is accepted only in the browser that started the sign-in (protection against signing you in to someone else's account). Start the sign-in again from this browser.",
    };
  }
  const sent = Buffer.from(hashToken(cookieValue.slice(0, 200)), "hex");
  const stored = Buffer.from(storedHash, "hex");
  if (sent.length !== stored.length || !timingSafeEqual(sent, stored)) {
    return {
      ok: false,
      reason:
        "This browser's sign-in cookie belongs to another sign-in: the response answers a sign-in started in another browser, so it is refused (protection against signing you in to someone else's account). Start the sign-in again from this browser.",
    };
  }
  return { ok: true };
}
