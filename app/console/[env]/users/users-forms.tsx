"use client";

import { useCallback, useState } from "react";
import * as Dialog from "@radix-ui/react-dialog";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { MultiPicker, type PickerOption } from "@/components/console/search-picker";
import { createGroupAction, createUserAction, searchGroupsAction } from "./actions";

type AddUserProps = {
  currentEnvironmentId: string;
  environments: { id: string; name: string }[];
};

export function AddUserDialog({ defaultOpen = false, ...props }: AddUserProps & { defaultOpen?: boolean }) {
  const [open, setOpen] = useState(defaultOpen);
  return (
    <Dialog.Root open={open} onOpenChange={setOpen}>
      <Dialog.Trigger asChild>
        <Button>Add user</Button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 bg-slate-900/40" />
        <Dialog.Content className="fixed left-1/2 top-1/2 max-h-[90vh] w-full max-w-lg -translate-x-1/2 -translate-y-1/2 overflow-auto rounded-lg bg-white p-6 shadow-xl">
          <Dialog.Title className="text-lg font-semibold">Add a user</Dialog.Title>
          <Dialog.Description className="text-sm text-slate-600">
            The user joins the Everyone group of each environment granted.
          </Dialog.Description>
          <CreateUserForm {...props} onCreated={() => setOpen(false)} onCancel={() => setOpen(false)} />
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Name, email, environments, and for each chosen environment its groups (searched on the server). */
export function CreateUserForm({ currentEnvironmentId, environments, onCreated, onCancel }: AddUserProps & { onCreated?: () => void; onCancel?: () => void }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  const [chosenEnvs, setChosenEnvs] = useState<string[]>([currentEnvironmentId]);
  const [groupsByEnv, setGroupsByEnv] = useState<Record<string, PickerOption[]>>({});
  const searchIn = useCallback(
    (environmentId: string) => async (q: string) => {
      const result = await searchGroupsAction({ environmentId, q });
      return result.ok ? result.data : [];
    },
    [],
  );

  function submit(form: HTMLFormElement) {
    const data = new FormData(form);
    run(
      () =>
        createUserAction({
          name: data.get("name"),
          email: data.get("email"),
          environmentIds: chosenEnvs,
          groupIds: chosenEnvs.flatMap((id) => (groupsByEnv[id] ?? []).map((g) => g.id)),
        }),
      {
        error: "inline",
        fieldErrors: setErrors,
        success: "User created.",
        onSuccess: () => {
          form.reset();
          setGroupsByEnv({});
          onCreated?.();
        },
        refresh: false,
      },
    );
  }

  return (
    <div>
      <form
        className="mt-3 flex flex-col gap-3"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          submit(e.currentTarget);
        }}
      >
        <Field label="Full name" name="name" errors={errors.name} required />
        <Field label="Email" name="email" type="email" errors={errors.email} required />
        <fieldset>
          <legend className="text-sm font-medium text-slate-700">Environments</legend>
          <div className="mt-1 flex gap-3">
            {environments.map((e) => (
              <label key={e.id} className="flex items-center gap-1 text-sm">
                <input
                  type="checkbox"
                  checked={chosenEnvs.includes(e.id)}
                  onChange={() => setChosenEnvs(chosenEnvs.includes(e.id) ? chosenEnvs.filter((id) => id !== e.id) : [...chosenEnvs, e.id])}
                />
                {e.name}
              </label>
            ))}
          </div>
          {errors.environmentIds && <p className="text-sm text-red-700">{errors.environmentIds.join(" ")}</p>}
        </fieldset>
        {environments
          .filter((e) => chosenEnvs.includes(e.id))
          .map((e) => (
            <MultiPicker
              key={e.id}
              label={`Groups in ${e.name}`}
              search={searchIn(e.id)}
              value={groupsByEnv[e.id] ?? []}
              onChange={(list) => setGroupsByEnv({ ...groupsByEnv, [e.id]: list })}
            />
          ))}
        {errors.groupIds && <p className="text-sm text-red-700">{errors.groupIds.join(" ")}</p>}
        {errors._form && (
          <p role="alert" className="text-sm text-red-700">
            {errors._form.join(" ")}
          </p>
        )}
        <div className="flex justify-end gap-2">
          {onCancel && (
            <Button type="button" variant="secondary" onClick={onCancel}>
              Cancel
            </Button>
          )}
          <Button type="submit" disabled={pending}>
            {pending ? "Adding…" : "Add user"}
          </Button>
        </div>
      </form>
    </div>
  );
}

/** "New group" and Create group (the Groups page). */
export function CreateGroupForm({ environmentId, className }: { environmentId: string; className?: string }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <form
      className={className}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const name = new FormData(form).get("name");
        // An error naming no field shows under the name (the field reads errors._form too).
        run(() => createGroupAction({ environmentId, name }), {
          error: "inline",
          fieldErrors: setErrors,
          success: "Group created.",
          onSuccess: () => form.reset(),
          refresh: false,
        });
      }}
    >
      <Field label="New group" name="name" errors={errors.name ?? errors._form} required />
      <Button type="submit" variant="secondary" disabled={pending}>
        Create group
      </Button>
    </form>
  );
}
