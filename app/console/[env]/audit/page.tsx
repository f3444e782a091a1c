import Link from "next/link";
import { Button } from "@/components/ui/button";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { TableHead } from "@/components/ui/table-head";
import { ACTOR_TYPES, AUDIT_OUTCOMES } from "@/db/enums";
import { consoleAuditFilter, diffOf, knownActions, listAuditEvents } from "@/lib/audit/queries";
import { listEnvironments } from "@/lib/environments";
import { isDomainError, type FieldErrors } from "@/lib/errors";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { ChainControls } from "./chain-controls";

export const metadata = { title: "Audit" };

const FIELDS = ["actorType", "actor", "action", "target", "environment", "outcome", "from", "to"] as const;
const show = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

export default async function AuditPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<Record<string, string | undefined>> }) {
  const { env, actor } = await consolePage(params);
  const query = await searchParams;
  const filter = Object.fromEntries(FIELDS.filter((k) => query[k]).map((k) => [k, query[k]!]));
  const [environments, actions] = await Promise.all([listEnvironments(), knownActions()]);
  let page: Awaited<ReturnType<typeof listAuditEvents>> = { rows: [], next: null };
  let errors: FieldErrors = {};
  try {
    page = await listAuditEvents({ ...consoleAuditFilter(filter, env.key), before: query.before, limit: 100 });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    errors = error.fieldErrors ?? { _form: [error.message] };
  }
  const qs = new URLSearchParams(filter).toString();
  const base = `/console/${env.key}/audit`;
  return (
    <>
      <PageHeader title="Audit" description="Every change and every sign-in, who, what, before and after: filter, open an event for its changes, export what you filtered." />
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Integrity</h2>
        <p className="mb-3 text-sm text-slate-600">
          The trail is append-only in the database (updates and deletes are refused) and every event is chained to the one before by a SHA-256 hash. Verify walks
          the whole chain and names the first broken link.
        </p>
        <ChainControls canPrune={can(actor, "audit", "write")} />
      </Card>
      <Card className="mb-6">
        <form method="get" action={base} className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4" aria-label="Filter the audit trail">
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Actor type
            <select name="actorType" defaultValue={filter.actorType ?? ""} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">Any</option>
              {ACTOR_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t.replace("_", " ")}
                </option>
              ))}
            </select>
          </label>
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Environment
            <select name="environment" defaultValue={filter.environment ?? ""} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">{env.name} and account-wide</option>
              {environments
                .filter((e) => e.id !== env.id)
                .map((e) => (
                  <option key={e.id} value={e.key}>
                    {e.name} and account-wide
                  </option>
                ))}
              <option value="all">All environments</option>
            </select>
          </label>
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Action (e.g. user. or user.create)
            <input name="action" list="audit-actions" defaultValue={filter.action ?? ""} className="rounded-md border border-slate-300 px-3 py-2 text-sm" />
            <datalist id="audit-actions">
              {actions.map((a) => (
                <option key={a} value={a} />
              ))}
            </datalist>
          </label>
          {(
            [
              ["actor", "Actor (name or id)"],
              ["target", "Target (name or id)"],
            ] as const
          ).map(([name, label]) => (
            <label key={name} className="flex flex-col gap-1 text-sm font-medium text-slate-700">
              {label}
              <input name={name} defaultValue={filter[name] ?? ""} className="rounded-md border border-slate-300 px-3 py-2 text-sm" />
            </label>
          ))}
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Outcome
            <select name="outcome" defaultValue={filter.outcome ?? ""} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">Any</option>
              {AUDIT_OUTCOMES.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </label>
          {(
            [
              ["from", "From"],
              ["to", "To"],
            ] as const
          ).map(([name, label]) => (
            <label key={name} className="flex flex-col gap-1 text-sm font-medium text-slate-700">
              {label}
              <input name={name} type="date" defaultValue={filter[name]?.slice(0, 10) ?? ""} aria-invalid={errors[name] ? true : undefined} className="rounded-md border border-slate-300 px-3 py-2 text-sm" />
              {errors[name] && <span className="text-sm text-red-700">{errors[name]!.join(" ")}</span>}
            </label>
          ))}
          <div className="flex items-end gap-3">
            <Button type="submit">Filter</Button>
            <Link href={base} className="text-sm text-brand-700 underline">
              Clear
            </Link>
            <a href={`${base}/export${qs ? `?${qs}` : ""}`} className="text-sm text-brand-700 underline" download>
              Export CSV
            </a>
          </div>
        </form>
        {errors._form && <p className="mt-2 text-sm text-red-700">{errors._form.join(" ")}</p>}
      </Card>
      <Card className="p-0">
        <table className="w-full text-left text-sm" data-testid="audit-events">
          <caption className="sr-only">Audit events</caption>
          <TableHead headers={["When", "Actor", "Action", "Target", "Environment", "Outcome"]} />
          <tbody>
            {page.rows.length === 0 && (
              <tr>
                <td colSpan={6} className="px-3 py-3 text-slate-500">
                  No event matches.
                </td>
              </tr>
            )}
            {page.rows.map((e) => {
              const changes = diffOf(e.before, e.after);
              return (
                <tr key={e.id} className="border-t border-slate-100 align-top">
                  <td className="whitespace-nowrap px-3 py-2 text-slate-600">{e.occurredAt.toISOString().replace("T", " ").slice(0, 19)}</td>
                  <td className="px-3 py-2">
                    {e.actorLabel} <span className="text-xs text-slate-500">{e.actorType.replace("_", " ")}</span>
                  </td>
                  <td className="px-3 py-2 font-mono text-xs">{e.action}</td>
                  <td className="break-all px-3 py-2">
                    {e.targetLabel ?? e.targetId}
                    {changes.length > 0 && (
                      <details className="mt-1">
                        <summary className="cursor-pointer text-xs text-brand-700">
                          {changes.length} change{changes.length === 1 ? "" : "s"}
                        </summary>
                        <table className="mt-1 text-xs" aria-label={`Changes of event ${e.id}`}>
                          <thead>
                            <tr>
                              <th scope="col" className="whitespace-nowrap break-normal pr-2 text-left">Field</th>
                              <th scope="col" className="whitespace-nowrap break-normal pr-2 text-left">Before</th>
                              <th scope="col" className="whitespace-nowrap break-normal text-left">After</th>
                            </tr>
                          </thead>
                          <tbody>
                            {changes.map((c) => (
                              <tr key={c.path}>
                                <td className="whitespace-nowrap break-normal pr-2 align-top font-mono">{c.path}</td>
                                <td className="pr-2 align-top text-red-700 line-through decoration-red-300">{show(c.before)}</td>
                                <td className="align-top text-green-800">{show(c.after)}</td>
                              </tr>
                            ))}
                          </tbody>
                        </table>
                      </details>
                    )}
                  </td>
                  <td className="px-3 py-2">{e.environmentKey?.toUpperCase()}</td>
                  <td className="px-3 py-2">
                    <Badge tone={e.outcome === "success" ? "green" : "red"}>{e.outcome}</Badge>
                    {e.reason && <span className="ml-2 text-slate-500">{e.reason}</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {page.next && (
          <div className="border-t border-slate-100 px-3 py-2 text-right">
            <Link className="text-sm text-brand-700 underline" href={`${base}?${new URLSearchParams({ ...filter, before: String(page.next) })}`}>
              Older events
            </Link>
          </div>
        )}
      </Card>
    </>
  );
}
