"use client";

import { useCallback, useState } from "react";
import { SearchPicker, type PickerOption } from "@/components/console/search-picker";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { DangerAction } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import { MCP_TOOLS, MCP_TOOL_LABELS, type McpTool } from "@/db/enums";
import type { FieldErrors } from "@/lib/errors";
import { searchGroupsAction, searchUsersAction } from "../users/actions";
import { addGrantsAction, createResourceAction, deleteResourceAction, explainAction, removeGrantAction, updateResourceAction } from "./actions";

type Feature = "agent_studio" | "workato_go" | "mcp";

export function CreateResourceForm({ environmentId, feature, noun }: { environmentId: string; feature: Feature; noun: string }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <form
      className="flex flex-wrap items-end gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const d = new FormData(form);
        run(() => createResourceAction({ environmentId, feature, name: d.get("name"), description: d.get("description") ?? "" }), {
          fieldErrors: setErrors,
          onSuccess: () => form.reset(),
          success: `Created the ${noun}.`,
        });
      }}
    >
      <Field label={`New ${noun} name`} name="name" errors={errors.name} />
      <Field label="Description" name="description" errors={errors.description} className="min-w-72" />
      <Button type="submit" disabled={pending}>
        Create {noun}
      </Button>
    </form>
  );
}

export type GrantRow = { id: string; subjectType: "group" | "user"; subjectName: string; detail: string; scope: string };

/** The grants of a feature (resourceId null) or of one resource: add groups and users, remove grants. */
export function GrantsEditor({ environmentId, feature, resourceId, grants, canWrite, label }: { environmentId: string; feature: Feature; resourceId: string | null; grants: GrantRow[]; canWrite: boolean; label: string }) {
  const { pending, run } = useAction();
  const [picked, setPicked] = useState<(PickerOption & { type: "group" | "user" })[]>([]);
  // An MCP server's grants may name one tool; every other grant covers the whole resource or feature.
  const toolChoice = feature === "mcp" && resourceId !== null;
  const [tool, setTool] = useState<McpTool | "">("");
  const searchGroups = useCallback(async (q: string) => {
    const r = await searchGroupsAction({ environmentId, q, includeSystem: true });
    return r.ok ? r.data : [];
  }, [environmentId]);
  const searchUsers = useCallback(async (q: string) => {
    const r = await searchUsersAction(environmentId, q);
    return r.ok ? r.data : [];
  }, [environmentId]);
  const add = (type: "group" | "user") => (o: PickerOption | null) => {
    if (o && !picked.some((p) => p.id === o.id)) setPicked([...picked, { ...o, type }]);
  };
  return (
    <div className="flex flex-col gap-4">
      {canWrite && (
        <div className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-slate-50 p-4">
          <SearchPicker label="Add a group" placeholder="Search groups" search={searchGroups} value={null} onChange={add("group")} />
          <SearchPicker label="Add a user" placeholder="Search users" search={searchUsers} value={null} onChange={add("user")} />
          {toolChoice && (
            <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
              Tools
              <select className="rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm font-normal" value={tool} onChange={(e) => setTool(e.target.value as McpTool | "")}>
                <option value="">Every tool</option>
                {MCP_TOOLS.map((t) => (
                  <option key={t} value={t}>
                    Only {t} ({MCP_TOOL_LABELS[t]})
                  </option>
                ))}
              </select>
            </label>
          )}
          <ul className="flex flex-wrap gap-2" aria-label="To grant">
            {picked.map((p) => (
              <li key={p.id} className="inline-flex items-center gap-1 rounded bg-white px-2 py-1 text-sm shadow-sm">
                {p.type === "group" ? "Group" : "User"} {p.name}
                <button type="button" aria-label={`Do not grant ${p.name}`} className="text-slate-500" onClick={() => setPicked(picked.filter((x) => x.id !== p.id))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <Button
            type="button"
            disabled={!picked.length || pending}
            onClick={() =>
              run(
                () =>
                  addGrantsAction({
                    environmentId,
                    feature,
                    resourceId,
                    groupIds: picked.filter((p) => p.type === "group").map((p) => p.id),
                    userIds: picked.filter((p) => p.type === "user").map((p) => p.id),
                    ...(toolChoice && tool ? { tool } : {}),
                  }),
                {
                  success: (d) => `${d.added} granted${d.unchanged ? `, ${d.unchanged} already had it` : ""}.`,
                  onSuccess: () => setPicked([]),
                },
              )
            }
          >
            Grant {label}
          </Button>
        </div>
      )}
      <table className="w-full text-left text-sm">
        <caption className="sr-only">Grants: {label}</caption>
        <thead className="bg-slate-50 text-xs uppercase text-slate-500">
          <tr>
            <th scope="col" className="px-3 py-2">Granted to</th>
            <th scope="col" className="px-3 py-2">Scope</th>
            <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {grants.length === 0 && (
            <tr>
              <td colSpan={3} className="px-3 py-3 text-slate-500">
                No grants yet.
              </td>
            </tr>
          )}
          {grants.map((g) => (
            <tr key={g.id} className="border-t border-slate-100" data-testid="grant-row">
              <td className="px-3 py-2">
                <span className="mr-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs">{g.subjectType}</span>
                {g.subjectName} <span className="text-slate-500">{g.detail}</span>
              </td>
              <td className="px-3 py-2">{g.scope}</td>
              <td className="px-3 py-2 text-right">
                {canWrite && g.scope !== "inherited" && (
                  <Button
                    type="button"
                    variant="ghost"
                    aria-label={`Remove the grant of ${g.subjectName}`}
                    disabled={pending}
                    onClick={() =>
                      run(() => removeGrantAction(g.id), { success: `Removed the grant of ${g.subjectName}.` })
                    }
                  >
                    Remove
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ResourceSettings({ resource, noun, backHref }: { resource: { id: string; name: string; description: string }; noun: string; backHref: string }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <>
      <form
        className="flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          const d = new FormData(e.currentTarget);
          run(() => updateResourceAction(resource.id, { name: d.get("name"), description: d.get("description") ?? "" }), {
            fieldErrors: setErrors,
            success: (saved) => `Saved ${saved.name}.`,
          });
        }}
      >
        <Field label="Name" name="name" defaultValue={resource.name} errors={errors.name} />
        <Field label="Description" name="description" defaultValue={resource.description} errors={errors.description} className="min-w-72" />
        <Button type="submit" variant="secondary" disabled={pending}>
          Save
        </Button>
      </form>
      <DangerAction
        warning={`Delete this ${noun} and every grant on it.`}
        buttonLabel={`Delete ${noun}…`}
        title={`Delete ${resource.name}?`}
        description={`The ${noun} and every grant on it are deleted, and its open access requests are closed (each one recorded in the audit trail). Users lose access at once; tokens already issued keep listing it until they expire.`}
        confirmLabel="Delete"
        typeToConfirm={resource.name}
        pending={pending}
        onConfirm={(close) => run(() => deleteResourceAction(resource.id), { success: `Deleted ${resource.name}.`, redirectTo: backHref, onSettled: close })}
      />
    </>
  );
}

type ExplainResult = { allow: boolean; reason: string; message: string; path: string[] };

/** Explain: pick a user (and, from the user panel, a resource) and see the answer with its path. */
export function ExplainForm({ environment, environmentId, feature, resourceId, resources, fixedUser }: {
  environment: string;
  environmentId: string;
  feature?: Feature;
  resourceId?: string | null;
  resources?: { id: string | null; feature: Feature; label: string }[];
  fixedUser?: { id: string; name: string };
}) {
  const [user, setUser] = useState<PickerOption | null>(fixedUser ? { id: fixedUser.id, name: fixedUser.name } : null);
  const [target, setTarget] = useState(resources?.[0] ? `${resources[0].feature}|${resources[0].id ?? ""}` : "");
  const [result, setResult] = useState<ExplainResult | null>(null);
  const { pending, run } = useAction();
  const searchUsers = useCallback(async (q: string) => {
    const r = await searchUsersAction(environmentId, q);
    return r.ok ? r.data : [];
  }, [environmentId]);
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-end gap-3">
        {!fixedUser && <SearchPicker label="User" placeholder="Search users" search={searchUsers} value={user} onChange={setUser} />}
        {resources && (
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Feature or resource
            <select value={target} onChange={(e) => setTarget(e.target.value)} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              {resources.map((r) => (
                <option key={`${r.feature}|${r.id ?? ""}`} value={`${r.feature}|${r.id ?? ""}`}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
        )}
        <Button
          type="button"
          variant="secondary"
          disabled={pending || !user}
          onClick={() =>
            run(
              () => {
                const [f, r] = resources ? target.split("|") : [feature!, resourceId ?? ""];
                return explainAction({ environment, userId: user!.id, feature: f!, resourceId: r || null });
              },
              { onSuccess: setResult, refresh: false },
            )
          }
        >
          Explain
        </Button>
      </div>
      {result && (
        <div role="status" data-testid="explain-result" className={`rounded-md border p-3 text-sm ${result.allow ? "border-green-300 bg-green-50" : "border-red-300 bg-red-50"}`}>
          <p className="font-medium">
            {result.allow ? "Allowed" : "Denied"} ({result.reason}): {result.message}
          </p>
          {result.path.length > 0 && (
            <ol className="mt-2 flex flex-wrap items-center gap-2">
              {result.path.map((step, i) => (
                <li key={i} className="rounded bg-white px-2 py-0.5 shadow-sm">
                  {i > 0 && <span aria-hidden="true">→ </span>}
                  {step}
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </div>
  );
}
