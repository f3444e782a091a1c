import { z } from "zod";

// Environment variables are read here once and nowhere else. Parsing is lazy so that
// `next build` (which evaluates route modules) needs neither a database nor a secret.
const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .describe("Postgres connection string; `npm start` sets it to the embedded server when unset"),
  NEXTAUTH_SECRET: z.string().min(32, "must be at least 32 characters"),
  NEXTAUTH_URL: z.url().optional(),
  DATA_DIR: z.string().default(".data"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  // SCIM creates of one directory: batches written at once, and creates waiting before a second starts.
  SCIM_BATCH_WRITERS: z.coerce.number().int().min(1).max(16).default(2),
  SCIM_SECOND_WRITER_AT: z.coerce.number().int().min(1).max(64).default(4),
  // Requests a minute per SCIM directory token before 429 with Retry-After.
  SCIM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000_000).default(30_000),
  // Statements run often are prepared on each connection (db/auto-prepare.ts); "false" for a pooler
  // that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
  DATABASE_PREPARE: z
    .enum(["true", "false", "1", "0"])
    .default("true")
    .transform((v) => v === "true" || v === "1"),
  // Mail: without SMTP_URL, mail goes to the outbox the console shows (the demo's default).
  SMTP_URL: z.string().regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL").optional(),
  MAIL_FROM: z.string().default("IAM Console <no-reply@localhost>"),
  // IdP metadata URLs that resolve to private or loopback addresses are refused unless this is on.
  ALLOW_PRIVATE_METADATA_URLS: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  // OAuth Client ID Metadata Documents (MCP clients identified by an https URL) are not fetched
  // from private or loopback addresses unless this is on (clients whose documents are served inside).
  ALLOW_PRIVATE_CLIENT_METADATA_URLS: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  // Which hops in front of the app are our proxies (their X-Forwarded-For is believed): unset for
  // none, a number of hops, or a comma-separated list of addresses and CIDR ranges.
  TRUST_PROXY: z.string().max(2000).optional(),
  // Decisions, API tokens and environments from memory (lib/access/decision-cache.ts); "off" reads
  // the database every time. Unset: on, except under vitest.
  DECISION_CACHE: z.enum(["on", "off"]).optional(),
  // Audit webhook URLs that resolve to private or loopback addresses are refused unless this is on.
  ALLOW_PRIVATE_WEBHOOK_URLS: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  // End-user password lockout: failures in a row before the account locks, and for how long.
  PASSWORD_LOCKOUT_THRESHOLD: z.coerce.number().int().min(3).max(100).default(10),
  PASSWORD_LOCKOUT_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  // Audit events as JSON lines on stdout for log shippers, once each, when sealed into the chain.
  AUDIT_STDOUT: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  // Runtime token signing keys rotate on this schedule (and on demand from Settings).
  KEY_ROTATION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
});

export type Env = z.infer<typeof schema>;

let cached: Env | undefined;

export function env(): Env {
  if (cached) return cached;
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join("\n")}\n(see README.md, "Configuration")`);
  }
  cached = parsed.data;
  return cached;
}

/** Forgets the parsed settings: the next env() reads process.env again (a test that changes a setting). */
export function rereadEnv(): void {
  cached = undefined;
}

/** The app's public origin (no trailing slash): SAML endpoints and mail links are built from it. */
export function publicOrigin(): string {
  return (env().NEXTAUTH_URL ?? "http://localhost:3000").replace(/\/+$/, "");
}

/** Whether cookies must carry `Secure` (and the `__Secure-` prefix): the app is served over https. */
export function servedOverHttps(): boolean {
  return env().NEXTAUTH_URL?.startsWith("https://") ?? false;
}
