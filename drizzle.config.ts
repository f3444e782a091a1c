import { defineConfig } from "drizzle-kit";

// Used only to generate migrations (`npm run db:generate`); they are applied by scripts/migrate.ts.
// Never `drizzle-kit push`: Jackson keeps its own tables in the same database.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./db/migrations",
  casing: "snake_case",
});
