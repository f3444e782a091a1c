import "server-only";
import { X509Certificate } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { XMLSerializer, type Element } from "@xmldom/xmldom";
import type { IdpCertificate } from "@/db/schema";
import { env } from "@/env";
import { ValidationError } from "@/lib/errors";
import { privateHostReason, requestOnce } from "@/lib/net/outbound";
import { NS, parseXml, SamlCheckError, toPem } from "./saml-response";

const MD = "urn:oasis:names:tc:SAML:2.0:metadata";
export const MAX_METADATA_BYTES = 1024 * 1024;

export type ParsedIdpMetadata = {
  entityId: string;
  ssoUrl: string;
  ssoBinding: "redirect" | "post";
  certificates: ReadCertificate[];
};

/** A signing certificate as the metadata gives it (its trust is decided by who reads it, and when). */
export type ReadCertificate = Pick<IdpCertificate, "pem" | "fingerprint" | "notBefore" | "notAfter">;

/** Reads what we need from IdP metadata: entity ID, SSO URL and the signing certificates. */
export function parseIdpMetadata(xml: string, field = "metadataXml"): ParsedIdpMetadata {
  if (xml.length > MAX_METADATA_BYTES) throw new ValidationError("The metadata is larger than 1 MB.", { [field]: ["The metadata is larger than 1 MB."] });
  // A login or landing page fetched instead of metadata: say so (its DOCTYPE would otherwise be the reason given).
  if (/^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE\s+html|<html[\s>])/i.test(xml)) {
    throw ValidationError.field(field, "This is an HTML page, not SAML metadata: use the SAML metadata URL or XML your IdP gives (often ending in /metadata or FederationMetadata.xml).");
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new ValidationError("Metadata with a DOCTYPE or entity declaration is not accepted.", { [field]: ["Metadata with a DOCTYPE or entity declaration is not accepted."] });
  }
  let doc;
  try {
    doc = parseXml(xml);
  } catch (e) {
    const message = e instanceof SamlCheckError ? e.message.replace("SAML response", "metadata") : "The metadata is not XML.";
    throw ValidationError.field(field, message);
  }
  const fail = (message: string): never => {
    throw ValidationError.field(field, message);
  };
  const descriptors = Array.from(doc.getElementsByTagNameNS(MD, "EntityDescriptor"));
  if (descriptors.length !== 1) {
    const root = doc.documentElement;
    fail(
      descriptors.length
        ? "The metadata describes several entities; paste the one IdP's metadata."
        : `This XML is not SAML metadata: its root is <${root?.nodeName ?? "?"}>${root?.namespaceURI ? ` (${root.namespaceURI})` : ""}, where SAML metadata is an EntityDescriptor of ${MD}.`,
    );
  }
  const entity = descriptors[0]!;
  const entityId = entity.getAttribute("entityID")?.trim() ?? "";
  if (!entityId) fail("The metadata has no entityID.");
  const idp = Array.from(entity.getElementsByTagNameNS(MD, "IDPSSODescriptor"))[0];
  if (!idp) fail("The metadata has no IDPSSODescriptor: it is not an identity provider's metadata.");
  const services = Array.from(idp!.getElementsByTagNameNS(MD, "SingleSignOnService"));
  const redirect = services.find((s) => s.getAttribute("Binding")?.endsWith("HTTP-Redirect"));
  const post = services.find((s) => s.getAttribute("Binding")?.endsWith("HTTP-POST"));
  const sso = redirect ?? post;
  const ssoUrl = sso?.getAttribute("Location")?.trim() ?? "";
  if (!ssoUrl || !/^https?:\/\//.test(ssoUrl)) fail("The metadata names no HTTP-Redirect or HTTP-POST SingleSignOnService.");

  const certificates: ReadCertificate[] = [];
  for (const key of Array.from(idp!.getElementsByTagNameNS(MD, "KeyDescriptor"))) {
    const use = key.getAttribute("use");
    if (use && use !== "signing") continue;
    for (const c of Array.from(key.getElementsByTagNameNS(NS.ds, "X509Certificate"))) {
      const pem = toPem(c.textContent ?? "");
      let x509: X509Certificate;
      try {
        x509 = new X509Certificate(pem);
      } catch {
        fail("A signing certificate in the metadata cannot be read.");
        continue;
      }
      if (certificates.some((k) => k.fingerprint === x509.fingerprint256)) continue;
      certificates.push({
        pem,
        fingerprint: x509.fingerprint256,
        notBefore: new Date(x509.validFrom).toISOString(),
        notAfter: new Date(x509.validTo).toISOString(),
      });
    }
  }
  if (certificates.length === 0) fail("The metadata has no signing certificate.");
  return { entityId, ssoUrl, ssoBinding: redirect ? "redirect" : "post", certificates };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** localhost, or an address literal of this machine (127.0.0.0/8, ::1, and IPv4-mapped ones). */
function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost") return true;
  const family = isIP(bare);
  return family === 4 ? LOOPBACK.check(bare, "ipv4") : family === 6 ? LOOPBACK.check(bare, "ipv6") : false;
}

/**
 * Why a metadata URL is not accepted, or null. Metadata carries the certificates assertions are
 * verified with, so it is read over https only: over plain http anyone on the network path could
 * swap them. Plain http is accepted from a loopback address only, and only with
 * ALLOW_PRIVATE_METADATA_URLS on (the demo's and the tests' local IdP). Checked when the URL is
 * saved and again each time it is read. The same rule holds for an OpenID Connect issuer (`what`
 * and `serves` name the URL and what it serves in the refusal).
 */
export function metadataUrlProblem(rawUrl: string, what = "metadata URL", serves = "the metadata and the signing certificates in it"): string | null {
  const The = `The ${what}`;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return "Enter a full https URL.";
  }
  if (url.protocol === "http:") {
    if (!isLoopbackHost(url.hostname)) {
      return `${The} must use https: over plain http anyone on the network path could change ${serves}.`;
    }
    if (!env().ALLOW_PRIVATE_METADATA_URLS) return `${The} must use https (plain http only from a loopback address with ALLOW_PRIVATE_METADATA_URLS on).`;
  } else if (url.protocol !== "https:") {
    return `${The} must use https.`;
  }
  if (url.username || url.password) return `${The} must not carry credentials.`;
  return null;
}

/**
 * Fetches IdP metadata over https (see metadataUrlProblem). Private and loopback targets are
 * refused unless configuration allows them (server-side request forgery); redirects are not
 * followed, so they cannot lead there either.
 */
export async function fetchMetadata(rawUrl: string, field = "metadataUrl"): Promise<string> {
  const fail = (message: string): never => {
    throw ValidationError.field(field, message);
  };
  const problem = metadataUrlProblem(rawUrl);
  if (problem) fail(problem);
  const url = new URL(rawUrl);
  const publicOnly = !env().ALLOW_PRIVATE_METADATA_URLS;
  if (publicOnly) {
    const reason = await privateHostReason(url.hostname, "ALLOW_PRIVATE_METADATA_URLS");
    if (reason) fail(reason);
  }
  let res: { status: number; body: string };
  try {
    // The host is checked again on the connection's own lookup (it may re-resolve elsewhere).
    res = await requestOnce(url.href, { method: "GET", headers: { accept: "application/samlmetadata+xml, application/xml, text/xml" }, timeoutMs: 10_000, publicOnly, maxBytes: MAX_METADATA_BYTES });
  } catch (e) {
    if ((e as { code?: string }).code === "ETOOLARGE") return fail("The metadata is larger than 1 MB.");
    return fail(`The metadata could not be fetched: ${(e as Error).name === "TimeoutError" ? "no answer within 10 seconds" : (e as Error).message}.`);
  }
  if (res.status >= 300 && res.status < 400) fail(`The metadata URL redirects (HTTP ${res.status}); enter the final URL.`);
  if (res.status < 200 || res.status >= 300) fail(`The metadata URL answered HTTP ${res.status}.`);
  return res.body;
}

/**
 * The metadata as the SAML library (Jackson) is given it: the IdP's own, with its signing keys
 * replaced by the approved certificates, so that Jackson verifies with exactly the certificates
 * our own check does (a pending one with neither).
 */
export function metadataWithCertificates(xml: string, approvedPems: readonly string[]): string {
  const doc = parseXml(xml);
  const idp = doc.getElementsByTagNameNS(MD, "IDPSSODescriptor")[0];
  if (!idp) throw new Error("The stored metadata has no IDPSSODescriptor.");
  const elementChildren = () => Array.from(idp.childNodes).filter((n): n is Element => n.nodeType === 1);
  for (const key of elementChildren().filter((e) => e.namespaceURI === MD && e.localName === "KeyDescriptor")) {
    const use = key.getAttribute("use");
    if (!use || use === "signing") idp.removeChild(key);
  }
  // KeyDescriptors come first in an IDPSSODescriptor, after any Signature and Extensions.
  const before = elementChildren().find((e) => !(e.localName === "Signature" && e.namespaceURI === NS.ds) && !(e.localName === "Extensions" && e.namespaceURI === MD)) ?? null;
  for (const pem of approvedPems) {
    const key = doc.createElementNS(MD, "md:KeyDescriptor");
    key.setAttribute("use", "signing");
    const info = doc.createElementNS(NS.ds, "ds:KeyInfo");
    const data = doc.createElementNS(NS.ds, "ds:X509Data");
    const cert = doc.createElementNS(NS.ds, "ds:X509Certificate");
    cert.appendChild(doc.createTextNode(pem.replace(/-----[^-]+-----|\s+/g, "")));
    data.appendChild(cert);
    info.appendChild(data);
    key.appendChild(info);
    idp.insertBefore(key, before);
  }
  return new XMLSerializer().serializeToString(doc);
}

/** A certificate's subject on one line ("CN=idp.example.com, O=Example"). */
export function certificateSubject(pem: string): string {
  try {
    return new X509Certificate(pem).subject.split("\n").join(", ");
  } catch {
    return "unreadable";
  }
}

export const CERTIFICATE_WARNING_DAYS = [90, 30, 7] as const;

/** The nearest warning threshold a certificate has crossed (90, 30 or 7 days), or "expired". */
export function certificateWarning(notAfter: string, now = new Date()): { level: 90 | 30 | 7 | "expired"; days: number } | null {
  const days = Math.floor((new Date(notAfter).getTime() - now.getTime()) / 86_400_000);
  if (days < 0) return { level: "expired", days };
  for (const level of [7, 30, 90] as const) if (days <= level) return { level, days };
  return null;
}
