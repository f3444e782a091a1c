import type { Metadata } from "next";
import { peekConsolePasswordReset } from "@/lib/console-members/own-account";
import { ResetPasswordForm } from "./reset-form";

export const metadata: Metadata = { title: "Set a new password" };
export const dynamic = "force-dynamic";

/** The page behind a console "forgot password" link: the form while the link is usable, else why not. */
export default async function ResetPasswordPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const reset = await peekConsolePasswordReset(token);
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold">Set a new password</h1>
        {reset?.refusal ? (
          <p role="alert" className="mt-4 text-sm text-red-800">
            {reset.refusal}
          </p>
        ) : reset ? (
          <>
            <p className="mb-4 mt-1 text-sm text-slate-600">For {reset.email}. Setting it signs you out everywhere; then sign in with it (and your second factor, if you have one).</p>
            <ResetPasswordForm token={token} email={reset.email} />
          </>
        ) : (
          <p role="alert" className="mt-4 text-sm text-red-800">
            This link was already used or has expired.{" "}
            <a href="/sign-in/forgot" className="underline">
              Ask for a new one
            </a>
            .
          </p>
        )}
      </div>
    </main>
  );
}
