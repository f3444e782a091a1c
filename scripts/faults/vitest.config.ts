import path from "node:path";
import { defineConfig } from "vitest/config";

// `npm run test:faults` (scripts/faults/run.ts): the crash, database-restart and two-instance tests.
// Each file starts its own Postgres cluster and real app instances; they run one file at a time.
const root = path.resolve(import.meta.dirname, "../..");
export default defineConfig({
  root,
  resolve: {
    alias: {
      "@": root,
      "server-only": path.resolve(root, "node_modules/server-only/empty.js"),
    },
  },
  test: {
    include: ["scripts/faults/**/*.fault.ts"],
    environment: "node",
    pool: "forks",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
