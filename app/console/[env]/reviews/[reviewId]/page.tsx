import Link from "next/link";
import { notFound } from "next/navigation";
import { Progress } from "@/components/console/progress";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { TableHead } from "@/components/ui/table-head";
import { FEATURE_LABELS, type Feature } from "@/db/enums";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { getAccessReview, SCOPE_LABELS } from "@/lib/reviews";
import { CloseReview, DecideItem } from "../review-forms";

export const metadata = { title: "Access review" };

export default async function ReviewPage({ params, searchParams }: { params: Promise<{ env: string; reviewId: string }>; searchParams: Promise<{ show?: string }> }) {
  const { session, env, actor, params: { reviewId } } = await consolePage(params);
  const found = await getAccessReview(env.id, reviewId);
  if (!found) notFound();
  const { review, items, exclusions } = found;
  const open = review.status === "open";
  const isReviewer = review.reviewers.some((m) => m.id === session.member.id);
  const canDecide = open && isReviewer && can(actor, "review_decisions", "write");
  const canClose = open && can(actor, "access_reviews", "write", [env.id]);
  const undecidedOnly = (await searchParams).show === "undecided";
  const shown = undecidedOnly ? items.filter((i) => !i.decision) : items;
  const base = `/console/${env.key}/reviews/${review.id}`;
  const itemLabel = (i: (typeof items)[number]) =>
    i.kind === "membership" ? `${i.userEmail} in ${i.groupName}` : i.kind === "access" ? `${i.userEmail} in ${env.name}` : `${i.userEmail ?? `group ${i.groupName}`} → ${i.resourceName}`;
  return (
    <>
      <PageHeader title={review.name} description={`${SCOPE_LABELS[review.scope]} in ${env.name}, due ${review.dueAt.toISOString().slice(0, 10)}${review.recurrenceMonths ? `, repeats every ${review.recurrenceMonths === 1 ? "month" : `${review.recurrenceMonths} months`}` : ""}. Reviewers: ${review.reviewers.map((m) => m.name).join(", ")}.`}>
        {canClose && <CloseReview reviewId={review.id} revoke={review.revoke} undecided={review.total - review.decided} />}
      </PageHeader>
      <Card className="mb-6 flex flex-wrap items-center gap-6">
        <Progress decided={review.decided} total={review.total} label="Decided" />
        <span className="text-sm text-slate-600">{review.revoke} to revoke</span>
        <Badge tone={open ? "amber" : "green"}>{review.status}</Badge>
        {!open && (
          <span className="text-sm text-slate-600">
            Closed by {review.closedBy} at {review.closedAt?.toISOString().replace("T", " ").slice(0, 19)} ·{" "}
            <a className="text-brand-700 underline" href={`${base}/report`} download>
              Signed-off report (CSV)
            </a>{" "}
            <span className="font-mono text-xs" title="SHA-256 of the report, also in the closing audit event">
              sha256 {review.reportSha256?.slice(0, 16)}…
            </span>
          </span>
        )}
        {open && !isReviewer && <span className="text-sm text-slate-600">You are not a reviewer of this campaign: you can follow it, not decide.</span>}
        {(review.previousId || review.nextId) && (
          <span className="text-sm text-slate-600">
            {review.previousId && (
              <Link className="text-brand-700 underline" href={`/console/${env.key}/reviews/${review.previousId}`}>
                Previous campaign
              </Link>
            )}
            {review.previousId && review.nextId && " · "}
            {review.nextId && (
              <Link className="text-brand-700 underline" href={`/console/${env.key}/reviews/${review.nextId}`}>
                Next campaign
              </Link>
            )}
          </span>
        )}
        <nav aria-label="Items shown" className="ml-auto flex gap-3 text-sm">
          <Link href={base} aria-current={!undecidedOnly ? "page" : undefined} className={!undecidedOnly ? "font-medium" : "text-brand-700 underline"}>
            All
          </Link>
          <Link href={`${base}?show=undecided`} aria-current={undecidedOnly ? "page" : undefined} className={undecidedOnly ? "font-medium" : "text-brand-700 underline"}>
            Undecided
          </Link>
        </nav>
      </Card>
      <Card className="p-0">
        <table className="w-full text-left text-sm" data-testid="review-items">
          <caption className="sr-only">Items of {review.name}</caption>
          <TableHead headers={["User", review.scope === "groups" ? "Group" : review.scope === "resources" ? "Grant" : "Access", "Decision", open ? (canDecide ? "Decide" : "") : "Outcome"]} />
          <tbody>
            {shown.length === 0 && (
              <tr>
                <td colSpan={4} className="px-3 py-3 text-slate-500">
                  Nothing to show.
                </td>
              </tr>
            )}
            {shown.map((i) => (
              <tr key={i.id} className="border-t border-slate-100 align-top">
                <td className="px-3 py-2">
                  {i.userEmail ? (
                    <>
                      {i.userName} <span className="text-slate-500">{i.userEmail}</span>
                    </>
                  ) : (
                    <span>Group {i.groupName}</span>
                  )}
                </td>
                <td className="px-3 py-2">{i.kind === "membership" ? i.groupName : i.kind === "access" ? `May enter ${env.name}` : `${i.resourceName} · ${FEATURE_LABELS[i.feature as Feature] ?? i.feature}`}</td>
                <td className="px-3 py-2">
                  {i.decision ? (
                    <>
                      <Badge tone={i.decision === "keep" ? "green" : "red"}>{i.decision}</Badge>
                      {i.comment && <span className="ml-2 text-slate-600">“{i.comment}”</span>}
                      <div className="text-xs text-slate-500">
                        {i.decidedBy}, {i.decidedAt?.toISOString().replace("T", " ").slice(0, 16)}
                      </div>
                    </>
                  ) : (
                    <span className="text-slate-500">undecided</span>
                  )}
                </td>
                <td className="px-3 py-2">
                  {open ? (
                    canDecide && <DecideItem reviewId={review.id} itemId={i.id} label={itemLabel(i)} />
                  ) : (
                    <>
                      {i.outcome}
                      {exclusions.get(i.id) && (
                        <div className="text-xs text-slate-600">
                          {exclusions.get(i.id)!.liftedAt ? `Sync exclusion lifted by ${exclusions.get(i.id)!.liftedBy}` : `Excluded from ${({ scim: "the directory's sync", saml: "the identity provider's sync", jit: "the identity provider's sync", manual: "every sync (it was granted by hand)" } as Record<string, string>)[exclusions.get(i.id)!.source] ?? "sync"}`}
                        </div>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </>
  );
}
