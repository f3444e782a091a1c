import { inflateRawSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { ssoTraces, userIdentities, users, type IdentityProvider } from "@/db/schema";
import { countRows, createVerifiedUser, systemCtx } from "@/test-support/fixtures";
import { getEnvironmentAuth, updateEnvironmentAuth } from "./environment-auth";
import { handleAcs, startSso } from "./flow";
import { createIdentityProvider } from "./identity-providers";
import { setupSso, type SsoFixture } from "./testing/fixture";
import { buildResponse, generateKeyPair, idpMetadata, type KeyPair } from "./testing/test-idp";

// A further IdP of an environment (home realm discovery by email domain) signs in only the domains
// it is listed for; the main IdP, any. A partner's IdP asserting a corp address is refused, before
// it can match, link, rename or create (JIT) that account.

let f: SsoFixture;
let partner: IdentityProvider;
const partnerKey: KeyPair = generateKeyPair("partner");
const partnerEntity = "https://partner.example/saml";

beforeAll(async () => {
  f = await setupSso({ jit: true, groupSync: true });
  partner = await createIdentityProvider(systemCtx, { name: "Partner IdP", metadataXml: idpMetadata(partnerEntity, "https://partner.example/sso", [partnerKey.certBase64]) });
  await updateEnvironmentAuth(systemCtx, f.envs.prod.id, { ...(await getEnvironmentAuth(f.envs.prod.id)), breakGlassUserIds: [], additionalIdentityProviders: [{ identityProviderId: partner.id, domains: ["partner.example"] }] });
});

/** An SP-initiated sign-in to PROD through the partner IdP, answered with `email` for `subject`. */
async function viaPartner(subject: string, email: string) {
  const started = await startSso(f.envs.prod.key, { identityProviderId: partner.id });
  if (!("redirectUrl" in started)) throw new Error("a redirect to the IdP was expected");
  const url = new URL(started.redirectUrl);
  const requestId = inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest")!, "base64")).toString("utf8").match(/ID="([^"]+)"/)![1]!;
  const { base64 } = buildResponse({
    key: partnerKey,
    issuer: partnerEntity,
    destination: f.sp.acsUrl,
    audience: f.sp.entityId,
    subject,
    attributes: { email: [email], name: ["Mallory"], groups: [] },
    inResponseTo: requestId,
  });
  return handleAcs({ SAMLResponse: base64, RelayState: url.searchParams.get("RelayState")!, browserBinding: started.binding, ip: "203.0.113.5" });
}

describe("a further IdP's email domains", () => {
  it("refuses a partner IdP's assertion of a corp address: no match, no link, no rename, no JIT account; the trace says why", async () => {
    const cfo = await createVerifiedUser(systemCtx, { email: "cfo@corp.example", name: "CFO", environmentIds: [f.envs.prod.id] });
    const before = { identities: await countRows("user_identities"), users: await countRows("users") };
    const reason = "Partner IdP signs in to PROD only for partner.example; it asserted cfo@corp.example.";
    const taken = await viaPartner("partner-user-1", "cfo@corp.example");
    expect(taken).toMatchObject({ ok: false, check: "domain", reason });
    const squat = await viaPartner("partner-user-2", "new.hire@corp.example");
    expect(squat).toMatchObject({ ok: false, check: "domain", reason: "Partner IdP signs in to PROD only for partner.example; it asserted new.hire@corp.example." });
    expect({ identities: await countRows("user_identities"), users: await countRows("users") }).toEqual(before);
    const [unchanged] = await getDb().select({ name: users.name }).from(users).where(eq(users.id, cfo.id));
    expect(unchanged!.name).toBe("CFO");
    if (taken.ok) return;
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, taken.traceId!));
    expect(trace).toMatchObject({ failedCheck: "domain", identityProviderId: partner.id });
  });

  it("signs in the partner's own domain, any case (JIT creates the account)", async () => {
    const result = await viaPartner("partner-user-3", "Guest@Partner.Example");
    expect(result.ok).toBe(true);
    const linked = await getDb().select({ userId: userIdentities.userId }).from(userIdentities).where(eq(userIdentities.subject, "partner-user-3"));
    expect(linked).toHaveLength(1);
  });

  it("leaves the main IdP free to assert any domain", async () => {
    const result = await f.signIn({ subject: "corp-partner-guest", attributes: { email: ["someone@partner.example"], name: ["Someone"], groups: [] } });
    expect(result.ok).toBe(true);
  });
});
