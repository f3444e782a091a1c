"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { clientIp } from "@/lib/auth/request-info";
import { acceptConsoleInvitation } from "@/lib/console-members";
import { isDomainError, type FieldErrors } from "@/lib/errors";

// The invitee's own step (no console session yet): the one-time link is the credential, checked
// and used up by lib/console-members.

export type AcceptState = { error?: string; fieldErrors?: FieldErrors } | null;

export async function acceptInvitationAction(token: string, _prev: AcceptState, form: FormData): Promise<AcceptState> {
  let email: string;
  try {
    const h = await headers();
    const result = await acceptConsoleInvitation(
      { token, name: String(form.get("name") ?? ""), password: String(form.get("password") ?? ""), confirm: String(form.get("confirm") ?? "") },
      { ip: clientIp((n) => h.get(n)) },
    );
    email = result.email;
  } catch (error) {
    if (isDomainError(error)) return { error: error.message, fieldErrors: error.fieldErrors };
    throw error;
  }
  redirect(`/sign-in?invited=1&email=${encodeURIComponent(email)}`);
}
