"use client";

import { useState } from "react";
import { useRouter } from "next/navigation";
import { signIn } from "next-auth/react";
import { startAuthentication } from "@simplewebauthn/browser";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { SIGN_IN_ERRORS } from "@/lib/auth/sign-in-errors";
import { passkeyOptionsAction } from "./actions";

export function SignInForm({ callbackUrl, email, ssoName, forgotLink = true }: { callbackUrl: string; email?: string; ssoName?: string | null; forgotLink?: boolean }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  // After a right password of a member with a second factor: the form keeps email and password and asks for the code.
  const [askCode, setAskCode] = useState(false);

  async function submit(form: FormData, code?: string) {
    setPending(true);
    setError(null);
    const result = await signIn("credentials", {
      email: String(form.get("email") ?? ""),
      password: String(form.get("password") ?? ""),
      ...(code !== undefined ? { code } : {}),
      redirect: false,
    });
    setPending(false);
    if (result?.error === SIGN_IN_ERRORS.codeRequired) {
      setAskCode(true);
      return;
    }
    if (result?.error === SIGN_IN_ERRORS.codeWrong) {
      setError("That code is not right, or was used already. Too many wrong codes lock the account for a while.");
      return;
    }
    if (result?.error === SIGN_IN_ERRORS.ssoRequired) {
      setError(`Members sign in to this console with single sign-on${ssoName ? ` (${ssoName})` : ""}: use the button below. Passwords are for owners only.`);
      return;
    }
    if (!result || result.error) {
      // One message for unknown email, wrong password and locked account: nothing to enumerate.
      setError("Wrong email or password, or the account is locked for a while after too many attempts.");
      return;
    }
    router.replace(callbackUrl);
    router.refresh();
  }

  async function onSubmit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    await submit(form, askCode ? String(form.get("code") ?? "") : undefined);
  }

  /** The passkey way: the server checks the password again and answers a challenge; the browser asks the authenticator; the answer is the code. */
  async function withPasskey(button: HTMLButtonElement) {
    const form = new FormData(button.form!);
    setError(null);
    const options = await passkeyOptionsAction(form.get("email"), form.get("password"));
    if (!options.ok) return setError(options.error);
    const answer = await startAuthentication({ optionsJSON: options.options }).catch(() => null);
    if (!answer) return setError("The passkey was not used. Try again, or enter a code.");
    await submit(form, JSON.stringify(answer));
  }

  return (
    <form onSubmit={onSubmit} className="mt-6 flex flex-col gap-4" noValidate>
      <div className={askCode ? "hidden" : "contents"}>
        <Field label="Email" name="email" type="email" autoComplete="username" defaultValue={email} required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        {forgotLink && (
          <a href="/sign-in/forgot" className="-mt-2 self-end text-xs text-brand-700 underline">
            Forgot your password?
          </a>
        )}
      </div>
      {askCode && (
        <>
          <p className="text-sm text-slate-700">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
          <Field label="Authentication code" name="code" autoComplete="one-time-code" inputMode="text" autoFocus />
          <Button type="button" variant="secondary" disabled={pending} onClick={(e) => void withPasskey(e.currentTarget)}>
            Use a passkey
          </Button>
        </>
      )}
      {error && (
        <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800">
          {error}
        </p>
      )}
      <Button type="submit" disabled={pending}>
        {pending ? "Signing in…" : askCode ? "Verify" : "Sign in"}
      </Button>
    </form>
  );
}
