"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { DangerAction } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { deleteGroupAction, updateGroupAction } from "../../users/actions";

const exclusionsWords = (n: number) => (n === 1 ? "Its 1 standing exclusion" : `Its ${n} standing exclusions`);

/** Rename a console-made group or change its description; delete it apart, by typing its name. */
export function GroupSettings({ envKey, group }: { envKey: string; group: { id: string; name: string; description: string; standingExclusions: number } }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <>
      <form
        className="flex flex-wrap items-end gap-3"
        aria-label="Group settings"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget);
          run(() => updateGroupAction(group.id, { name: data.get("name"), description: data.get("description") ?? "" }), {
            error: "inline",
            fieldErrors: setErrors,
            success: "Group saved.",
          });
        }}
      >
        <Field label="Name" name="name" defaultValue={group.name} errors={errors.name ?? errors._form} />
        <Field label="Description" name="description" defaultValue={group.description} errors={errors.description} className="min-w-72" />
        <Button type="submit" variant="secondary" disabled={pending}>
          Save
        </Button>
      </form>
      <DangerAction
        warning="Delete this group: its members leave it and its grants end."
        buttonLabel="Delete group…"
        title={`Delete ${group.name}?`}
        description={`Its members leave it and the access it grants ends at once.${group.standingExclusions ? ` ${exclusionsWords(group.standingExclusions)} from access reviews end with it: a directory or IdP sync may then add those people to a group made again under this name.` : ""} The audit trail keeps what happened.`}
        confirmLabel="Delete group"
        typeToConfirm={group.name}
        pending={pending}
        onConfirm={(close) => run(() => deleteGroupAction(group.id), { success: `Deleted ${group.name}.`, redirectTo: `/console/${envKey}/groups`, onSettled: close })}
      />
    </>
  );
}
