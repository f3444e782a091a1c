import type { Metadata } from "next";
import { NuqsAdapter } from "nuqs/adapters/next/app";
import { Toaster } from "sonner";
import { cookies } from "next/headers";
import { THEME_COOKIE } from "@/components/theme";
import "./globals.css";

// Every page is rendered per request: the CSP nonce (proxy.ts) must reach Next's own scripts.
export const dynamic = "force-dynamic";

export const metadata: Metadata = {
  title: { default: "Identity console", template: "%s · Identity console" },
  description: "Who may enter which environment, in which groups, signing in how, with access to which features.",
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  // The theme: the system's preference unless the person chose one (components/theme-toggle.tsx).
  const chosen = (await cookies()).get(THEME_COOKIE)?.value;
  const theme = chosen === "light" || chosen === "dark" ? chosen : "system";
  return (
    <html lang="en" data-theme={theme}>
      <body className="min-h-screen">
        <NuqsAdapter>{children}</NuqsAdapter>
        <Toaster richColors closeButton position="top-right" />
      </body>
    </html>
  );
}
