import { UnlockForm } from "../../forms";

export const metadata = { title: "Unlock your account" };

// GET shows the button only; the unlock itself is a POST (GET never changes state).
export default async function UnlockPage({ params }: { params: Promise<{ env: string; token: string }> }) {
  const { env, token } = await params;
  return (
    <section className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="mb-4 text-xl font-semibold">Unlock your account</h1>
      <UnlockForm envKey={env} token={token} />
    </section>
  );
}
