import "server-only";
import { X509Certificate } from "node:crypto";
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
  certificates: Omit<IdpCertificate, "addedAt">[];
};

/** Reads what we need from IdP metadata: entity ID, SSO URL and the signing certificates. */
export function parseIdpMetadata(xml: string, field = "metadataXml"): ParsedIdpMetadata {
  if (xml.length > MAX_METADATA_BYTES) throw new ValidationError("The metadata is larger than 1 MB.", { [field]: ["The metadata is larger than 1 MB."] });
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
  if (descriptors.length !== 1) fail(descriptors.length ? "The metadata describes several entities; paste the one IdP's metadata." : "No EntityDescriptor found: this is not SAML metadata.");
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

  const certificates: Omit<IdpCertificate, "addedAt">[] = [];
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

/**
 * Fetches IdP metadata. Private and loopback targets are refused unless configuration allows
 * them (server-side request forgery); redirects are not followed, so they cannot lead there either.
 */
export async function fetchMetadata(rawUrl: string, field = "metadataUrl"): Promise<string> {
  const fail = (message: string): never => {
    throw ValidationError.field(field, message);
  };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return fail("Enter a full http(s) URL.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail("The metadata URL must use http or https.");
  if (url.username || url.password) fail("The metadata URL must not carry credentials.");
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

export const CERTIFICATE_WARNING_DAYS = [90, 30, 7] as const;

/** The nearest warning threshold a certificate has crossed (90, 30 or 7 days), or "expired". */
export function certificateWarning(notAfter: string, now = new Date()): { level: 90 | 30 | 7 | "expired"; days: number } | null {
  const days = Math.floor((new Date(notAfter).getTime() - now.getTime()) / 86_400_000);
  if (days < 0) return { level: "expired", days };
  for (const level of [7, 30, 90] as const) if (days <= level) return { level, days };
  return null;
}
