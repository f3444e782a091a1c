import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@": path.resolve(import.meta.dirname),
      // The workspace package is tested from its source (its dist is what `npm pack` publishes).
      "@iam-console/runtime": path.resolve(import.meta.dirname, "packages/runtime/src/index.ts"),
      // Domain modules import "server-only"; under vitest they run on the server anyway.
      "server-only": path.resolve(import.meta.dirname, "node_modules/server-only/empty.js"),
    },
  },
  test: {
    include: ["{app,lib,db,components,scripts,test-support,packages,examples}/**/*.test.{ts,tsx}"],
    environment: "node",
    globalSetup: ["test-support/global-setup.ts"],
    setupFiles: ["test-support/setup-file.ts"],
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
