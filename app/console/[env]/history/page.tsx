import { Button } from "@/components/ui/button";
import { Card, PageHeader } from "@/components/ui/card";
import { Field } from "@/components/ui/field";
import { TableHead } from "@/components/ui/table-head";
import { contextFromSession } from "@/lib/auth/session";
import { isDomainError, type FieldErrors } from "@/lib/errors";
import { groupsInHistory, membershipsAsOf, type AsOf } from "@/lib/history";
import { consolePage } from "@/lib/doors/http/console-page";

export const metadata = { title: "Memberships as of a date" };

const KIND_LABEL = { access: "Environment access", member: "Group membership", grant: "Grant" } as const;

export default async function HistoryPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<Record<string, string | undefined>> }) {
  const { session, env: environment } = await consolePage(params);
  const query = await searchParams;
  const groups = await groupsInHistory(environment.id);
  const subject = query.subject === "user" ? "user" : "group";
  // datetime-local carries no zone: lib/history reads it as UTC, and it is shown so.
  const atText = query.at ?? "";
  let result: AsOf | null = null;
  let errors: FieldErrors = {};
  if (query.at !== undefined) {
    try {
      result = await membershipsAsOf(await contextFromSession(session), {
        environmentId: environment.id,
        subject,
        group: query.group || undefined,
        user: query.user || undefined,
        at: atText,
      });
    } catch (error) {
      if (!isDomainError(error)) throw error;
      errors = error.fieldErrors ?? { _form: [error.message] };
    }
  }
  const base = `/console/${environment.key}/history`;
  const qs = new URLSearchParams(Object.entries({ subject, group: query.group, user: query.user, at: query.at }).filter(([, v]) => v) as [string, string][]).toString();
  return (
    <>
      <PageHeader
        title="Memberships as of a date"
        description={`Who was in a group, or what a user could reach, in ${environment.name} at any past moment: rebuilt from the membership ledger, which the database writes for every change from every door.`}
      />
      <Card className="mb-6">
        <form method="get" action={base} className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4" aria-label="Memberships as of a date">
          <fieldset className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            <legend className="mb-1">Subject</legend>
            <label className="flex items-center gap-2 font-normal">
              <input type="radio" name="subject" value="group" defaultChecked={subject === "group"} /> A group
            </label>
            <label className="flex items-center gap-2 font-normal">
              <input type="radio" name="subject" value="user" defaultChecked={subject === "user"} /> A user
            </label>
          </fieldset>
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Group
            <select name="group" defaultValue={query.group ?? ""} aria-invalid={errors.group ? true : undefined} aria-describedby={errors.group ? "group-error" : undefined} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">Choose…</option>
              {groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
            {errors.group && (
              <span id="group-error" className="text-sm font-normal text-red-700">
                {errors.group.join(" ")}
              </span>
            )}
          </label>
          <Field label="User email" name="user" type="email" defaultValue={query.user ?? ""} errors={errors.user} />
          <Field label="As of (UTC)" name="at" type="datetime-local" step="1" required defaultValue={atText.replace(/Z$/, "").slice(0, 19)} errors={errors.at} />
          <div className="flex items-end gap-3">
            <Button type="submit">Show</Button>
            {result && (
              <a href={`${base}/export?${qs}`} className="text-sm text-brand-700 underline" download>
                Export CSV
              </a>
            )}
          </div>
        </form>
        {errors._form && <p className="mt-2 text-sm text-red-700">{errors._form.join(" ")}</p>}
      </Card>
      {result && (
        <Card className="p-0">
          <table className="w-full text-left text-sm" data-testid="history-rows">
            <caption className="px-3 py-2 text-left text-sm font-medium text-slate-700">
              {result.subject.type === "group" ? "Group" : "User"} {result.subject.label} as of {result.at.toISOString().replace("T", " ").slice(0, 19)} UTC
            </caption>
            <TableHead headers={["What", "User", "Group", "Feature", "Resource", "Through", "Source", "Since"]} />
            <tbody>
              {result.rows.length === 0 && (
                <tr>
                  <td colSpan={8} className="px-3 py-3 text-slate-500">
                    Nothing held at that moment.
                  </td>
                </tr>
              )}
              {result.rows.map((r, i) => (
                <tr key={i} className="border-t border-slate-100">
                  <td className="px-3 py-2">{KIND_LABEL[r.kind]}</td>
                  <td className="px-3 py-2">{r.userEmail ?? "—"}</td>
                  <td className="px-3 py-2">{r.groupName ?? "—"}</td>
                  <td className="px-3 py-2">{r.feature ?? "—"}</td>
                  <td className="px-3 py-2">{r.kind === "grant" ? (r.resourceName ?? "Whole feature") : "—"}</td>
                  <td className="px-3 py-2">{r.via ?? "—"}</td>
                  <td className="px-3 py-2">{r.source ?? "—"}</td>
                  <td className="whitespace-nowrap px-3 py-2 text-slate-600">{r.since.toISOString().replace("T", " ").slice(0, 19)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </>
  );
}
