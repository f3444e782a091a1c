import type { Metadata } from "next";
import { SELF_SERVICE_RESET_OFF } from "@/lib/console-members/own-account";
import { consoleSecurity } from "@/lib/second-factor";
import { ForgotPasswordForm } from "./forgot-form";

export const metadata: Metadata = { title: "Forgot your password" };
export const dynamic = "force-dynamic";

/** A console member's "forgot password": their email, then a one-time link by mail. */
export default async function ForgotPasswordPage({ searchParams }: { searchParams: Promise<{ email?: string }> }) {
  const [{ email }, security] = await Promise.all([searchParams, consoleSecurity()]);
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold">Forgot your password?</h1>
        {security.selfServiceReset ? (
          <>
            <p className="mt-1 text-sm text-slate-600">Enter your console email; we mail you a link to set a new password. Your second factor stays as it is.</p>
            <ForgotPasswordForm email={typeof email === "string" ? email.slice(0, 320) : undefined} />
          </>
        ) : (
          <p role="alert" className="mt-4 text-sm text-slate-700">
            {SELF_SERVICE_RESET_OFF}
          </p>
        )}
        <p className="mt-4 text-sm">
          <a href="/sign-in" className="text-brand-700 underline">
            Back to sign-in
          </a>
        </p>
      </div>
    </main>
  );
}
