import Link from "next/link";
import { PageHeader } from "@/components/ui/card";
import { listEnvironments } from "@/lib/environments";
import { consolePage } from "@/lib/doors/http/console-page";
import { ImportWizard } from "./import-wizard";

export const metadata = { title: "Import users" };

export default async function ImportPage({ params }: { params: Promise<{ env: string }> }) {
  const { env } = await consolePage(params);
  const environments = await listEnvironments();
  return (
    <>
      <Link href={`/console/${env.key}/users`} className="text-sm text-brand-700 hover:underline">
        ← Users
      </Link>
      <PageHeader
        title="Import users from CSV"
        description="Columns: email, name, environments (keys separated by ;), and groups_<environment> (group names separated by ;). Import only adds: it creates users, renames them, grants environments and adds groups."
      />
      <ImportWizard environment={{ id: env.id, key: env.key }} environmentKeys={environments.map((e) => e.key)} />
    </>
  );
}
