"use client";

import { useCallback, useState } from "react";
import { Button } from "@/components/ui/button";
import { SearchPicker, type PickerOption } from "@/components/console/search-picker";
import { useAction } from "@/components/use-action";
import { addMembersAction, searchUsersAction } from "../../users/actions";

/** Pick users by name or email (searched on the server as you type) and add them to the group. */
export function AddMembers({ environmentId, group }: { environmentId: string; group: { id: string; name: string } }) {
  const [picked, setPicked] = useState<PickerOption[]>([]);
  const [current, setCurrent] = useState<PickerOption | null>(null);
  const { pending, run } = useAction();
  const search = useCallback(async (q: string) => {
    const result = await searchUsersAction(environmentId, q);
    return result.ok ? result.data : [];
  }, [environmentId]);

  return (
    <div className="mb-4 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4">
      <SearchPicker
        label={`Add members to ${group.name}`}
        placeholder="Search users"
        search={search}
        value={current}
        onChange={(u) => {
          if (u && !picked.some((p) => p.id === u.id)) setPicked([...picked, u]);
          setCurrent(null);
        }}
      />
      <ul className="flex flex-wrap gap-2" aria-label="Users to add">
        {picked.map((u) => (
          <li key={u.id} className="inline-flex items-center gap-1 rounded bg-slate-100 px-2 py-1 text-sm">
            {u.name}
            <button type="button" aria-label={`Do not add ${u.name}`} className="text-slate-500" onClick={() => setPicked(picked.filter((p) => p.id !== u.id))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <Button
        type="button"
        disabled={picked.length === 0 || pending}
        onClick={() =>
          run(() => addMembersAction({ groupId: group.id, userIds: picked.map((p) => p.id) }), {
            success: ({ changed, unchanged, failed }) =>
              `${changed.length} added, ${unchanged.length} already members${failed.length ? `, ${failed.length} failed: ${failed[0]!.reason}` : ""}.`,
            onSuccess: () => setPicked([]),
          })
        }
      >
        Add {picked.length || ""}
      </Button>
    </div>
  );
}
