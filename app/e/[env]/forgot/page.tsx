import { ForgotForm } from "../forms";

export const metadata = { title: "Forgot password" };

export default async function ForgotPage({ params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  return (
    <section className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="mb-4 text-xl font-semibold">Reset your password</h1>
      <ForgotForm envKey={env} />
    </section>
  );
}
