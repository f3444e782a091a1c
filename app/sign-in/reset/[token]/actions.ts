"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { clientIp } from "@/lib/auth/request-info";
import { resetConsolePassword } from "@/lib/console-members/own-account";
import { clientErrorOf } from "@/lib/db-errors";
import type { FieldErrors } from "@/lib/errors";
import { formText } from "@/lib/validation";

// A console member's new password from a "forgot password" link (no session: the one-time link is
// the credential, checked and used up by lib/console-members/own-account.ts).

export type ResetState = { error?: string; fieldErrors?: FieldErrors } | null;

export async function resetPasswordAction(token: string, _prev: ResetState, form: FormData): Promise<ResetState> {
  let email: string;
  try {
    const h = await headers();
    const result = await resetConsolePassword({ token, password: formText(form, "password"), confirm: formText(form, "confirm") }, { ip: clientIp((n) => h.get(n)) });
    email = result.email;
  } catch (error) {
    const known = clientErrorOf(error);
    if (known) return { error: known.message, fieldErrors: known.fieldErrors };
    throw error;
  }
  redirect(`/sign-in?reset=1&email=${encodeURIComponent(email)}`);
}
