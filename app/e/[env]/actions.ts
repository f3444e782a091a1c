"use server";

import { cookies, headers } from "next/headers";
import { after } from "next/server";
import { redirect } from "next/navigation";
import { clientIp } from "@/lib/auth/request-info";
import {
  changeOwnPassword,
  completeSecondFactorSignIn,
  requestPasswordReset,
  secondStepPasskeyOptions,
  setPasswordWithLink,
  signInWithPassword,
  signOutOtherSessions,
  unlockWithLink,
} from "@/lib/end-user/password-accounts";
import type { ActionResult } from "@/lib/actions";
import type { DomainContext } from "@/lib/auth/actor";
import { confirmTotpEnrolment, finishPasskeyRegistration, regenerateRecoveryCodes, removeSecondFactor, startPasskeyRegistration, startTotpEnrolment } from "@/lib/second-factor";
import { currentEndUserSession } from "./session";
import { endEndUserSession, sessionCookieName, sessionCookieOptions } from "@/lib/end-user/sessions";
import type { FieldErrors } from "@/lib/errors";
import { clientErrorOf } from "@/lib/db-errors";
import { formText } from "@/lib/validation";
import { safeReturnPath } from "@/lib/sso/flow";

// The end user's own actions (no console session): thin doors onto lib/end-user.

/** `secondStep`: the password was right; the form asks for the code and sends it with this token. */
export type FormState = { error?: string; fieldErrors?: FieldErrors; done?: boolean; notice?: string; secondStep?: string } | null;

async function requestInfo() {
  const h = await headers();
  return { ip: clientIp((n) => h.get(n)), userAgent: h.get("user-agent") ?? undefined };
}

async function setSessionCookie(envKey: string, token: string) {
  (await cookies()).set(sessionCookieName(envKey), token, sessionCookieOptions());
}

/** The answer to what went wrong: the reason for anything a client sent (a domain error, a value Postgres refused), a general line for a fault of ours. */
function failure(error: unknown): FormState {
  const known = clientErrorOf(error);
  if (known) return { error: known.message, fieldErrors: known.fieldErrors };
  console.error("[end-user action] unexpected error", error);
  return { error: "Something went wrong on our side. Try again in a moment." };
}

export async function passwordSignInAction(envKey: string, _prev: FormState, form: FormData): Promise<FormState> {
  let target: string;
  try {
    const result = await signInWithPassword(envKey, { email: formText(form, "email"), password: formText(form, "password") }, await requestInfo());
    if (!result.ok) return result.secondStep ? { secondStep: result.secondStep } : { error: result.message };
    await setSessionCookie(envKey, result.signedIn.token);
    target = safeReturnPath(formText(form, "return_to"), envKey) ?? `/e/${envKey}`;
  } catch (error) {
    return failure(error);
  }
  redirect(target);
}

export async function forgotPasswordAction(envKey: string, _prev: FormState, form: FormData): Promise<FormState> {
  let email: string;
  try {
    email = formText(form, "email");
  } catch (error) {
    return failure(error);
  }
  const info = await requestInfo();
  // The same answer, status and timing whether or not the account exists: the work runs after it.
  after(() => requestPasswordReset(envKey, email, info).catch((e) => console.error("[reset] failed", e)));
  return { done: true };
}

export async function setPasswordAction(purpose: "invite" | "reset", envKey: string, token: string, _prev: FormState, form: FormData): Promise<FormState> {
  let signedIn: boolean;
  try {
    const result = await setPasswordWithLink(purpose, envKey, { token, password: formText(form, "password"), confirm: formText(form, "confirm") }, await requestInfo());
    signedIn = result.token !== null;
    if (result.token) await setSessionCookie(envKey, result.token);
  } catch (error) {
    return failure(error);
  }
  // Where SSO is enforced for this user the password is kept (break-glass later) but gives no session.
  redirect(signedIn ? `/e/${envKey}` : `/e/${envKey}/sign-in?password_set=1`);
}

export async function unlockAction(envKey: string, token: string, _prev: FormState): Promise<FormState> {
  try {
    const ok = await unlockWithLink(envKey, token, await requestInfo());
    return ok ? { done: true } : { error: "This link was already used or has expired." };
  } catch (error) {
    return failure(error);
  }
}

const signedOutOthers = (n: number) => (n === 0 ? "No other session was open." : `${n} other session${n === 1 ? "" : "s"} signed out.`);

/** The signed-in user's own password (the current one proves it is them); their other sessions end. */
export async function changePasswordAction(envKey: string, _prev: FormState, form: FormData): Promise<FormState> {
  try {
    const jar = await cookies();
    const { sessionsEnded, token } = await changeOwnPassword(
      envKey,
      jar.get(sessionCookieName(envKey))?.value,
      { current: formText(form, "current"), password: formText(form, "password"), confirm: formText(form, "confirm") },
      await requestInfo(),
    );
    // This browser goes on in a new session (a copy of the old cookie is signed out).
    await setSessionCookie(envKey, token);
    return { done: true, notice: `Password changed. ${signedOutOthers(sessionsEnded)}` };
  } catch (error) {
    return failure(error);
  }
}

/** "Sign out everywhere else": the user's other sessions end, in every environment; this one stays. */
export async function signOutOthersAction(envKey: string, _prev: FormState): Promise<FormState> {
  try {
    const jar = await cookies();
    const { sessionsEnded } = await signOutOtherSessions(envKey, jar.get(sessionCookieName(envKey))?.value, await requestInfo());
    return { done: true, notice: signedOutOthers(sessionsEnded) };
  } catch (error) {
    return failure(error);
  }
}

export async function signOutAction(envKey: string): Promise<void> {
  const jar = await cookies();
  const name = sessionCookieName(envKey);
  await endEndUserSession(jar.get(name)?.value);
  jar.delete(name);
  redirect(`/e/${envKey}/sign-in?signed_out=1`);
}

/** The second step of a password sign-in: the code (or a passkey's answer) with the first step's token. */
export async function secondFactorSignInAction(envKey: string, _prev: FormState, form: FormData): Promise<FormState> {
  let target: string;
  try {
    const secondStep = formText(form, "second_step");
    // A passkey's answer (set by the form's passkey button), or the code typed.
    const code = formText(form, "passkey") || formText(form, "code");
    const result = await completeSecondFactorSignIn(envKey, { secondStep, code }, await requestInfo());
    if (!result.ok) return { error: result.message, ...(result.secondStep ? { secondStep: result.secondStep } : {}) };
    await setSessionCookie(envKey, result.signedIn.token);
    target = safeReturnPath(formText(form, "return_to"), envKey) ?? `/e/${envKey}`;
  } catch (error) {
    return failure(error);
  }
  redirect(target);
}

/** The passkey challenge of a second step (null when there is none to answer). */
export async function secondStepPasskeyOptionsAction(envKey: string, secondStep: unknown) {
  try {
    return await secondStepPasskeyOptions(envKey, secondStep);
  } catch (error) {
    // Nothing to answer for what a client sent wrong (the form then asks for the code).
    if (clientErrorOf(error)) return null;
    throw error;
  }
}

// ---- The end user's own second factors (lib/second-factor acts on the signed-in user alone) ----

async function asEndUser<T>(envKey: string, run: (ctx: DomainContext) => Promise<T>): Promise<ActionResult<T>> {
  const current = await currentEndUserSession(envKey);
  if (!current) return { ok: false, error: "Your session has ended. Sign in again." };
  const ctx: DomainContext = { actor: { type: "end_user", id: current.user.id, label: current.user.email, environmentIds: [current.environment.id] }, ...(await requestInfo()) };
  try {
    return { ok: true, data: await run(ctx) };
  } catch (error) {
    const known = clientErrorOf(error);
    if (known) return { ok: false, error: known.message, fieldErrors: known.fieldErrors };
    throw error;
  }
}

export async function startTotpForUserAction(envKey: string) {
  return asEndUser(envKey, (ctx) => startTotpEnrolment(ctx));
}
export async function confirmTotpForUserAction(envKey: string, input: unknown) {
  return asEndUser(envKey, async (ctx) => {
    const { factor, recoveryCodes } = await confirmTotpEnrolment(ctx, input);
    return { name: factor.name, recoveryCodes };
  });
}
export async function startPasskeyForUserAction(envKey: string) {
  return asEndUser(envKey, (ctx) => startPasskeyRegistration(ctx));
}
export async function finishPasskeyForUserAction(envKey: string, input: unknown) {
  return asEndUser(envKey, async (ctx) => {
    const { factor, recoveryCodes } = await finishPasskeyRegistration(ctx, input);
    return { name: factor.name, recoveryCodes };
  });
}
export async function removeSecondFactorForUserAction(envKey: string, factorId: string) {
  return asEndUser(envKey, (ctx) => removeSecondFactor(ctx, String(factorId)));
}
export async function regenerateRecoveryCodesForUserAction(envKey: string) {
  return asEndUser(envKey, (ctx) => regenerateRecoveryCodes(ctx));
}
