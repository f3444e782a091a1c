import { Field } from "@/components/ui/field";
import type { FieldErrors } from "@/lib/errors";

/**
 * The fields every form that sets a password shows: the account's email for password managers
 * (hidden), the current password when changing one, the new one with the rule, and the new one
 * again. Field names `current`, `password`, `confirm`, as the domain's inputs.
 */
export function NewPasswordFields({ email, errors, current = false, afterwards = "No other rules." }: { email: string; errors?: FieldErrors; current?: boolean; afterwards?: string }) {
  return (
    <>
      <input type="text" name="username" autoComplete="username" value={email} readOnly hidden />
      {current && <Field label="Current password" name="current" type="password" autoComplete="current-password" required errors={errors?.current} />}
      <Field label="New password" name="password" type="password" autoComplete="new-password" required errors={errors?.password} />
      <p className="-mt-2 text-xs text-slate-500">At least 12 characters; a few unrelated words work well. {afterwards}</p>
      <Field label={current ? "Repeat the new password" : "Repeat the password"} name="confirm" type="password" autoComplete="new-password" required errors={errors?.confirm} />
    </>
  );
}
