"use client";

import { useActionState } from "react";
import { Button } from "@/components/ui/button";
import { formLevelError } from "@/components/form-state";
import { NewPasswordFields } from "@/components/new-password-fields";
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
      <NewPasswordFields email={email} errors={state?.fieldErrors} />
      <Button type="submit" disabled={pending}>
        Set password
      </Button>
    </form>
  );
}
