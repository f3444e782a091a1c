import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { publicOrigin } from "@/env";
import { getConsoleSession } from "@/lib/auth/session";
import { safeRedirectTarget } from "@/lib/net/redirect";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; invited?: string; email?: string }> }) {
  if (await getConsoleSession()) redirect("/console");
  const { callbackUrl, invited, email } = await searchParams;
  // Only our own origin, judged as the browser will resolve it: an open redirect after sign-in
  // would hand a freshly signed-in administrator to anyone's page.
  const target = safeRedirectTarget(callbackUrl, publicOrigin()) ?? "/console";
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold">Sign in to the identity console</h1>
        <p className="mt-1 text-sm text-slate-600">For administrators and reviewers.</p>
        {invited === "1" && (
          <p role="status" className="mt-4 rounded-md border border-green-200 bg-green-50 p-3 text-sm">
            Your password is set. Sign in to continue.
          </p>
        )}
        <SignInForm callbackUrl={target} email={typeof email === "string" ? email.slice(0, 320) : undefined} />
      </div>
    </main>
  );
}
