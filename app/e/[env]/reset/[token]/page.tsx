import Link from "next/link";
import { peekToken } from "@/lib/end-user/password-accounts";
import { SetPasswordForm } from "../../forms";

export const metadata = { title: "Reset your password" };

export default async function Page({ params }: { params: Promise<{ env: string; token: string }> }) {
  const { env, token } = await params;
  const link = await peekToken(token, "reset", env);
  return (
    <section className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="mb-4 text-xl font-semibold">Reset your password</h1>
      {link ? (
        <>
          <p className="mb-4 text-sm text-slate-600">For {link.email}</p>
          <SetPasswordForm purpose="reset" envKey={env} token={token} email={link.email} />
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
