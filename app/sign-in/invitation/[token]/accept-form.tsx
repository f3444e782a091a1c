"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { formLevelError } from "@/components/form-state";
import { NewPasswordFields } from "@/components/new-password-fields";
import { acceptInvitationAction } from "./actions";

export function AcceptInvitationForm({ token, email, name }: { token: string; email: string; name: string }) {
  const [state, action, pending] = useActionState(acceptInvitationAction.bind(null, token), null);
  return (
    <form action={action} className="flex flex-col gap-4" noValidate>
      {formLevelError(state) && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800">
          {formLevelError(state)}
        </p>
      )}
      <Field label="Your name" name="name" defaultValue={name} autoComplete="name" required errors={state?.fieldErrors?.name} />
      <NewPasswordFields email={email} errors={state?.fieldErrors} />
      <Button type="submit" disabled={pending}>
        Set password
      </Button>
    </form>
  );
}
