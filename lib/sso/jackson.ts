import "server-only";
import type { IConnectionAPIController, IOAuthController, ISPSSOConfig } from "@boxyhq/saml-jackson";
import { env } from "@/env";
import { SAML_ACS_PATH, spEndpoints } from "./endpoints";

// SAML Jackson embedded as a library: its tables live in our database (jackson_store, …), analytics
// off. The init promise is cached on globalThis so hot reloads and concurrent requests share one.
export type Jackson = {
  connections: IConnectionAPIController;
  oauth: IOAuthController;
  spConfig: ISPSSOConfig;
};

export const JACKSON_PRODUCT = "iam-console";

const holder = globalThis as typeof globalThis & { __jackson?: Promise<Jackson> };

export function jackson(): Promise<Jackson> {
  holder.__jackson ??= (async () => {
    const { default: init } = await import("@boxyhq/saml-jackson");
    const { entityId } = spEndpoints();
    const origin = new URL(entityId).origin;
    const ret = await init({
      externalUrl: origin,
      samlPath: SAML_ACS_PATH,
      samlAudience: entityId,
      // IdP-initiated responses reach Jackson only after our own per-IdP check allowed them.
      idpEnabled: true,
      noAnalytics: true,
      db: { engine: "sql", type: "postgres", url: env().DATABASE_URL, ttl: 300, cleanupLimit: 1000 },
      openid: {},
    });
    return { connections: ret.connectionAPIController, oauth: ret.oauthController, spConfig: ret.spConfig };
  })().catch((e) => {
    holder.__jackson = undefined;
    throw e;
  });
  return holder.__jackson;
}
