import { X509Certificate, createHash, createPublicKey, type KeyObject } from "node:crypto";
import { DOMParser, type Document, type Element, type Node as XmlNode } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";

// Our checks of a SAML response, on top of Jackson's signature check and before any user is
// touched. Pure: no database, no clock but the one passed in; the ACS handler supplies the
// pending request and the replay cache. Every failure names the check and says why in plain words.

export const NS = {
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
  ds: "http://www.w3.org/2000/09/xmldsig#",
} as const;

export const MAX_RESPONSE_BYTES = 256 * 1024;
export const CLOCK_SKEW_MS = 3 * 60 * 1000;
const SUCCESS_STATUS = "urn:oasis:names:tc:SAML:2.0:status:Success";

export const SAML_CHECKS = [
  "malformed",
  "too_large",
  "dtd",
  "status",
  "assertion_count",
  "encrypted_assertion",
  "issuer",
  "unsigned",
  "signature_invalid",
  "signature_scope",
  "signature_placement",
  "sha1",
  "comment",
  "destination",
  "recipient",
  "subject_confirmation",
  "audience",
  "conditions",
  "not_yet_valid",
  "expired",
  "in_response_to",
  "unsolicited",
  "subject",
] as const;
export type SamlCheck = (typeof SAML_CHECKS)[number];

/** The OpenID Connect checks (lib/sso/oidc.ts): a refusal of either protocol is one check with its reason. */
export type OidcCheck = "discovery" | "idp_error" | "token" | "state" | "nonce" | "issuer" | "audience" | "expired" | "time" | "signature" | "id_token" | "userinfo" | "email_unverified";

export class SamlCheckError extends Error {
  constructor(
    readonly check: SamlCheck | "replay" | "request" | "relay_state" | "jackson" | "binding" | OidcCheck,
    message: string,
    readonly partial?: Partial<VerifiedAssertion>,
  ) {
    super(message);
    this.name = "SamlCheckError";
  }
}

export type VerifiedAssertion = {
  assertionId: string;
  issuer: string;
  subject: string;
  subjectFormat: string | null;
  /** Attribute name → values, read only from the signed assertion. */
  attributes: Record<string, string[]>;
  /** From the signed assertion's bearer SubjectConfirmationData. */
  inResponseTo: string | null;
  /** How many Audience values the assertion's AudienceRestrictions list (ours among them). */
  audienceCount: number;
  /** Until when the assertion (and so its ID in the replay cache) is valid. */
  notOnOrAfter: Date;
  sessionIndex: string | null;
  /** The IdP's AuthnContextClassRef: how it authenticated the person (recorded on the session and the sign-in's audit row). */
  authnContext: string | null;
};

export type CheckOptions = {
  spEntityId: string;
  acsUrl: string;
  /** The IdP's signing certificates (PEM); KeyInfo in the response is never trusted. */
  certificates: readonly string[];
  /** Certificates that await an administrator's approval: never trusted, named in the refusal. */
  pendingCertificates?: readonly string[];
  expectedIssuer: string;
  allowSha1: boolean;
  /** The AuthnRequest ID of the pending SP-initiated request; null for IdP-initiated. */
  expectedInResponseTo: string | null;
  allowUnsolicited: boolean;
  now: Date;
};

/**
 * Decodes the POSTed SAMLResponse and refuses what must never reach an XML parser. A UTF-8
 * byte-order mark before the document is dropped (XML 1.0 allows it; the parser does not); `base64`
 * is then what was checked, encoded again.
 */
export function decodeSamlResponse(base64: string): { xml: string; base64: string } {
  if (base64.length > (MAX_RESPONSE_BYTES * 4) / 3 + 4) {
    throw new SamlCheckError("too_large", `The SAML response is larger than ${MAX_RESPONSE_BYTES / 1024} KB.`);
  }
  const compact = base64.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new SamlCheckError("malformed", "The SAMLResponse parameter is not base64.");
  }
  let xml = Buffer.from(compact, "base64").toString("utf8");
  let checked = compact;
  if (xml.charCodeAt(0) === 0xfeff) {
    xml = xml.slice(1);
    checked = Buffer.from(xml).toString("base64");
  }
  // DTDs enable entity expansion and external entities; a SAML response never needs one.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new SamlCheckError("dtd", "The SAML response contains a DOCTYPE or entity declaration; these are never accepted.");
  }
  // NUL, raw or as a character reference (XML 1.0 allows neither): no field can hold it.
  if (xml.includes("\0") || /&#(0+|x0+);/i.test(xml)) {
    throw new SamlCheckError("malformed", "The SAML response carries a NUL character (U+0000), which XML does not allow.");
  }
  return { xml, base64: checked };
}

export function parseXml(xml: string): Document {
  let doc: Document;
  // The parser's own words for the first error: what it throws wraps them ("Reporting fatalError … caused Error: …").
  let reason: string | undefined;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level === "warning") return;
        reason ??= message.split("\n")[0]!.replace(/^\[xmldom [^\]]*\]\s*/, "").trim();
        throw new Error(message);
      },
    }).parseFromString(xml, "text/xml");
  } catch (e) {
    throw new SamlCheckError("malformed", `The SAML response is not well-formed XML (${reason || (e as Error).message.split("\n")[0]}).`);
  }
  if (!doc.documentElement) throw new SamlCheckError("malformed", "The SAML response is empty.");
  return doc;
}

const children = (el: Element | Document, ns: string, local: string): Element[] =>
  Array.from(el.getElementsByTagNameNS(ns, local));

const directChildren = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local,
  );

const firstChild = (el: Element, ns: string, local: string): Element | undefined => directChildren(el, ns, local)[0];

const text = (el: Element | undefined): string => (el?.textContent ?? "").trim();

function hasComment(node: XmlNode): boolean {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === 8) return true;
    if (child.nodeType === 1 && hasComment(child)) return true;
  }
  return false;
}

/** A certificate as PEM, from PEM or from the bare base64 that metadata and KeyInfo carry. */
export function toPem(cert: string): string {
  if (cert.includes("BEGIN CERTIFICATE")) return cert;
  const body = cert.replace(/\s+/g, "").match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

export function certificateFingerprint(cert: string): string {
  return new X509Certificate(toPem(cert)).fingerprint256;
}

function keyInfoCertificate(signature: Element): string | null {
  const cert = children(signature, NS.ds, "X509Certificate")[0];
  return cert ? text(cert) : null;
}

// Parsed once per certificate: xml-crypto would re-read the PEM on every verification.
const keyCache = new Map<string, KeyObject>();
function publicKeyOf(cert: string): KeyObject {
  let key = keyCache.get(cert);
  if (!key) {
    key = createPublicKey(toPem(cert));
    if (keyCache.size > 500) keyCache.clear();
    keyCache.set(cert, key);
  }
  return key;
}

/**
 * Verifies one enveloped signature with the configured certificates and returns the signed
 * content (canonical XML of what the reference covers), or null when no certificate verifies it.
 */
function verifySignature(xml: string, signature: Element, certificates: readonly string[]): string | null {
  for (const cert of certificates) {
    // KeyInfo is never consulted (getCertFromKeyInfo → null): only the IdP's configured keys count.
    const sig = new SignedXml({ publicCert: publicKeyOf(cert), getCertFromKeyInfo: () => null });
    // SAML names its IDs "ID": one scan of the document per reference instead of three (Id, ID, id).
    // Duplicated IDs are still refused (by xml-crypto for "ID", and by our one-assertion rule).
    sig.idAttributes = ["ID"];
    try {
      sig.loadSignature(signature as unknown as Node);
      if (sig.checkSignature(xml)) {
        const refs = sig.getSignedReferences();
        if (refs.length === 1) return refs[0]!;
      }
    } catch {
      // a reference that does not resolve or a digest that does not match: try the next certificate
    }
  }
  return null;
}

const SHA1 = /#(rsa-)?sha1$|#dsa-sha1$|#hmac-sha1$/;

function parseTime(value: string | null | undefined, what: string): Date | null {
  if (!value) return null;
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new SamlCheckError("conditions", `${what} "${value}" is not a valid time.`);
  return t;
}

/** Every ID attribute value that more than one element carries. */
function duplicateIds(doc: Document): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const el of Array.from(doc.getElementsByTagName("*"))) {
    const id = el.getAttribute("ID");
    if (id === null) continue;
    if (seen.has(id)) twice.add(id);
    seen.add(id);
  }
  return [...twice];
}

/**
 * Runs every structural, signature and validity check. Identity is read only from the content
 * the verified signature covers (so a forged assertion beside a signed one, or a comment inside
 * a NameID, cannot change who signs in).
 */
export function checkSamlResponse(xml: string, opts: CheckOptions, parsed?: Document): VerifiedAssertion {
  const doc = parsed ?? parseXml(xml);
  const response = doc.documentElement!;
  if (response.namespaceURI !== NS.samlp || response.localName !== "Response") {
    throw new SamlCheckError("malformed", `Expected a samlp:Response, got ${response.nodeName}.`);
  }

  const issuerEl = firstChild(response, NS.saml, "Issuer");
  const assertions = children(doc, NS.saml, "Assertion");
  const issuer = text(issuerEl) || text(assertions[0] ? firstChild(assertions[0], NS.saml, "Issuer") : undefined);

  const statusCode = children(response, NS.samlp, "StatusCode")[0]?.getAttribute("Value");
  if (statusCode !== SUCCESS_STATUS) {
    throw new SamlCheckError("status", `The IdP reported the sign-in as failed (status ${statusCode ?? "missing"}).`, { issuer });
  }
  if (children(doc, NS.saml, "EncryptedAssertion").length > 0) {
    throw new SamlCheckError("encrypted_assertion", "Encrypted assertions are not accepted: turn off assertion encryption for this SP in the IdP.", { issuer });
  }
  if (assertions.length !== 1) {
    throw new SamlCheckError("assertion_count", `The response must contain exactly one assertion; it contains ${assertions.length}.`, { issuer });
  }
  // The response's Issuer (unsigned when only the assertion is signed) here; the signed
  // assertion's own Issuer once its signature is verified, below.
  if (issuer !== opts.expectedIssuer) {
    throw new SamlCheckError("issuer", `The issuer "${issuer}" is not this IdP's entity ID "${opts.expectedIssuer}".`, { issuer });
  }

  // Signatures: where the Web SSO profile puts them (enveloped, one as a direct child of the
  // Response and/or one of the Assertion, each covering its parent) and nowhere else; every
  // signature present must verify with the IdP's keys, not only the one identity is read from.
  const assertionInDoc = assertions[0]!;
  const allSignatures = children(doc, NS.ds, "Signature");
  if (allSignatures.length === 0) {
    throw new SamlCheckError("unsigned", "Neither the response nor the assertion is signed.", { issuer });
  }
  const placed = [
    { what: "response", element: response, signatures: directChildren(response, NS.ds, "Signature") },
    { what: "assertion", element: assertionInDoc, signatures: directChildren(assertionInDoc, NS.ds, "Signature") },
  ] as const;
  for (const { what, signatures } of placed) {
    if (signatures.length > 1) {
      throw new SamlCheckError("signature_placement", `The ${what} carries ${signatures.length} signatures; the SAML profile allows one.`, { issuer });
    }
  }
  const misplaced = allSignatures.find((s) => s.parentNode !== response && s.parentNode !== assertionInDoc);
  if (misplaced) {
    throw new SamlCheckError(
      "signature_placement",
      `A signature sits inside <${(misplaced.parentNode as Element | null)?.nodeName ?? "?"}>, where the SAML profile allows none; only the response and the assertion themselves may be signed.`,
      { issuer },
    );
  }
  const duplicated = duplicateIds(doc);
  if (duplicated.length) {
    throw new SamlCheckError("signature_placement", `More than one element carries the ID "${duplicated[0]}"; IDs must be unique, or a signature could cover another element than the one read.`, { issuer });
  }
  for (const { what, element, signatures } of placed) {
    const s = signatures[0];
    if (!s) continue;
    const id = element.getAttribute("ID") ?? "";
    const uris = children(s, NS.ds, "Reference").map((r) => r.getAttribute("URI"));
    if (!id || uris.length !== 1 || uris[0] !== `#${id}`) {
      throw new SamlCheckError("signature_placement", `The ${what}'s signature must cover the ${what} itself (one reference, to "#${id}"); it refers to ${uris.map((u) => `"${u ?? ""}"`).join(", ") || "nothing"}.`, { issuer });
    }
    const algorithms = [
      ...children(s, NS.ds, "SignatureMethod").map((m) => m.getAttribute("Algorithm") ?? ""),
      ...children(s, NS.ds, "DigestMethod").map((m) => m.getAttribute("Algorithm") ?? ""),
    ];
    if (!opts.allowSha1 && algorithms.some((a) => SHA1.test(a))) {
      throw new SamlCheckError("sha1", "The response is signed with SHA-1, which this IdP is not allowed to use (allow it on the IdP only if it cannot sign with SHA-256).", { issuer });
    }
  }
  const assertionId = assertionInDoc.getAttribute("ID") ?? "";
  const signedContent: { response?: string; assertion?: string } = {};
  for (const { what, signatures } of placed) {
    const s = signatures[0];
    if (!s) continue;
    const signed = verifySignature(xml, s, opts.certificates);
    if (signed === null) {
      const pending = opts.pendingCertificates?.find((c) => verifySignature(xml, s, [c]) !== null);
      if (pending) {
        throw new SamlCheckError(
          "signature_invalid",
          `The response is signed with the certificate ${safeFingerprint(pending)}, which appeared in this IdP's metadata and awaits an administrator's approval in the console.`,
          { issuer },
        );
      }
      const carried = keyInfoCertificate(s);
      const known = carried ? opts.certificates.some((c) => safeFingerprint(c) === safeFingerprint(carried)) : true;
      throw new SamlCheckError(
        "signature_invalid",
        known
          ? `The ${what}'s signature does not verify with this IdP's signing certificates (wrong key, or the signed content was altered).`
          : `The ${what} is signed with a certificate that is not one of this IdP's; the certificate carried in KeyInfo is ignored.`,
        { issuer },
      );
    }
    signedContent[what] = signed;
  }
  // Identity rests on the signed copy of the assertion: its own signature's content when it has
  // one (smaller to parse), else the assertion inside the signed response.
  let signedAssertion: Element | null = null;
  if (signedContent.assertion !== undefined) {
    const root = parseXml(signedContent.assertion).documentElement!;
    if (root.namespaceURI === NS.saml && root.localName === "Assertion" && root.getAttribute("ID") === assertionId) signedAssertion = root;
  } else if (signedContent.response !== undefined) {
    const inside = children(parseXml(signedContent.response), NS.saml, "Assertion");
    if (inside.length === 1 && inside[0]!.getAttribute("ID") === assertionId) signedAssertion = inside[0]!;
  }
  if (!signedAssertion) {
    throw new SamlCheckError("signature_scope", "No valid signature covers the assertion.", { issuer });
  }
  const assertion = signedAssertion;
  const assertionIssuer = text(firstChild(assertion, NS.saml, "Issuer"));
  if (assertionIssuer !== opts.expectedIssuer) {
    throw new SamlCheckError("issuer", `The signed assertion's issuer "${assertionIssuer || "(missing)"}" is not this IdP's entity ID "${opts.expectedIssuer}".`, { issuer });
  }

  // Identity, read from the signed content.
  const subjectEl = firstChild(assertion, NS.saml, "Subject");
  const nameId = subjectEl ? firstChild(subjectEl, NS.saml, "NameID") : undefined;
  const attributes: Record<string, string[]> = {};
  for (const attr of children(assertion, NS.saml, "Attribute")) {
    const name = attr.getAttribute("Name") ?? "";
    if (hasComment(attr)) {
      throw new SamlCheckError("comment", `The attribute "${name}" contains an XML comment, a known way to alter a signed value; refused.`, { issuer });
    }
    attributes[name] = [...(attributes[name] ?? []), ...directChildren(attr, NS.saml, "AttributeValue").map((v) => text(v))];
  }
  // Conservative: the canonical form used for signing drops comments, so their presence in the
  // original document (not the signed copy) is what betrays the trick.
  const originalNameId = children(assertionInDoc, NS.saml, "NameID")[0];
  if ((nameId && hasComment(nameId)) || (originalNameId && hasComment(originalNameId))) {
    throw new SamlCheckError("comment", "The NameID contains an XML comment, a known way to alter a signed value; refused.", { issuer });
  }
  for (const attr of children(assertionInDoc, NS.saml, "Attribute")) {
    if (hasComment(attr)) {
      throw new SamlCheckError("comment", `The attribute "${attr.getAttribute("Name")}" contains an XML comment, a known way to alter a signed value; refused.`, { issuer });
    }
  }
  const subject = text(nameId);
  const partial = { issuer, subject, attributes, assertionId };
  if (!subject) throw new SamlCheckError("subject", "The assertion has no NameID (subject).", partial);

  // Where the response was sent.
  const destination = response.getAttribute("Destination");
  if (destination !== opts.acsUrl) {
    throw new SamlCheckError("destination", `The response's Destination "${destination ?? "(missing)"}" is not our ACS URL "${opts.acsUrl}".`, partial);
  }
  const confirmations = subjectEl ? directChildren(subjectEl, NS.saml, "SubjectConfirmation") : [];
  const bearer = confirmations.find((c) => c.getAttribute("Method") === "urn:oasis:names:tc:SAML:2.0:cm:bearer");
  const confirmationData = bearer ? firstChild(bearer, NS.saml, "SubjectConfirmationData") : undefined;
  const recipient = confirmationData?.getAttribute("Recipient");
  if (recipient !== opts.acsUrl) {
    throw new SamlCheckError("recipient", `The subject confirmation's Recipient "${recipient ?? "(missing)"}" is not our ACS URL "${opts.acsUrl}".`, partial);
  }
  // The Web SSO profile (SAML Profiles 4.1.4.2): a bearer confirmation MUST bound its own life
  // with NotOnOrAfter and MUST NOT carry NotBefore; the Conditions do not stand in for either.
  if (confirmationData!.hasAttribute("NotBefore")) {
    throw new SamlCheckError("subject_confirmation", "The bearer SubjectConfirmationData carries NotBefore, which the Web SSO profile forbids (SAML Profiles 4.1.4.2); refused.", partial);
  }
  const confirmationEnd = parseTime(confirmationData!.getAttribute("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter");
  if (!confirmationEnd) {
    throw new SamlCheckError("subject_confirmation", "The bearer SubjectConfirmationData has no NotOnOrAfter, which the Web SSO profile requires (SAML Profiles 4.1.4.2); the Conditions do not stand in for it. Refused.", partial);
  }

  // Conditions: present, for us, and valid now (3 minutes of skew either way).
  const conditions = firstChild(assertion, NS.saml, "Conditions");
  if (!conditions) {
    throw new SamlCheckError("conditions", "The assertion has no Conditions, so nothing limits where and how long it is valid; refused.", partial);
  }
  // SAML Core 2.5.1.4: each AudienceRestriction is met when we are any one of its audiences; every
  // one of them must be met. Exact equality: a prefix is not us.
  const restrictions = directChildren(conditions, NS.saml, "AudienceRestriction").map((r) => directChildren(r, NS.saml, "Audience").map((a) => text(a)));
  if (restrictions.length === 0 || restrictions.some((r) => r.length === 0)) {
    throw new SamlCheckError("audience", "The assertion names no Audience.", partial);
  }
  const unmet = restrictions.find((r) => !r.includes(opts.spEntityId));
  if (unmet) {
    throw new SamlCheckError(
      "audience",
      unmet.length === 1
        ? `The Audience "${unmet[0]}" is not our SP entity ID "${opts.spEntityId}" (it must be equal, not merely start with it).`
        : `None of the audiences ${unmet.map((a) => `"${a}"`).join(", ")} of an AudienceRestriction is our SP entity ID "${opts.spEntityId}" (one must be equal, not merely start with it).`,
      partial,
    );
  }
  const now = opts.now.getTime();
  const notBefore = parseTime(conditions.getAttribute("NotBefore"), "NotBefore");
  const conditionsEnd = parseTime(conditions.getAttribute("NotOnOrAfter"), "NotOnOrAfter");
  if (notBefore && notBefore.getTime() - CLOCK_SKEW_MS > now) {
    throw new SamlCheckError("not_yet_valid", `The assertion is not valid before ${notBefore.toISOString()}, more than 3 minutes from now.`, partial);
  }
  for (const end of [conditionsEnd, confirmationEnd]) {
    if (end && end.getTime() + CLOCK_SKEW_MS <= now) {
      throw new SamlCheckError("expired", `The assertion expired at ${end.toISOString()}.`, partial);
    }
  }
  const notOnOrAfter = new Date(Math.min(...[conditionsEnd, confirmationEnd].filter((d): d is Date => !!d).map((d) => d.getTime())) + CLOCK_SKEW_MS);

  // Which request this answers: the signed assertion says it (its bearer confirmation's
  // InResponseTo); the response's own value, not signed when only the assertion is, must agree.
  const responseInResponseTo = response.getAttribute("InResponseTo") || null;
  const confirmationInResponseTo = confirmationData!.getAttribute("InResponseTo") || null;
  if (opts.expectedInResponseTo) {
    if (!confirmationInResponseTo) {
      throw new SamlCheckError(
        "in_response_to",
        "The signed assertion does not say which sign-in request it answers (InResponseTo is missing from its SubjectConfirmationData; the response's own value is not covered by the assertion's signature).",
        partial,
      );
    }
    for (const value of [confirmationInResponseTo, responseInResponseTo]) {
      if (value && value !== opts.expectedInResponseTo) {
        throw new SamlCheckError("in_response_to", `InResponseTo "${value}" does not match the pending sign-in request.`, partial);
      }
    }
  } else {
    if (!opts.allowUnsolicited) {
      throw new SamlCheckError("unsolicited", "IdP-initiated sign-in is turned off for this identity provider; start the sign-in from our page.", partial);
    }
    if (responseInResponseTo || confirmationInResponseTo) {
      throw new SamlCheckError("in_response_to", "The response answers a request we have no record of (unknown InResponseTo).", partial);
    }
  }

  const authn = firstChild(assertion, NS.saml, "AuthnStatement");
  return {
    assertionId,
    issuer,
    subject,
    subjectFormat: nameId?.getAttribute("Format") || null,
    attributes,
    inResponseTo: confirmationInResponseTo,
    audienceCount: restrictions.flat().length,
    notOnOrAfter,
    sessionIndex: authn?.getAttribute("SessionIndex") || null,
    // How the IdP authenticated the person (e.g. …:PasswordProtectedTransport, or a multi-factor class).
    authnContext: (authn ? firstChild(firstChild(authn, NS.saml, "AuthnContext") ?? authn, NS.saml, "AuthnContextClassRef")?.textContent?.trim() : null) || null,
  };
}

function safeFingerprint(cert: string): string {
  try {
    return certificateFingerprint(cert);
  } catch {
    return createHash("sha256").update(cert.replace(/\s+/g, "")).digest("hex");
  }
}

/** The first Issuer of a parsed response (to find the IdP; checkSamlResponse checks it properly). */
export function peekIssuer(doc: Document): string | null {
  return text(children(doc, NS.saml, "Issuer")[0]) || null;
}
