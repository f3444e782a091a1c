"use server";

import { after } from "next/server";
import { headers } from "next/headers";
import { clientIp } from "@/lib/auth/request-info";
import { requestConsolePasswordReset } from "@/lib/console-members/own-account";
import { clientErrorOf } from "@/lib/db-errors";
import type { FieldErrors } from "@/lib/errors";
import { formText } from "@/lib/validation";

// "Forgot password" for console members, public by nature: lib/console-members/own-account.ts
// checks the address and the rate limits; the lookup and the mail run after the answer, which is
// the same whatever the email (nothing to enumerate, not even by timing).

export type ForgotState = { sent?: string; error?: string; fieldErrors?: FieldErrors } | null;

export async function forgotPasswordAction(_prev: ForgotState, form: FormData): Promise<ForgotState> {
  try {
    const email = formText(form, "email");
    const h = await headers();
    const mailLink = await requestConsolePasswordReset(email, { ip: clientIp((n) => h.get(n)) });
    after(() => mailLink().catch((e) => console.error("[console reset] failed", e)));
    return { sent: email.trim() };
  } catch (error) {
    const known = clientErrorOf(error);
    if (!known) throw error;
    return { error: known.message, fieldErrors: known.fieldErrors };
  }
}
