"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { formLevelError } from "@/components/form-state";
import { forgotPasswordAction } from "./actions";

export function ForgotPasswordForm({ email }: { email?: string }) {
  const [state, action, pending] = useActionState(forgotPasswordAction, null);
  if (state?.sent) {
    return (
      <p role="status" className="mt-4 rounded-md border border-green-200 bg-green-50 p-3 text-sm">
        If {state.sent} belongs to a console member who signs in with a password, a link to set a new one is on its way. It works once, for an hour.
      </p>
    );
  }
  return (
    <form action={action} className="mt-4 flex flex-col gap-4" noValidate>
      {formLevelError(state) && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800">
          {formLevelError(state)}
        </p>
      )}
      <Field label="Email" name="email" type="email" autoComplete="username" defaultValue={email} required errors={state?.fieldErrors?.email} />
      <Button type="submit" disabled={pending}>
        Send the link
      </Button>
    </form>
  );
}
