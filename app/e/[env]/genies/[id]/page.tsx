import Link from "next/link";
import { notFound, redirect } from "next/navigation";
import { findResource } from "@/lib/access/resources";
import { usableEndUserSession } from "../../session";
import { GenieChat } from "./genie-chat";

export const metadata = { title: "Genie" };

export default async function GeniePage({ params }: { params: Promise<{ env: string; id: string }> }) {
  const { env: envKey, id } = await params;
  const current = await usableEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}`);
  const genie = await findResource(current.environment.id, id);
  if (!genie || genie.feature !== "agent_studio") notFound();
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <Link href={`/e/${envKey}`} className="text-sm text-brand-700 hover:underline">
        ← Home
      </Link>
      <h1 className="mt-2 text-xl font-semibold">{genie.name}</h1>
      {genie.description && <p className="text-sm text-slate-600">{genie.description}</p>}
      <GenieChat envKey={envKey} genieId={genie.id} />
    </section>
  );
}
