"use server";

import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { clientIp } from "@/lib/auth/request-info";
import { acceptConsoleInvitation } from "@/lib/console-members";
import type { FieldErrors } from "@/lib/errors";
import { clientErrorOf } from "@/lib/db-errors";
import { formText } from "@/lib/validation";

// The invitee's own step (no console session yet): the one-time link is the credential, checked
// and used up by lib/console-members.

export type AcceptState = { error?: string; fieldErrors?: FieldErrors } | null;

export async function acceptInvitationAction(token: string, _prev: AcceptState, form: FormData): Promise<AcceptState> {
  let email: string;
  try {
    const h = await headers();
    const result = await acceptConsoleInvitation(
      { token, name: formText(form, "name"), password: formText(form, "password"), confirm: formText(form, "confirm") },
      { ip: clientIp((n) => h.get(n)) },
    );
    email = result.email;
  } catch (error) {
    const known = clientErrorOf(error);
    if (known) return { error: known.message, fieldErrors: known.fieldErrors };
    throw error;
  }
  redirect(`/sign-in?invited=1&email=${encodeURIComponent(email)}`);
}
