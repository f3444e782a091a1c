import Link from "next/link";
import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { isDomainError } from "@/lib/errors";
import { consolePage } from "@/lib/doors/http/console-page";
import { requestLog } from "@/lib/directories";
import { can } from "@/lib/permissions";
import { DirectorySettings } from "./directory-settings";

export const metadata = { title: "Directory" };

export default async function DirectoryPage({ params }: { params: Promise<{ env: string; directoryId: string }> }) {
  const { env, actor, params: { directoryId } } = await consolePage(params);
  const canWrite = can(actor, "directories", "write", [env.id]);
  const log = await requestLog(env.id, directoryId).catch((e) => {
    if (isDomainError(e)) notFound();
    throw e;
  });
  return (
    <>
      <Link href={`/console/${env.key}/directories`} className="text-sm text-brand-700 hover:underline">
        ← Directories
      </Link>
      <PageHeader title={log.directory.name} description={`Base URL ${log.directory.baseUrl} · token ${log.directory.tokenHint} · log kept ${log.directory.logRetentionDays} days`} />
      {canWrite && (
        <Card>
          <h2 className="mb-3 text-base font-semibold">Settings</h2>
          <DirectorySettings directoryId={log.directory.id} patchAnswer={log.directory.patchAnswer} />
        </Card>
      )}
      <Card>
        <h2 className="mb-3 text-base font-semibold">Request log (newest 200)</h2>
        <SimpleTable
          caption="Request log"
          rows={log.entries}
          rowKey={(e) => e.id}
          empty="No request yet."
          columns={[
            { header: "Time", cell: (e) => e.createdAt.toISOString().slice(0, 19).replace("T", " ") },
            { header: "Method", cell: (e) => e.method },
            { header: "Path", cell: (e) => <code className="break-all text-xs">{e.path}</code> },
            { header: "Status", cell: (e) => <Badge tone={e.status >= 500 ? "red" : e.status >= 400 ? "amber" : "green"}>{e.status}</Badge> },
            { header: "Duration", cell: (e) => `${e.durationMs} ms` },
            {
              header: "Change",
              cell: (e) =>
                typeof e.change?.error === "string" ? (
                  <span className="text-sm text-red-800" data-testid="request-error">
                    {e.change.error}
                  </span>
                ) : e.change ? (
                  <>
                    {Array.isArray(e.change.excludedMembers) && (
                      <ul className="mb-1 text-xs text-amber-800" data-testid="excluded-members">
                        {(e.change.excludedMembers as { user: string; reason: string }[]).map((m) => (
                          <li key={m.user}>
                            Left out {m.user}: {m.reason}
                          </li>
                        ))}
                      </ul>
                    )}
                    <details>
                      <summary className="cursor-pointer text-brand-700">show</summary>
                      <pre className="max-w-xl overflow-x-auto text-xs">{JSON.stringify(e.change, null, 2)}</pre>
                    </details>
                  </>
                ) : (
                  "—"
                ),
            },
          ]}
        />
      </Card>
    </>
  );
}
