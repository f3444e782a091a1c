import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments } from "@/test-support/fixtures";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");
const settings = await import("../settings/actions");

let env: { dev: Environment; test: Environment; prod: Environment };
const xml = idpMetadata("https://actions-idp.example/md", "https://actions-idp.example/sso", [generateKeyPair("actions").certBase64]);
beforeAll(async () => {
  env = await createEnvironments();
});
beforeEach(() => cookieJar.clear());

const authInput = () => ({
  passwordEnabled: true,
  ssoEnabled: false,
  identityProviderId: null,
  enforcement: "optional",
  jitEnabled: false,
  groupSyncEnabled: false,
  sessionLifetimeMinutes: 720,
  idleTimeoutMinutes: 60,
});

describe("identity provider and authentication actions", () => {
  it("refuse callers without a session and reviewers, with the reason, writing nothing", async () => {
    const id = crypto.randomUUID();
    const anonymous = await Promise.all([
      actions.createIdpAction({ name: "x", metadataXml: xml }),
      actions.updateIdpAction(id, { name: "y" }),
      actions.refreshMetadataAction(id, {}),
      actions.approveCertificateAction(id, { fingerprint: "AA" }),
      actions.removeCertificateAction(id, { fingerprint: "AA" }),
      actions.deleteIdpAction(id),
      actions.setGroupMappingsAction(id, { environmentId: env.dev.id, mappings: [] }),
      actions.previewTraceAction(id),
      actions.linkIdentityAction(id),
      settings.updateEnvironmentAuthAction(env.dev.id, authInput()),
    ]);
    expect(anonymous).toHaveLength(Object.keys(actions).length + 1);
    for (const r of anonymous) expect(r).toEqual({ ok: false, error: "Your session has ended. Sign in again." });

    await signInAs("reviewer");
    expect(await actions.createIdpAction({ name: "x", metadataXml: xml })).toEqual({ ok: false, error: "A reviewer cannot change identity providers." });
    expect(await settings.updateEnvironmentAuthAction(env.dev.id, authInput())).toEqual({ ok: false, error: "A reviewer cannot change environment auth." });
    expect(await countRows("identity_providers")).toBe(0);
  });

  it("let an environment admin change their environment's authentication but not another's, nor IdPs", async () => {
    await signInAs("environment_admin", [env.dev.id]);
    expect(await actions.createIdpAction({ name: "x", metadataXml: xml })).toEqual({ ok: false, error: "An environment admin cannot change identity providers." });
    expect(await settings.updateEnvironmentAuthAction(env.prod.id, authInput())).toMatchObject({ ok: false, error: "This change touches an environment outside your scope." });
    expect(await settings.updateEnvironmentAuthAction(env.dev.id, authInput())).toMatchObject({ ok: true });
  });

  it("let an owner connect an IdP, with field errors for bad metadata", async () => {
    await signInAs("owner");
    const bad = await actions.createIdpAction({ name: "", metadataXml: "<nope/>" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.fieldErrors).toMatchObject({ name: ["Enter a name."] });
    const badXml = await actions.createIdpAction({ name: "Bad", metadataXml: "<nope/>" });
    expect(!badXml.ok && badXml.fieldErrors?.metadataXml?.[0]).toMatch(/^This XML is not SAML metadata: its root is <nope>/);
    const plainHttp = await actions.createIdpAction({ name: "Plain", metadataUrl: "http://idp.example.com/metadata" });
    expect(!plainHttp.ok && plainHttp.fieldErrors?.metadataUrl?.[0]).toMatch(/^The metadata URL must use https: over plain http anyone on the network path/);
    const ok = await actions.createIdpAction({ name: "Good", metadataXml: xml });
    expect(ok.ok).toBe(true);
  });
});
