"use client";

import * as Popover from "@radix-ui/react-popover";
import Link from "next/link";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useQueryStates } from "nuqs";
import { createColumnHelper, type RowSelectionState } from "@tanstack/react-table";
import { Modal, ModalClose } from "@/components/ui/modal";
import { USER_SOURCES, USER_STATUSES } from "@/db/enums";
import { DataTable, DataTablePagination, dataTableFeatures, type Sort } from "@/components/data-table/data-table";
import { GroupPicker, type GroupOption } from "@/components/console/search-picker";
import { Badge, Card } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { PAGE_SIZES, USER_SORTS, serializeUsersTableState, usersTableParsers, type UserSort } from "@/lib/users/list-params";
import type { UserList, UserListRow } from "@/lib/users/list";
import type { BulkAction, BulkResult } from "@/lib/users/bulk";
import { JobProgress, jobActive, useJob } from "@/components/console/job-progress";
import { useAction } from "@/components/use-action";
import { bulkUsersAction, cancelJobAction, jobStatusAction, searchGroupsAction, startBulkAllMatchingAction } from "./actions";

const STATUS_TONE = { active: "green", invited: "blue", suspended: "amber", deprovisioned: "red" } as const;

const helper = createColumnHelper<typeof dataTableFeatures, UserListRow>();

function when(iso: string | null) {
  return iso ? iso.slice(0, 16).replace("T", " ") : "Never";
}

function userColumns(envKey: string) {
  return helper.columns([
    helper.accessor("name", {
      id: "name",
      header: "Name",
      cell: (c) => (
        <Link prefetch={false} href={`/console/${envKey}/users/${c.row.original.id}`} className="font-medium text-brand-700 hover:underline">
          {c.getValue()}
        </Link>
      ),
    }),
    helper.accessor("email", { id: "email", header: "Email" }),
    helper.accessor("status", { id: "status", header: "Status", cell: (c) => <Badge tone={STATUS_TONE[c.getValue()]}>{c.getValue()}</Badge> }),
    helper.accessor("source", { id: "source", header: "Source" }),
    helper.accessor("environments", {
      id: "environments",
      header: "Environments",
      cell: (c) => (
        <div className="flex gap-1">
          {c.getValue().map((k) => (
            <Badge key={k}>{k.toUpperCase()}</Badge>
          ))}
        </div>
      ),
    }),
    helper.accessor("groups", { id: "groups", header: "Groups", cell: (c) => c.getValue().join(", ") }),
    helper.accessor("lastSignInAt", { id: "lastSignIn", header: "Last sign-in", cell: (c) => <span className="whitespace-nowrap">{when(c.getValue())}</span> }),
    helper.accessor("createdAt", { id: "created", header: "Created", cell: (c) => <span className="whitespace-nowrap">{when(c.getValue())}</span> }),
  ]);
}

const BULK_LABELS: Record<BulkAction, string> = {
  add_to_group: "Add to group",
  remove_from_group: "Remove from group",
  grant_environment: "Grant environment",
  revoke_environment: "Revoke environment",
  suspend: "Suspend",
  reactivate: "Reactivate",
  delete: "Delete",
};

/**
 * The users table in its card, or what is wrong with the URL's view (a stale cursor, an unknown
 * filter value) with a link back to the unfiltered list: never an empty table for an error.
 */
export function UsersCard({ list, problem, resetHref, ...table }: Omit<Parameters<typeof UsersTable>[0], "list"> & { list: UserList | null; problem: string | null; resetHref: string }) {
  return (
    <Card className="p-0">
      {list ? (
        <UsersTable list={list} {...table} />
      ) : (
        <div role="alert" className="p-6 text-sm">
          <p className="font-medium text-red-800">This view cannot be shown: {problem}</p>
          <Link href={resetHref} className="mt-2 inline-block text-brand-700 underline">
            Reset the filters
          </Link>
        </div>
      )}
    </Card>
  );
}

export function UsersTable({
  environment,
  environments,
  list,
  canWrite,
  writableEnvironmentIds,
  filterGroup,
  fixedGroup,
}: {
  environment: { id: string; key: string; name: string };
  environments: { id: string; key: string; name: string }[];
  list: UserList;
  /** Whether the bulk actions are offered: the member may change users of this page's environment. */
  canWrite: boolean;
  /** The environments a bulk grant or revoke may name (all when not given). */
  writableEnvironmentIds?: string[];
  filterGroup: GroupOption | null;
  /** On a group's page: the table lists that group's members and the group filter is not offered. */
  fixedGroup?: GroupOption;
}) {
  const [state, setState] = useQueryStates(usersTableParsers, { shallow: false, history: "push" });
  const [selection, setSelection] = useState<RowSelectionState>({});
  // "All N matching": the bulk action runs as a background job over the filtered list.
  const [allMatching, setAllMatching] = useState(false);
  const [query, setQuery] = useState(state.q);
  const columns = useMemo(() => userColumns(environment.key), [environment.key]);
  const sort: Sort | null = { id: state.sort, desc: state.dir === "desc" };

  // Any change of filter or sort starts again from the first page.
  const refilter = useCallback(
    (patch: Partial<{ [K in keyof typeof state]: (typeof state)[K] | null }>) => {
      setSelection({});
      setAllMatching(false);
      void setState({ ...patch, after: null, before: null });
    },
    [setState],
  );

  useEffect(() => {
    if (query === state.q) return;
    const timer = setTimeout(() => refilter({ q: query || null }), 300);
    return () => clearTimeout(timer);
  }, [query, state.q, refilter]);

  const searchGroups = useCallback(
    async (q: string) => {
      const result = await searchGroupsAction({ environmentId: environment.id, q });
      return result.ok ? result.data : [];
    },
    [environment.id],
  );

  const toggle = <T extends string>(list: T[], value: T) => (list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);
  const selectedIds = Object.keys(selection).filter((id) => selection[id]);

  return (
    <div className="flex flex-col">
      <div className="flex flex-wrap items-end gap-4 border-b border-slate-200 p-4">
        <div className="flex flex-col gap-1">
          <label htmlFor="user-search" className="text-sm font-medium text-slate-700">
            Search
          </label>
          <input
            id="user-search"
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="Name or email"
            className="w-64 rounded-md border border-slate-300 px-3 py-2 text-sm"
          />
        </div>
{fixedGroup ? (
          <p className="self-center text-sm font-medium text-slate-700" data-testid="members-of">
            Members of {fixedGroup.name}
          </p>
        ) : (
                <fieldset className="flex flex-col gap-1">
          <legend className="text-sm font-medium text-slate-700">Show</legend>
          <select
            aria-label="Which users"
            className="rounded-md border border-slate-300 px-2 py-2 text-sm"
            value={state.scope}
            onChange={(e) => refilter({ scope: e.target.value as "env" | "all" })}
          >
            <option value="env">Users with access to {environment.name}</option>
            <option value="all">All users of the account</option>
          </select>
        </fieldset>
        )}
        {!fixedGroup && (
          <GroupPicker
            label={`Member of a group in ${environment.name}`}
            search={searchGroups}
            value={filterGroup}
            onChange={(g) => refilter({ group: g?.id ?? null })}
            placeholder="Any group"
          />
        )}
        {/* A Radix popover: it stays within the viewport (flips and shifts at the edges), closes on Escape and returns focus. */}
        <Popover.Root>
          <Popover.Trigger className="rounded-md border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50">
            Filters{state.status.length + state.source.length + state.access.length ? ` (${state.status.length + state.source.length + state.access.length})` : ""}
          </Popover.Trigger>
          <Popover.Portal>
          <Popover.Content
            align="start"
            sideOffset={4}
            collisionPadding={16}
            aria-label="Filters"
            className="z-20 flex w-96 max-w-[calc(100vw-2rem)] flex-wrap gap-6 rounded-md border border-slate-200 bg-white p-4 shadow-lg"
          >
            <CheckboxFilter legend="Status" options={USER_STATUSES.map((v) => ({ value: v, label: v }))} selected={state.status} onToggle={(v) => refilter({ status: toggle(state.status, v) })} />
            <CheckboxFilter legend="Source" options={USER_SOURCES.map((v) => ({ value: v, label: v }))} selected={state.source} onToggle={(v) => refilter({ source: toggle(state.source, v) })} />
            <CheckboxFilter
              legend="Can also enter"
              options={environments.map((e) => ({ value: e.key, label: e.name }))}
              selected={state.access}
              onToggle={(v) => refilter({ access: toggle(state.access, v) })}
            />
          </Popover.Content>
          </Popover.Portal>
        </Popover.Root>
        <a
          className="ml-auto rounded-md border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50"
          href={serializeUsersTableState(`/console/${environment.key}/users/export`, { ...state, group: fixedGroup?.id ?? state.group, after: null, before: null })}
        >
          Export CSV
        </a>
      </div>

      {canWrite && selectedIds.length > 0 && selectedIds.length === list.rows.length && (list.next || list.prev) && (
        <div className="border-b border-slate-200 bg-amber-50 px-4 py-2 text-sm">
          {allMatching ? (
            <>
              All {list.total ? `${list.total.exact ? "" : "about "}${list.total.value.toLocaleString("en")}` : ""} users matching this view are selected.{" "}
              <button type="button" className="text-brand-700 underline" onClick={() => setAllMatching(false)}>
                Only this page
              </button>
            </>
          ) : (
            <>
              {list.rows.length === 1 ? "The one user" : `The ${list.rows.length} users`} on this page {list.rows.length === 1 ? "is" : "are"} selected.{" "}
              <button type="button" className="text-brand-700 underline" onClick={() => setAllMatching(true)}>
                Select all {list.total ? `${list.total.exact ? "" : "about "}${list.total.value.toLocaleString("en")}` : ""} users matching this view
              </button>
            </>
          )}
        </div>
      )}
      {canWrite && selectedIds.length > 0 && (
        <BulkBar
          allMatching={allMatching ? { total: list.total, filter: { ...state, group: fixedGroup?.id ?? state.group, environmentId: environment.id, after: "", before: "" } } : null}
          environment={environment}
          environments={writableEnvironmentIds ? environments.filter((e) => writableEnvironmentIds.includes(e.id)) : environments}
          selectedIds={selectedIds}
          rows={list.rows}
          searchGroups={searchGroups}
          fixedGroup={fixedGroup}
          onDone={() => {
            setSelection({});
            setAllMatching(false);
          }}
        />
      )}

      <DataTable
        columns={columns}
        data={list.rows}
        sort={sort}
        onSortChange={(s) => {
          if (!s) return refilter({ sort: null, dir: null });
          if (!(USER_SORTS as readonly string[]).includes(s.id)) return;
          refilter({ sort: s.id as UserSort, dir: s.desc ? "desc" : "asc" });
        }}
        selection={canWrite ? selection : undefined}
        onSelectionChange={canWrite ? setSelection : undefined}
        caption={`Users of ${environment.name}`}
        empty={state.q ? `No user matches “${state.q}”.` : "No user matches these filters."}
      />
      <DataTablePagination
        total={list.total}
        noun={{ one: "user", other: "users" }}
        size={state.size}
        sizes={PAGE_SIZES}
        onSize={(size) => refilter({ size })}
        onPrev={list.prev ? () => void setState({ before: list.prev, after: null }) : null}
        onNext={list.next ? () => void setState({ after: list.next, before: null }) : null}
      />
    </div>
  );
}

function BulkBar({
  environment,
  environments,
  selectedIds,
  rows,
  searchGroups,
  fixedGroup,
  allMatching,
  onDone,
}: {
  allMatching: { total: UserList["total"]; filter: Record<string, unknown> } | null;
  environment: { id: string; key: string; name: string };
  environments: { id: string; key: string; name: string }[];
  selectedIds: string[];
  rows: UserListRow[];
  searchGroups: (q: string) => Promise<GroupOption[]>;
  fixedGroup?: GroupOption;
  onDone: () => void;
}) {
  const [action, setAction] = useState<BulkAction>(fixedGroup ? "remove_from_group" : "add_to_group");
  const [group, setGroup] = useState<GroupOption | null>(fixedGroup ?? null);
  const [environmentId, setEnvironmentId] = useState(environment.id);
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<BulkResult | null>(null);
  const { pending, run } = useAction();
  const needsGroup = action === "add_to_group" || action === "remove_from_group";
  const needsEnv = action === "grant_environment" || action === "revoke_environment";
  const ready = (!needsGroup || group) && (!needsEnv || environmentId);
  const n = allMatching?.total?.value ?? selectedIds.length;
  const [jobId, setJobId] = useState<string | null>(null);
  const fetchStatus = useCallback(async (id: string) => {
    const r = await jobStatusAction(id);
    return r.ok ? r.data : null;
  }, []);
  const job = useJob(jobId, fetchStatus);
  const label = (id: string) => rows.find((r) => r.id === id)?.email ?? id;
  const envName = environments.find((e) => e.id === environmentId)?.name ?? "";

  const describe = () => {
    const users = `${allMatching ? (allMatching.total?.exact ? "all " : "all (about) ") : ""}${n.toLocaleString("en")} user${n === 1 ? "" : "s"}`;
    switch (action) {
      case "add_to_group":
        return `Add ${users} to ${group?.name}.`;
      case "remove_from_group":
        return `Remove ${users} from ${group?.name}.`;
      case "grant_environment":
        return `Let ${users} enter ${envName} (they join its Everyone group).`;
      case "revoke_environment":
        return `Revoke ${envName} for ${users}: they leave every group there and their sessions in ${envName} end now.`;
      case "suspend":
        return `Suspend ${users}: they cannot sign in and every session ends now.`;
      case "reactivate":
        return `Reactivate ${users}.`;
      case "delete":
        return `Delete ${users} with all their access and memberships. This cannot be undone.`;
    }
  };

  const apply = () => {
    const input = needsGroup ? { action, groupId: group!.id, userIds: selectedIds } : needsEnv ? { action, environmentId, userIds: selectedIds } : { action, userIds: selectedIds };
    if (allMatching) {
      const { userIds: _ids, ...rest } = input;
      return run(() => startBulkAllMatchingAction({ ...rest, filter: allMatching.filter }), {
        onSettled: () => setConfirming(false),
        onSuccess: (d) => setJobId(d.jobId),
        refresh: false,
      });
    }
    // The selection (and so this bar) stays until the result is closed.
    run(() => bulkUsersAction(input), { onSettled: () => setConfirming(false), onSuccess: setResult, refresh: false });
  };

  return (
    <div className="flex flex-wrap items-end gap-3 border-b border-slate-200 bg-brand-50 px-4 py-3" role="region" aria-label="Bulk actions">
      <span className="text-sm font-medium" data-testid="selected-count">
        {n} selected
      </span>
      <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
        Action
        <select className="rounded-md border border-slate-300 px-2 py-2 text-sm" value={action} onChange={(e) => setAction(e.target.value as BulkAction)}>
          {Object.entries(BULK_LABELS).map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      </label>
      {needsGroup && <GroupPicker label="Group" search={searchGroups} value={group} onChange={setGroup} />}
      {needsEnv && (
        <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
          Environment
          <select className="rounded-md border border-slate-300 px-2 py-2 text-sm" value={environmentId} onChange={(e) => setEnvironmentId(e.target.value)}>
            {environments.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <Button type="button" disabled={!ready} onClick={() => setConfirming(true)}>
        Apply…
      </Button>

      <Modal
        open={confirming}
        onOpenChange={setConfirming}
        title={BULK_LABELS[action]}
        description={describe()}
        footer={
          <>
            <ModalClose asChild>
              <Button variant="secondary">Cancel</Button>
            </ModalClose>
            <Button variant={action === "delete" || action === "suspend" || action === "revoke_environment" ? "danger" : "primary"} disabled={pending} onClick={apply}>
              {pending ? "Working…" : `${BULK_LABELS[action]} (${n})`}
            </Button>
          </>
        }
      />

      <Modal
        open={job !== null}
        onOpenChange={(open) => {
          if (open) return;
          setJobId(null);
          onDone();
        }}
        title={`${BULK_LABELS[action]}: all matching`}
        description="Progress of the bulk action"
        hideDescription
      >
        {job && (
          <div className="mt-3 flex flex-col gap-3 text-sm">
            <JobProgress
              status={{ ...job, summary: { ...job.summary, bytes: Number(job.summary?.users ?? 0) }, total: n }}
              label="Progress"
              onCancel={() => run(() => cancelJobAction(job.id), { refresh: false })}
              stopping={pending}
            />
            {job.summary && (
              <p data-testid="bulk-job-summary">
                {String(job.summary.changed ?? 0)} changed, {String(job.summary.unchanged ?? 0)} already so, {String(job.summary.failed ?? 0)} failed.
              </p>
            )}
            {!jobActive(job) && (
              <a className="text-brand-700 underline" href={`/console/${environment.key}/jobs/${job.id}/report`}>
                Download the per-user report
              </a>
            )}
          </div>
        )}
      </Modal>

      <Modal
        open={result !== null}
        onOpenChange={(open) => {
          if (open) return;
          setResult(null);
          onDone();
        }}
        title="Result"
        description={result ? <span data-testid="bulk-summary">{result.changed.length} changed, {result.unchanged.length} already so, {result.failed.length} failed.</span> : ""}
      >
        {result && (
          <ul className="mt-3 flex flex-col gap-1 text-sm text-slate-700">
            {result.changed.map((id) => (
              <li key={id}>✓ {label(id)}</li>
            ))}
            {result.unchanged.map((id) => (
              <li key={id} className="text-slate-500">
                = {label(id)} (no change)
              </li>
            ))}
            {result.failed.map((f) => (
              <li key={f.userId} className="text-red-700">
                ✗ {label(f.userId)}: {f.reason}
              </li>
            ))}
          </ul>
        )}
      </Modal>
    </div>
  );
}

function CheckboxFilter<T extends string>({
  legend,
  options,
  selected,
  onToggle,
}: {
  legend: string;
  options: { value: T; label: string }[];
  selected: readonly string[];
  onToggle: (value: T) => void;
}) {
  return (
    <fieldset>
      <legend className="text-xs font-semibold uppercase text-slate-500">{legend}</legend>
      {options.map((o) => (
        <label key={o.value} className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={selected.includes(o.value)} onChange={() => onToggle(o.value)} />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}
