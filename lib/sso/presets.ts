import type { IDP_PRESETS } from "@/db/enums";

// What each kind of IdP asserts by default (its SAML app template), for the attribute mapping.
// Plain data, so the console's client forms and the domain layer share it.

export type IdpPreset = (typeof IDP_PRESETS)[number];

/** Attribute names each IdP sends by default (what its SAML app template asserts). */
export const ATTRIBUTE_PRESETS: Record<IdpPreset, { label: string; email: string; name: string; groups: string }> = {
  okta: { label: "Okta", email: "email", name: "name", groups: "groups" },
  entra: {
    label: "Microsoft Entra ID",
    email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    name: "http://schemas.microsoft.com/identity/claims/displayname",
    groups: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
  },
  onelogin: { label: "OneLogin", email: "User.email", name: "User.FirstName", groups: "memberOf" },
  generic: { label: "Other SAML 2.0 IdP", email: "email", name: "name", groups: "groups" },
};

