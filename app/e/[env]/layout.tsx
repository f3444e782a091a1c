import type { CSSProperties } from "react";
import { notFound } from "next/navigation";
import { brandingOf, productName } from "@/lib/branding";
import { findEnvironmentByKey } from "@/lib/environments";

// The end users' pages of an environment (sign-in, home, consent), in its branding (lib/branding):
// its name and logo, its primary colour on buttons and links, its background, a support link.
export default async function EndUserLayout({ children, params }: { children: React.ReactNode; params: Promise<{ env: string }> }) {
  const { env: key } = await params;
  const env = await findEnvironmentByKey(key);
  if (!env) notFound();
  const branding = await brandingOf(env.id);
  const name = productName(branding);
  // Applied in the light theme (app/globals.css, [data-branding]); the dark theme keeps its palette.
  const style = { "--branding-primary": branding.primaryColor, "--branding-background": branding.backgroundColor } as CSSProperties;
  return (
    <div className="min-h-screen bg-slate-50" style={style} data-branding="" data-testid="branded-page">
      <header className="flex items-center gap-2 border-b border-slate-200 bg-white px-6 py-3 text-sm">
        {branding.logo && (
          // eslint-disable-next-line @next/next/no-img-element -- a small logo served by our own route
          <img src={`/e/${env.key}/branding/logo?v=${branding.logo.version}`} alt="" className="h-6 w-auto" />
        )}
        <span className="font-semibold">{name}</span> <span className="text-slate-600">· {env.name}</span>
      </header>
      <main className="mx-auto max-w-2xl px-6 py-10">{children}</main>
      {branding.supportUrl && (
        <footer className="pb-8 text-center text-sm text-slate-700">
          Need help?{" "}
          <a className="text-brand-700 underline" href={branding.supportUrl}>
            Contact support
          </a>
        </footer>
      )}
    </div>
  );
}
