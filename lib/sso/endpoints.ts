import { publicOrigin } from "@/env";

// Our SAML SP endpoints, built from the public origin. One SP entity ID for every environment:
// the environment travels in the sign-in state, so one IdP app serves several environments.
export const SAML_ACS_PATH = "/api/sso/acs";
export const SAML_METADATA_PATH = "/api/sso/metadata";
/** Where Jackson "redirects" after a response; we read the code in-process and never follow it. */
export const SAML_CALLBACK_PATH = "/api/sso/callback";

export function spEndpoints() {
  const origin = publicOrigin();
  return {
    entityId: `${origin}${SAML_METADATA_PATH}`,
    acsUrl: `${origin}${SAML_ACS_PATH}`,
    metadataUrl: `${origin}${SAML_METADATA_PATH}`,
    callbackUrl: `${origin}${SAML_CALLBACK_PATH}`,
  };
}
