import { PlannedPage } from "@/components/console/planned-page";
import { requireConsoleSession } from "@/lib/auth/session";

export const metadata = { title: "Identity providers" };

export default async function IdentityProvidersPage() {
  await requireConsoleSession();
  return (
    <PlannedPage
      title="Identity providers"
      description="SAML 2.0 identity providers (Okta, Entra ID, OneLogin or any SAML IdP), shared by the environments that use them."
      planned={[
        "Add an IdP from its metadata URL or XML; copy our ACS URL, entity ID and SP metadata into it.",
        "Signing certificates with expiry warnings; metadata refresh.",
        "Attribute mapping presets and group mapping per environment.",
        "SSO traces and a mapping tester.",
      ]}
    />
  );
}
