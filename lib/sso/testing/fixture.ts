import { inflateRawSync } from "node:zlib";
import type { Environment, IdentityProvider } from "@/db/schema";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { spEndpoints } from "../endpoints";
import { updateEnvironmentAuth } from "../environment-auth";
import { handleAcs, startConsoleSso, startSso, type AcsResult } from "../flow";
import { createIdentityProvider } from "../identity-providers";
import { buildResponse, generateKeyPair, idpMetadata, type KeyPair, type ResponseOptions } from "./test-idp";

export type SsoFixture = Awaited<ReturnType<typeof setupSso>>;

/** Environments, a test IdP connected through the domain layer, and PROD signing in with it. */
export async function setupSso(options: { jit?: boolean; groupSync?: boolean; allowIdpInitiated?: boolean; key?: KeyPair; metadataUrl?: string } = {}) {
  const envs = await createEnvironments();
  const key: KeyPair = options.key ?? generateKeyPair("test-idp");
  const entityId = "https://idp.example.test/metadata";
  // By its metadata URL (the caller serves idpMetadata there), or by pasted metadata XML.
  const idp: IdentityProvider = await createIdentityProvider(
    systemCtx,
    options.metadataUrl ? { name: "Test IdP", metadataUrl: options.metadataUrl } : { name: "Test IdP", metadataXml: idpMetadata(entityId, "https://idp.example.test/sso", [key.certBase64]) },
  );
  if (options.allowIdpInitiated) {
    const { updateIdentityProvider } = await import("../identity-providers");
    await updateIdentityProvider(systemCtx, idp.id, { allowIdpInitiated: true });
  }
  await configureSso(envs.prod, idp, options);
  const sp = spEndpoints();
  // The binding cookie each sign-in's browser got, by RelayState: post() sends it like that browser.
  const bindings = new Map<string, string>();

  /**
   * Starts an SP-initiated sign-in and returns what the IdP would see, and the binding cookie the
   * starting browser got (`browserBinding`: the cookie it already had).
   */
  async function start(env: Environment = envs.prod, returnTo?: string, browserBinding?: string) {
    const res = await startSso(env.key, { returnTo, browserBinding });
    if (!("redirectUrl" in res)) throw new Error("expected a redirect");
    const url = new URL(res.redirectUrl);
    const request = inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest")!, "base64")).toString("utf8");
    const relayState = url.searchParams.get("RelayState")!;
    bindings.set(relayState, res.binding);
    return { relayState, requestId: request.match(/ID="([^"]+)"/)![1]!, request, url, binding: res.binding };
  }

  /**
   * Posts a response to the ACS as the browser that started the sign-in of this RelayState would
   * (with its binding cookie), or with the cookie given (null: none).
   */
  function postAny(base64: string, relayState: string, binding: string | null = bindings.get(relayState) ?? null) {
    return handleAcs({ SAMLResponse: base64, RelayState: relayState, browserBinding: binding ?? undefined, ip: "203.0.113.9" });
  }

  /** postAny for an environment's sign-in (a console session in answer is a failure of the test). */
  async function post(base64: string, relayState: string, binding?: string | null): Promise<Exclude<AcsResult, { console: object }>> {
    const result = await postAny(base64, relayState, binding);
    if (result.ok && "console" in result) throw new Error("expected an environment's sign-in, got a console session");
    return result;
  }

  /** Starts a console SSO sign-in (as start() does an environment's). */
  async function startConsole(browserBinding?: string) {
    const res = await startConsoleSso({ browserBinding });
    if (!("redirectUrl" in res)) throw new Error("expected a redirect");
    const url = new URL(res.redirectUrl);
    const relayState = url.searchParams.get("RelayState")!;
    bindings.set(relayState, res.binding);
    const request = inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest")!, "base64")).toString("utf8");
    return { relayState, requestId: request.match(/ID="([^"]+)"/)![1]!, binding: res.binding };
  }

  /** A fresh, correctly signed response for the request (overridable field by field). */
  function response(requestId: string | null, overrides: Partial<ResponseOptions> = {}) {
    return buildResponse({
      key,
      issuer: entityId,
      destination: sp.acsUrl,
      audience: sp.entityId,
      subject: "alice@example.com",
      attributes: { email: ["alice@example.com"], name: ["Alice Example"], groups: ["Engineering"] },
      inResponseTo: requestId,
      ...overrides,
    });
  }

  /** The whole round trip: start, answer, post to the ACS. */
  async function signIn(overrides: Partial<ResponseOptions> = {}, env: Environment = envs.prod) {
    const { relayState, requestId } = await start(env);
    const { base64 } = response(requestId, overrides);
    return post(base64, relayState);
  }

  /** The console's round trip: start, answer, post to the ACS. */
  async function signInToConsole(overrides: Partial<ResponseOptions> = {}) {
    const { relayState, requestId } = await startConsole();
    const { base64 } = response(requestId, overrides);
    return postAny(base64, relayState);
  }

  return { envs, key, idp, entityId, sp, start, post, postAny, response, signIn, startConsole, signInToConsole };
}

export async function configureSso(env: Environment, idp: IdentityProvider, options: { jit?: boolean; groupSync?: boolean; enforcement?: "all" | "domains" | "optional"; enforcedDomains?: string[]; passwordEnabled?: boolean; breakGlassUserIds?: string[] } = {}) {
  return updateEnvironmentAuth(systemCtx, env.id, {
    passwordEnabled: options.passwordEnabled ?? false,
    ssoEnabled: true,
    identityProviderId: idp.id,
    enforcement: options.enforcement ?? "all",
    enforcedDomains: options.enforcedDomains ?? [],
    breakGlassUserIds: options.breakGlassUserIds ?? [],
    jitEnabled: options.jit ?? true,
    jitGroupIds: [],
    groupSyncEnabled: options.groupSync ?? true,
    groupAttribute: null,
    sessionLifetimeMinutes: 720,
    idleTimeoutMinutes: 60,
  });
}
