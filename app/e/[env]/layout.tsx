import { notFound } from "next/navigation";
import { findEnvironmentByKey } from "@/lib/environments";

export default async function EndUserLayout({ children, params }: { children: React.ReactNode; params: Promise<{ env: string }> }) {
  const { env: key } = await params;
  const env = await findEnvironmentByKey(key);
  if (!env) notFound();
  return (
    <div className="min-h-screen bg-slate-50">
      <header className="border-b border-slate-200 bg-white px-6 py-3 text-sm">
        <span className="font-semibold">Automation platform</span> <span className="text-slate-500">· {env.name}</span>
      </header>
      <main className="mx-auto max-w-2xl px-6 py-10">{children}</main>
    </div>
  );
}
