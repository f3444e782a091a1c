import { Card, PageHeader } from "@/components/ui/card";
import { actorFromSession, requireConsoleSession } from "@/lib/auth/session";
import { listApiTokens } from "@/lib/api/tokens";
import { listEnvironments } from "@/lib/environments";
import { can } from "@/lib/permissions";
import { ApiTokens } from "./api-tokens";

export const metadata = { title: "Settings" };

export default async function SettingsPage() {
  const session = await requireConsoleSession();
  const [tokens, environments] = await Promise.all([listApiTokens(), listEnvironments()]);
  const envKey = new Map(environments.map((e) => [e.id, e.key]));
  return (
    <>
      <PageHeader title="Settings" description="API tokens for the admin REST API. Console members and signing keys come with later work." />
      <Card>
        <h2 className="text-base font-semibold">Admin REST API</h2>
        <p className="mt-1 text-sm text-slate-600">
          Base URL <code className="rounded bg-slate-100 px-1">/api/v1</code>; the{" "}
          <a className="text-brand-700 underline" href="/api/v1/openapi.json">
            OpenAPI 3.1 document
          </a>{" "}
          describes every endpoint. Send a token as <code className="rounded bg-slate-100 px-1">Authorization: Bearer …</code>; each token may
          make 600 requests a minute.
        </p>
        <ApiTokens
          canWrite={can(actorFromSession(session), "api_tokens", "write")}
          environments={environments.map((e) => ({ id: e.id, name: e.name }))}
          tokens={tokens.map((t) => ({
            id: t.id,
            name: t.name,
            hint: t.tokenHint,
            scope: t.scope,
            environments: t.environmentIds ? t.environmentIds.map((id) => envKey.get(id) ?? "?").join(", ").toUpperCase() : "All",
            createdAt: t.createdAt.toISOString().slice(0, 10),
            lastUsedAt: t.lastUsedAt ? t.lastUsedAt.toISOString().slice(0, 16).replace("T", " ") : "Never",
            state: t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt < new Date() ? "expired" : "active",
          }))}
        />
      </Card>
    </>
  );
}
