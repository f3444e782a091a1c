"use client";

import Link from "next/link";
import { useActionState, useRef } from "react";
import { startAuthentication } from "@simplewebauthn/browser";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import {
  changePasswordAction,
  forgotPasswordAction,
  passwordSignInAction,
  secondFactorSignInAction,
  secondStepPasskeyOptionsAction,
  setPasswordAction,
  signOutOthersAction,
  unlockAction,
  type FormState,
} from "./actions";
import { formLevelError } from "@/components/form-state";
import { NewPasswordFields } from "@/components/new-password-fields";

function FormError({ state }: { state: FormState }) {
  const error = formLevelError(state);
  if (!error) return null;
  return (
    <p role="alert" className="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
      {error}
    </p>
  );
}

export function PasswordForm({ envKey, email, returnTo }: { envKey: string; email: string; returnTo?: string }) {
  const [state, action, pending] = useActionState(passwordSignInAction.bind(null, envKey), null);
  if (state?.secondStep) return <SecondStepForm envKey={envKey} secondStep={state.secondStep} returnTo={returnTo} />;
  return (
    <form action={action} className="flex flex-col gap-4" noValidate>
      <FormError state={state} />
      <Field label="Email" name="email" type="email" autoComplete="username" defaultValue={email} required />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required autoFocus={!!email} errors={state?.fieldErrors?.password} />
      {returnTo && <input type="hidden" name="return_to" value={returnTo} />}
      <Button type="submit" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </Button>
      <Link href={`/e/${envKey}/forgot`} className="text-sm text-brand-700 hover:underline">
        Forgot your password?
      </Link>
    </form>
  );
}

/** After the right password: a code from the authenticator app, a recovery code, or a passkey. */
function SecondStepForm({ envKey, secondStep, returnTo }: { envKey: string; secondStep: string; returnTo?: string }) {
  const [state, action, pending] = useActionState(secondFactorSignInAction.bind(null, envKey), { secondStep });
  const form = useRef<HTMLFormElement>(null);
  const passkey = useRef<HTMLInputElement>(null);
  const token = state?.secondStep ?? secondStep;
  async function withPasskey() {
    const options = await secondStepPasskeyOptionsAction(envKey, token);
    if (!options) return;
    const answer = await startAuthentication({ optionsJSON: options }).catch(() => null);
    if (!answer || !passkey.current) return;
    passkey.current.value = JSON.stringify(answer);
    form.current?.requestSubmit();
  }
  return (
    <form ref={form} action={action} className="flex flex-col gap-4" noValidate>
      <FormError state={state} />
      <p className="text-sm text-slate-700">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      <input type="hidden" name="second_step" value={token} />
      {returnTo && <input type="hidden" name="return_to" value={returnTo} />}
      <input ref={passkey} type="hidden" name="passkey" defaultValue="" />
      <Field label="Authentication code" name="code" autoComplete="one-time-code" autoFocus />
      <Button type="submit" disabled={pending}>
        {pending ? "Verifying…" : "Verify"}
      </Button>
      <Button type="button" variant="secondary" disabled={pending} onClick={() => void withPasskey()}>
        Use a passkey
      </Button>
    </form>
  );
}

export function ForgotForm({ envKey }: { envKey: string }) {
  const [state, action, pending] = useActionState(forgotPasswordAction.bind(null, envKey), null);
  if (state?.done) {
    return (
      <p role="status" className="rounded-md border border-green-200 bg-green-50 p-3 text-sm">
        If an account with that email can sign in here, we have sent it a link to reset the password. The link works once, for one hour.
      </p>
    );
  }
  return (
    <form action={action} className="flex flex-col gap-4" noValidate>
      <Field label="Email" name="email" type="email" autoComplete="username" required />
      <Button type="submit" disabled={pending}>
        Send reset link
      </Button>
    </form>
  );
}

export function SetPasswordForm({ purpose, envKey, token, email }: { purpose: "invite" | "reset"; envKey: string; token: string; email: string }) {
  const [state, action, pending] = useActionState(setPasswordAction.bind(null, purpose, envKey, token), null);
  return (
    <form action={action} className="flex flex-col gap-4" noValidate>
      <FormError state={state} />
      <NewPasswordFields email={email} errors={state?.fieldErrors} />
      <Button type="submit" disabled={pending}>
        {purpose === "invite" ? "Set password and sign in" : "Reset password and sign in"}
      </Button>
    </form>
  );
}

export function UnlockForm({ envKey, token }: { envKey: string; token: string }) {
  const [state, action, pending] = useActionState(unlockAction.bind(null, envKey, token), null);
  if (state?.done) {
    return (
      <p role="status" className="rounded-md border border-green-200 bg-green-50 p-3 text-sm">
        Your account is unlocked. <Link href={`/e/${envKey}/sign-in`} className="text-brand-700 underline">Sign in</Link>
      </p>
    );
  }
  return (
    <form action={action} className="flex flex-col gap-4">
      <FormError state={state} />
      <Button type="submit" disabled={pending}>
        Unlock my account
      </Button>
    </form>
  );
}

function Notice({ state }: { state: FormState }) {
  if (!state?.notice) return null;
  return (
    <p role="status" className="rounded-md border border-green-200 bg-green-50 p-3 text-sm text-green-900">
      {state.notice}
    </p>
  );
}

/** The signed-in user's password: current, new, repeated (or why it is not changed here). */
export function ChangePasswordForm({ envKey, email, refusal }: { envKey: string; email: string; refusal: string | null }) {
  const [state, action, pending] = useActionState(changePasswordAction.bind(null, envKey), null);
  if (refusal) return <p className="mt-2 text-sm text-slate-600">{refusal}</p>;
  return (
    <form action={action} className="mt-3 flex max-w-sm flex-col gap-3" noValidate>
      <Notice state={state} />
      <FormError state={state} />
      <NewPasswordFields email={email} errors={state?.fieldErrors} current afterwards="Your other sessions are signed out." />
      <Button type="submit" className="self-start" disabled={pending}>
        Change password
      </Button>
    </form>
  );
}

/** Signs the user out of every other session (other browsers, other environments, the apps they gave). */
export function SignOutOthersForm({ envKey }: { envKey: string }) {
  const [state, action, pending] = useActionState(signOutOthersAction.bind(null, envKey), null);
  return (
    <form action={action} className="mt-3 flex flex-col items-start gap-2">
      <Notice state={state} />
      <FormError state={state} />
      <Button type="submit" variant="secondary" disabled={pending}>
        {/* Not "Sign out…": the page's own Sign out button is named so, and a name that starts alike reads as the same to assistive tools. */}
        End my other sessions
      </Button>
    </form>
  );
}
