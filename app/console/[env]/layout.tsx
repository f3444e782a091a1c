import { cookies } from "next/headers";
import { notFound } from "next/navigation";
import { THEME_COOKIE, type Theme } from "@/components/theme";
import { ThemeToggle } from "@/components/theme-toggle";
import { CONSOLE_ROLE_LABELS } from "@/db/enums";
import { requireConsoleSession } from "@/lib/auth/session";
import { listEnvironments } from "@/lib/environments";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { EnvironmentSwitcher } from "@/components/console/environment-switcher";
import { CommandPalette } from "@/components/console/command-palette";
import { paletteSearchAction } from "./actions";
import { ConsoleNav } from "@/components/console/console-nav";
import { UserMenu } from "@/components/console/user-menu";
import { StepUpDialog } from "@/components/console/step-up";
import { counted } from "@/lib/domain/words";

export const dynamic = "force-dynamic";

export default async function ConsoleLayout({ children, params }: { children: React.ReactNode; params: Promise<{ env: string }> }) {
  const session = await requireConsoleSession();
  const { env } = await params;
  const [environments, idps] = await Promise.all([listEnvironments(), listIdentityProviders()]);
  // Signing certificates close to expiry (90, 30, 7 days): the newest approved certificate of each
  // IdP counts; and certificates read from the metadata that await approval. Each links to the IdP's certificates.
  const expiring = idps.filter((idp) => idp.certificateWarning || idp.pendingCertificates > 0);
  const current = environments.find((e) => e.key === env);
  const chosenTheme = (await cookies()).get(THEME_COOKIE)?.value;
  const theme: Theme = chosenTheme === "light" || chosenTheme === "dark" ? chosenTheme : "system";
  if (!current) notFound();

  return (
    <div className="flex min-h-screen flex-col">
      <header className="flex items-center gap-4 border-b border-slate-200 bg-white px-6 py-3">
        <a href={`/console/${current.key}`} className="text-base font-semibold text-slate-900">
          Identity console
        </a>
        <EnvironmentSwitcher environments={environments.map((e) => ({ key: e.key, name: e.name }))} current={current.key} />
        <CommandPalette environment={{ id: current.id, key: current.key, name: current.name }} environments={environments.map((e) => ({ key: e.key, name: e.name }))} search={paletteSearchAction} />
        <div className="ml-auto flex items-center gap-4">
          <ThemeToggle initial={theme} />
          <UserMenu name={session.member.name} email={session.member.email} role={CONSOLE_ROLE_LABELS[session.member.role]} />
        </div>
      </header>
      <StepUpDialog />
      <div className="flex flex-1">
        <ConsoleNav envKey={current.key} />
        <main id="main" className="flex-1 overflow-x-auto p-6">
          {expiring.length > 0 && (
            <div role="status" className="mb-4 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
              {expiring.map(({ id, name, certificateWarning: warning, pendingCertificates: pending }) => (
                <p key={id}>
                  <a className="font-medium underline" href={`/console/${current.key}/identity-providers/${id}#certificates`}>
                    {name}
                  </a>
                  {warning && (warning.level === "expired" ? "'s signing certificate has expired" : `'s signing certificate expires in ${counted(warning.days, "day")}`)}
                  {pending > 0 && (warning ? "; its metadata lists " : "'s metadata lists ")}
                  {pending > 0 && (pending === 1 ? "a new certificate that awaits your approval" : `${pending} new certificates that await your approval`)}
                  {warning && pending === 0 ? ": refresh its metadata once the IdP has a new one, then approve it." : "."}
                </p>
              ))}
            </div>
          )}
          {children}
        </main>
      </div>
    </div>
  );
}
