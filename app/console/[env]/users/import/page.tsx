import Link from "next/link";
import { PageHeader } from "@/components/ui/card";
import { listEnvironments } from "@/lib/environments";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { ImportWizard } from "./import-wizard";

export const metadata = { title: "Import users" };

export default async function ImportPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const environments = await listEnvironments();
  // The import writes users into this environment (the domain refuses it to a member who may not).
  const mayImport = can(actor, "users", "write", [env.id]);
  return (
    <>
      <Link href={`/console/${env.key}/users`} className="text-sm text-brand-700 hover:underline">
        ← Users
      </Link>
      <PageHeader
        title="Import users from CSV"
        description="Columns: email, name, environments (keys separated by ;), and groups_<environment> (group names separated by ;). Import only adds: it creates users, renames them, grants environments and adds groups."
      />
      {mayImport ? (
        <ImportWizard environment={{ id: env.id, key: env.key }} environmentKeys={environments.map((e) => e.key)} />
      ) : (
        <p role="alert" className="mt-4 text-sm text-slate-700">
          Your role does not let you add users to {env.name}: an import here would be refused.{actor.type === "console_member" && actor.role === "environment_admin" ? " Import from the page of an environment you administer." : ""}
        </p>
      )}
    </>
  );
}
