import { PlannedPage } from "@/components/console/planned-page";
import { requireConsoleSession } from "@/lib/auth/session";

export const metadata = { title: "Directories" };

export default async function DirectoriesPage() {
  await requireConsoleSession();
  return (
    <PlannedPage
      title="Directories"
      description="SCIM 2.0 endpoints through which an identity provider pushes users and groups into this environment."
      planned={[
        "Create a directory: base URL and a bearer token shown once; rotate or disable it.",
        "Sync health and a request log per directory.",
      ]}
    />
  );
}
