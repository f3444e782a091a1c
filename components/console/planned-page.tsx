import { PageHeader, Card } from "@/components/ui/card";

/** A page whose screen is planned but not built yet: says what will be there, and claims nothing works. */
export function PlannedPage({ title, description, planned }: { title: string; description: string; planned: string[] }) {
  return (
    <>
      <PageHeader title={title} description={description} />
      <Card>
        <p className="text-sm font-medium text-slate-800">Not available yet. This screen will offer:</p>
        <ul className="mt-2 list-disc pl-6 text-sm text-slate-600">
          {planned.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      </Card>
    </>
  );
}
