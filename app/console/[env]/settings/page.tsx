import { PlannedPage } from "@/components/console/planned-page";
import { requireConsoleSession } from "@/lib/auth/session";

export const metadata = { title: "Settings" };

export default async function SettingsPage() {
  await requireConsoleSession();
  return (
    <PlannedPage
      title="Settings"
      description="Console members and their roles, API tokens, and signing keys."
      planned={["Console members: owner, admin, environment admin, reviewer.", "API tokens for the admin REST API.", "Signing key rotation."]}
    />
  );
}
