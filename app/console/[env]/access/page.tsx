import { PlannedPage } from "@/components/console/planned-page";
import { requireConsoleSession } from "@/lib/auth/session";

export const metadata = { title: "Access" };

export default async function AccessPage() {
  await requireConsoleSession();
  return (
    <PlannedPage
      title="Access"
      description="Which groups and users may use Agent Studio genies, Workato GO and MCP servers in this environment."
      planned={[
        "Resources per feature: create, rename, delete.",
        "Grants from a group or a user to a whole feature or one resource.",
        "Explain: why a user has (or lacks) access, and who can use a resource.",
      ]}
    />
  );
}
