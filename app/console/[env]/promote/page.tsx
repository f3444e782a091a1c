import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { consolePage } from "@/lib/doors/http/console-page";
import { listEnvironments } from "@/lib/environments";
import { mayApplyPromotion, planBetween, type Plan, type PlannedChange } from "@/lib/environments/promotion";
import { isDomainError } from "@/lib/errors";
import { ApplyPlan, SourcePicker } from "./promote-controls";

export const metadata = { title: "Promote" };

const TONE = { create: "green", change: "amber", remove: "red" } as const;
const WORD = { create: "Create", change: "Change", remove: "Remove" } as const;
const show = (value: unknown) => (value === undefined ? "" : JSON.stringify(value).replace(/^\{|\}$/g, "").replace(/"/g, "").replace(/,/g, ", ").replace(/:/g, ": "));

export default async function PromotePage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<{ from?: string }> }) {
  const { env, actor } = await consolePage(params);
  const environments = await listEnvironments();
  const sources = environments.filter((e) => e.id !== env.id).map((e) => ({ key: e.key, name: e.name, position: e.position }));
  // DEV → TEST → PROD: the one before this one by default.
  const previous = [...sources].reverse().find((e) => e.position < env.position) ?? null;
  const asked = (await searchParams).from;
  const source = sources.find((s) => s.key === asked) ?? previous;

  let plan: Plan | null = null;
  let problem: string | null = null;
  if (source) {
    try {
      plan = await planBetween({ actor }, source.key, env.key);
    } catch (error) {
      if (!isDomainError(error)) throw error;
      problem = error.message + (error.fieldErrors?.document?.length && error.fieldErrors.document.length > 1 ? ` (and ${error.fieldErrors.document.length - 1} more)` : "");
    }
  }
  const canApply = mayApplyPromotion(actor, env.id);
  const title = source ? `Promote ${source.name} → ${env.name}` : `Promote into ${env.name}`;
  return (
    <>
      <PageHeader
        title={title}
        description={`Make ${env.name}'s configuration match another environment's: groups made in the console, resources, their grants, sign-in settings and IdP group mappings. Users, memberships, secrets and what directories or IdPs own are never promoted. Review the plan, then apply it in one step (one audit entry); it is refused if either environment changes in between.`}
      >
        <SourcePicker envKey={env.key} from={source?.key ?? null} sources={sources} />
      </PageHeader>
      {!source && <Card><p className="text-sm text-slate-600">{env.name} is the first environment: choose one to promote from.</p></Card>}
      {problem && (
        <Card role="alert" className="border-red-200 bg-red-50 text-sm text-red-800">
          {problem}
        </Card>
      )}
      {plan && source && (
        <>
          <Card className="mb-4 flex flex-wrap items-center justify-between gap-3">
            <p className="text-sm text-slate-700" data-testid="plan-summary">
              {plan.changes.length === 0 ? (
                <>No changes: {env.name} already matches {source.name}.</>
              ) : (
                <>
                  {(["create", "change", "remove"] as const).map((a) => `${plan.changes.filter((c) => c.action === a).length} to ${a}`).join(", ")}{" "}
                  <span className="text-slate-500">· plan {plan.hash.slice(0, 12)}</span>
                </>
              )}
            </p>
            {plan.changes.length > 0 && canApply && <ApplyPlan from={source.key} to={env.key} toName={env.name} planHash={plan.hash} changes={plan.changes.length} />}
            {plan.changes.length > 0 && !canApply && <p className="text-sm text-slate-500">You may review this plan; applying it needs write access to {env.name}.</p>}
          </Card>
          {plan.changes.length > 0 && (
            <Card className="mb-4 p-0">
              <SimpleTable
                caption={`What applying changes in ${env.name}`}
                showCaption
                rows={plan.changes}
                rowKey={(c: PlannedChange) => `${c.action}/${c.kind}/${c.label}`}
                empty="No changes."
                columns={[
                  { header: "Change", cell: (c) => <Badge tone={TONE[c.action]}>{WORD[c.action]}</Badge> },
                  { header: "What", cell: (c) => c.kind },
                  { header: "Which", cell: (c) => c.label },
                  { header: "Now", cell: (c) => <span className="text-slate-500">{show(c.before)}</span> },
                  { header: "After", cell: (c) => show(c.after) },
                ]}
              />
            </Card>
          )}
          {plan.notes.length > 0 && (
            <Card>
              <h2 className="mb-2 text-sm font-medium text-slate-900">Not promoted</h2>
              <ul className="list-disc pl-5 text-sm text-slate-600">
                {plan.notes.map((n) => (
                  <li key={n}>{n}</li>
                ))}
              </ul>
            </Card>
          )}
        </>
      )}
    </>
  );
}
