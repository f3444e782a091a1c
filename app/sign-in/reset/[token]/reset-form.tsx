"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { formLevelError } from "@/components/form-state";
import { resetPasswordAction } from "./actions";

export function ResetPasswordForm({ token, email }: { token: string; email: string }) {
  const [state, action, pending] = useActionState(resetPasswordAction.bind(null, token), null);
  return (
    <form action={action} className="flex flex-col gap-4" noValidate>
      {formLevelError(state) && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800">
          {formLevelError(state)}
        </p>
      )}
      <input type="text" name="username" autoComplete="username" value={email} readOnly hidden />
      <Field label="New password" name="password" type="password" autoComplete="new-password" required errors={state?.fieldErrors?.password} />
      <p className="-mt-2 text-xs text-slate-500">At least 12 characters; a few unrelated words work well. No other rules.</p>
      <Field label="Repeat the password" name="confirm" type="password" autoComplete="new-password" required errors={state?.fieldErrors?.confirm} />
      <Button type="submit" disabled={pending}>
        Set password
      </Button>
    </form>
  );
}
