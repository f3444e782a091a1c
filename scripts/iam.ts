import { closeDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { createApiToken } from "@/lib/api-tokens";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { listEnvironments } from "@/lib/environments";
import { main } from "../bin/iam.mjs";
import { dataDir, ensureSecret, openDatabase } from "./lib/runtime";

// `npm run iam -- …`: the `iam` CLI (bin/iam.mjs, over the REST API), plus what only the server
// machine can do: `token create` makes an API token directly in the configured database (or the
// embedded one in the data folder, even while `npm start` runs), audited as the system, and prints
// it on its last line, so automation can start without clicking.
//
//   npm run iam -- token create --name ci --scope write [--env dev --env test] [--expires-in-days 90]

const argv = process.argv.slice(2);

function flag(name: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === `--${name}` && argv[i + 1] !== undefined) out.push(argv[i + 1]!);
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  });
  return out;
}

async function createToken(): Promise<number> {
  const db = await openDatabase({ quiet: true, adopt: false });
  try {
    process.env.DATABASE_URL = db.url;
    process.env.NEXTAUTH_SECRET ??= ensureSecret(dataDir());
    await runMigrations(db.url);
    const keys = flag("env").flatMap((v) => v.split(",")).filter(Boolean);
    const environments = await listEnvironments();
    const unknown = keys.filter((k) => !environments.some((e) => e.key === k));
    if (unknown.length) {
      console.error(`iam: no environment ${unknown.map((k) => `"${k}"`).join(", ")}; there are: ${environments.map((e) => e.key).join(", ")}`);
      return 2;
    }
    const days = flag("expires-in-days")[0];
    const { token, record } = await createApiToken(
      { actor: { ...SYSTEM_ACTOR, label: "iam token create (server CLI)" } },
      {
        name: flag("name")[0] ?? "",
        scope: flag("scope")[0] ?? "",
        environmentIds: environments.filter((e) => keys.includes(e.key)).map((e) => e.id),
        expiresInDays: days === undefined ? null : Number(days),
      },
    );
    console.error(`Created API token "${record.name}" (${record.scope}${keys.length ? `, ${keys.join(", ")} only` : ", every environment"}). It is shown once:`);
    console.log(token);
    return 0;
  } catch (error) {
    const e = error as { message?: string; fieldErrors?: Record<string, string[]> };
    if (e.fieldErrors) {
      console.error(`iam: ${e.message}\n${Object.entries(e.fieldErrors).map(([f, m]) => `  ${f}: ${m.join(" ")}`).join("\n")}`);
      return 2;
    }
    throw error;
  } finally {
    await closeDb();
    await db.stop();
  }
}

const code = argv[0] === "token" && argv[1] === "create" ? await createToken() : await main(argv);
// Exit explicitly: something loaded with the domain modules resets process.exitCode to 0 on the way
// out, and the exit code is this command's contract (0 done, 1 refused, 2 usage, 3 unreachable).
process.exit(code);
