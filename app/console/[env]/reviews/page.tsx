import Link from "next/link";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { TableHead } from "@/components/ui/table-head";
import { listResources } from "@/lib/access/resources";
import { listGroups } from "@/lib/groups";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { listActiveConsoleMembers } from "@/lib/console-members";
import { listAccessReviews, SCOPE_LABELS } from "@/lib/reviews";
import { FEATURE_LABELS } from "@/db/enums";
import { CreateReviewForm } from "./review-forms";
import { Progress } from "@/components/console/progress";

export const metadata = { title: "Access reviews" };

export default async function ReviewsPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const canCreate = can(actor, "access_reviews", "write", [env.id]);
  const [reviews, groups, resources, reviewers] = await Promise.all([
    listAccessReviews(env.id),
    canCreate ? listGroups(env.id) : [],
    canCreate ? listResources(env.id) : [],
    canCreate ? listActiveConsoleMembers() : [],
  ]);
  return (
    <>
      <PageHeader title="Access reviews" description={`Campaigns that have reviewers confirm or revoke ${env.name}'s group memberships, resource grants or environment access. Closing a review applies its revocations and keeps a signed-off report.`} />
      {canCreate && (
        <Card className="mb-6">
          <h2 className="mb-3 text-base font-semibold">New review</h2>
          <CreateReviewForm
            envKey={env.key}
            environmentId={env.id}
            groups={groups.filter((g) => g.source !== "system").map((g) => ({ id: g.id, label: `${g.name} (${g.memberCount})` }))}
            resources={resources.map((r) => ({ id: r.id, label: `${r.name} · ${FEATURE_LABELS[r.feature]}` }))}
            reviewers={reviewers.map((m) => ({ id: m.id, label: `${m.name} <${m.email}> · ${m.role.replace("_", " ")}` }))}
          />
        </Card>
      )}
      <Card className="p-0">
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Access reviews of {env.name}</caption>
          <TableHead headers={["Review", "Scope", "Reviewers", "Due", "Progress", "Status"]} />
          <tbody>
            {reviews.length === 0 && (
              <tr>
                <td colSpan={6} className="px-3 py-3 text-slate-500">
                  No review yet.
                </td>
              </tr>
            )}
            {reviews.map((r) => (
              <tr key={r.id} className="border-t border-slate-100">
                <td className="px-3 py-2">
                  <Link className="font-medium text-brand-700 hover:underline" href={`/console/${env.key}/reviews/${r.id}`}>
                    {r.name}
                  </Link>
                </td>
                <td className="px-3 py-2">
                  {SCOPE_LABELS[r.scope]}
                  {r.recurrenceMonths && <span className="block text-xs text-slate-500">every {r.recurrenceMonths === 1 ? "month" : `${r.recurrenceMonths} months`}</span>}
                </td>
                <td className="px-3 py-2">{r.reviewers.map((m) => m.name).join(", ")}</td>
                <td className="whitespace-nowrap px-3 py-2">{r.dueAt.toISOString().slice(0, 10)}</td>
                <td className="px-3 py-2">
                  <Progress decided={r.decided} total={r.total} label={`Progress of ${r.name}`} />
                </td>
                <td className="px-3 py-2">
                  <Badge tone={r.overdue ? "red" : r.status === "open" ? "amber" : "green"}>{r.overdue ? "overdue" : r.status}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </>
  );
}
