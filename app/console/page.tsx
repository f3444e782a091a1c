import { redirect } from "next/navigation";
import { requireConsoleSession } from "@/lib/auth/session";
import { listEnvironments } from "@/lib/environments";

export const dynamic = "force-dynamic";

export default async function ConsoleIndex() {
  await requireConsoleSession();
  const [first] = await listEnvironments();
  if (!first) return <p className="p-8">No environments exist yet. Run the seed or create one through the API.</p>;
  redirect(`/console/${first.key}`);
}
