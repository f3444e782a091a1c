// A test IdP: its own key pair and certificate (openssl), metadata, and fresh SAML responses
// signed with xml-crypto (or xmlsec1), which tests mutate and re-sign to exercise each check.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { SignedXml } from "xml-crypto";

export type KeyPair = { keyPem: string; certPem: string; certBase64: string };

export function generateKeyPair(commonName = "test-idp"): KeyPair {
  const dir = mkdtempSync(path.join(tmpdir(), "idp-key-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "825",
      "-subj", `/CN=${commonName}`, "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    const keyPem = readFileSync(path.join(dir, "key.pem"), "utf8");
    const certPem = readFileSync(path.join(dir, "cert.pem"), "utf8");
    return { keyPem, certPem, certBase64: certPem.replace(/-----[^-]+-----|\s+/g, "") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function idpMetadata(entityId: string, ssoUrl: string, certs: string[]): string {
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
${certs.map((c) => `    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`).join("\n")}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${ssoUrl}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

export type ResponseOptions = {
  issuer: string;
  destination: string;
  recipient?: string;
  audience: string | null;
  /** The AudienceRestrictions, each with its audiences (instead of the one `audience`). */
  audiences?: string[][];
  subject: string;
  attributes?: Record<string, string[]>;
  inResponseTo?: string | null;
  /** The bearer SubjectConfirmationData's InResponseTo, when it differs from the response's. */
  confirmationInResponseTo?: string | null;
  /** A NotBefore on the bearer SubjectConfirmationData (the Web SSO profile forbids one). */
  confirmationNotBefore?: Date;
  /** The bearer SubjectConfirmationData's NotOnOrAfter (default: the Conditions'); null: none. */
  confirmationNotOnOrAfter?: Date | null;
  notBefore?: Date;
  notOnOrAfter?: Date;
  withConditions?: boolean;
  assertionId?: string;
  sign?: "assertion" | "response" | "both" | "none";
  sha1?: boolean;
  key?: KeyPair;
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export function buildAssertion(o: ResponseOptions): { id: string; xml: string } {
  const now = new Date();
  const id = o.assertionId ?? `_a${randomUUID().replace(/-/g, "")}`;
  const notBefore = o.notBefore ?? new Date(now.getTime() - 30_000);
  const notOnOrAfter = o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
  const confirmationIrt = o.confirmationInResponseTo === undefined ? o.inResponseTo : o.confirmationInResponseTo;
  const irt = confirmationIrt ? ` InResponseTo="${esc(confirmationIrt)}"` : "";
  const confirmationEnd = o.confirmationNotOnOrAfter === undefined ? notOnOrAfter : o.confirmationNotOnOrAfter;
  const confirmationTimes =
    (o.confirmationNotBefore ? ` NotBefore="${iso(o.confirmationNotBefore)}"` : "") + (confirmationEnd ? ` NotOnOrAfter="${iso(confirmationEnd)}"` : "");
  const restrictions = o.audiences ?? (o.audience === null ? [] : [[o.audience]]);
  const attrs = Object.entries(o.attributes ?? {})
    .map(([name, values]) => `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join("")}</saml:Attribute>`)
    .join("");
  const conditions =
    o.withConditions === false
      ? ""
      : `<saml:Conditions NotBefore="${iso(notBefore)}" NotOnOrAfter="${iso(notOnOrAfter)}">${restrictions.map((r) => `<saml:AudienceRestriction>${r.map((a) => `<saml:Audience>${esc(a)}</saml:Audience>`).join("")}</saml:AudienceRestriction>`).join("")}</saml:Conditions>`;
  const xml =
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="${id}" Version="2.0" IssueInstant="${iso(now)}">` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(o.subject)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData${confirmationTimes} Recipient="${esc(o.recipient ?? o.destination)}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
    conditions +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s${randomUUID().slice(0, 8)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    (attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : "") +
    `</saml:Assertion>`;
  return { id, xml };
}

export function wrapInResponse(o: Pick<ResponseOptions, "issuer" | "destination" | "inResponseTo">, assertionXml: string, responseId = `_r${randomUUID().replace(/-/g, "")}`): string {
  const irt = o.inResponseTo ? ` InResponseTo="${esc(o.inResponseTo)}"` : "";
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${iso(new Date())}" Destination="${esc(o.destination)}"${irt}>` +
    `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertionXml +
    `</samlp:Response>`
  );
}

const RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

/** Signs the element with the given ID (enveloped, exclusive c14n), the signature after its Issuer. */
export function signElement(xml: string, elementId: string, key: KeyPair, sha1 = false): string {
  const sig = new SignedXml({
    privateKey: key.keyPem,
    publicCert: key.certPem,
    signatureAlgorithm: sha1 ? RSA_SHA1 : RSA_SHA256,
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  sig.addReference({
    xpath: `//*[@ID='${elementId}']`,
    transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
    digestAlgorithm: sha1 ? "http://www.w3.org/2000/09/xmldsig#sha1" : "http://www.w3.org/2001/04/xmlenc#sha256",
  });
  sig.computeSignature(xml, { location: { reference: `//*[@ID='${elementId}']/*[local-name(.)='Issuer']`, action: "after" } });
  return sig.getSignedXml();
}

/** Signs with xmlsec1 (an implementation independent of Node), for a control case. */
export function signWithXmlsec1(xml: string, elementId: string, key: KeyPair, localName: "Assertion" | "Response"): string {
  const dir = mkdtempSync(path.join(tmpdir(), "xmlsec-"));
  try {
    const template = xml.replace(
      new RegExp(`(<(saml|samlp):${localName}[^>]*ID="${elementId}"[^>]*>\\s*<saml:Issuer>[^<]*</saml:Issuer>)`),
      `$1<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="${RSA_SHA256}"/><ds:Reference URI="#${elementId}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>`,
    );
    writeFileSync(path.join(dir, "in.xml"), template);
    writeFileSync(path.join(dir, "key.pem"), key.keyPem);
    writeFileSync(path.join(dir, "cert.pem"), key.certPem);
    const ns = localName === "Assertion" ? "urn:oasis:names:tc:SAML:2.0:assertion" : "urn:oasis:names:tc:SAML:2.0:protocol";
    return execFileSync("xmlsec1", [
      "--sign", "--privkey-pem", `${path.join(dir, "key.pem")},${path.join(dir, "cert.pem")}`,
      "--id-attr:ID", `${ns}:${localName}`, path.join(dir, "in.xml"),
    ], { encoding: "utf8" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A complete response, signed as asked, base64-encoded as the browser would POST it. */
export function buildResponse(o: ResponseOptions & { key: KeyPair }): { base64: string; xml: string; assertionId: string } {
  const { id, xml: assertion } = buildAssertion(o);
  const sign = o.sign ?? "both";
  const signedAssertion = sign === "assertion" || sign === "both" ? signElement(assertion, id, o.key, o.sha1) : assertion;
  const responseId = `_r${randomUUID().replace(/-/g, "")}`;
  let xml = wrapInResponse(o, signedAssertion, responseId);
  if (sign === "response" || sign === "both") xml = signElement(xml, responseId, o.key, o.sha1);
  return { base64: Buffer.from(xml).toString("base64"), xml, assertionId: id };
}

export const toBase64 = (xml: string) => Buffer.from(xml).toString("base64");
