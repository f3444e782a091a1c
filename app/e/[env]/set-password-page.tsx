import Link from "next/link";
import { peekToken } from "@/lib/end-user/password-accounts";
import { SetPasswordForm } from "./forms";

/** The page behind an invitation or reset link: the form while the link is usable, else why not. */
export async function SetPasswordPage({ purpose, params }: { purpose: "invite" | "reset"; params: Promise<{ env: string; token: string }> }) {
  const { env, token } = await params;
  const link = await peekToken(token, purpose, env);
  return (
    <section className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="mb-4 text-xl font-semibold">{purpose === "invite" ? "Set your password" : "Reset your password"}</h1>
      {link ? (
        <>
          <p className="mb-4 text-sm text-slate-600">For {link.email}</p>
          <SetPasswordForm purpose={purpose} envKey={env} token={token} email={link.email} />
        </>
      ) : (
        <p role="alert" className="text-sm text-red-800">
          This link was already used or has expired.{" "}
          <Link href={`/e/${env}/forgot`} className="text-brand-700 underline">
            Ask for a new one
          </Link>
        </p>
      )}
    </section>
  );
}
