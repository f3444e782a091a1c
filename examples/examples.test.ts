import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createApiToken } from "@/lib/api-tokens";
import { serveApp, type LeanServer } from "@/lib/doors/server";
import { parseTrustProxy } from "@/lib/doors/server/client-address";
import { createEndUserSession, readEndUserSession } from "@/lib/end-user/sessions";
import { addMembers, createGroup } from "@/lib/groups";
import { ensureSigningKeys } from "@/lib/tokens/keys";
import { mintAccessToken } from "@/lib/tokens/mint";
import { createUser, suspendUser } from "@/lib/users";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";

// The runtime verifier as an outside component team gets it: packed with `npm pack`, installed from
// the tarball into a scratch project, imported and type-checked there; and the two example
// components (examples/node-component with the package, examples/python-component with PyJWT) run
// as their own processes against a live instance: the lean server answering the JWKS and the
// decision endpoint from this test's database.

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const ISSUER = "http://localhost:3000"; // NEXTAUTH_URL under the tests: the tokens' iss
let env: { dev: Environment; test: Environment; prod: Environment };
let server: LeanServer;
let base: string;
let granted: string; // a genie the user may use
let other: string; // one they may not
let token: string;
let devToken: string;
let overflowToken: string;
let overflowUserId: string;
let apiToken: string;
let scratch: string;
let tarball: string;

async function tokenFor(email: string, environment: Environment, groupId?: string) {
  const user = await createUser(systemCtx, { name: email.split("@")[0]!, email, environmentIds: [environment.id] });
  if (groupId) await addMembers(systemCtx, { groupId, userIds: [user.id] });
  const { token: sessionToken } = await createEndUserSession(getDb(), { userId: user.id, environmentId: environment.id, method: "password" });
  return { user, token: (await mintAccessToken((await readEndUserSession(environment.key, sessionToken))!, "agent_studio")).token };
}

beforeAll(async () => {
  env = await createEnvironments();
  await ensureSigningKeys();
  granted = (await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Granted genie" })).id;
  other = (await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Other genie" })).id;
  const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Genie users" });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: granted, groupIds: [group.id] });
  token = (await tokenFor("component@example.com", env.prod, group.id)).token;
  devToken = (await tokenFor("component-dev@example.com", env.dev)).token;
  // Grants on so many genies that the token cannot list them: components must ask the endpoint.
  const many = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Many genies" });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: granted, groupIds: [many.id] });
  for (let i = 0; i < 110; i++) {
    const r = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: `Genie ${i}` });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: r.id, groupIds: [many.id] });
  }
  const overflow = await tokenFor("many@example.com", env.prod, many.id);
  overflowToken = overflow.token;
  overflowUserId = overflow.user.id;
  apiToken = (await createApiToken(systemCtx, { name: "example component", scope: "authz", environmentIds: [env.prod.id] })).token;
  server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${server.port}`;

  // Pack (its prepack builds dist/ with tsc) and install the tarball into a scratch project, from the
  // npm cache (jose is already there: the repository depends on it).
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "runtime-consumer-"));
  const { stdout } = await run("npm", ["pack", "--workspace", "@iam-console/runtime", "--pack-destination", scratch, "--json"], { cwd: root });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(scratch, packed!.filename);
  fs.writeFileSync(path.join(scratch, "packed-files.json"), JSON.stringify(packed!.files.map((f) => f.path)));
  fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: scratch });
}, 180_000);

afterAll(async () => {
  await server?.close(1000);
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe("the packed package (npm pack → npm install in a scratch project)", () => {
  it("holds the ESM build, its type declarations, the README and package.json, and nothing else", () => {
    const files = JSON.parse(fs.readFileSync(path.join(scratch, "packed-files.json"), "utf8")) as string[];
    expect(files.sort()).toEqual(
      ["README.md", "package.json", ...["claims", "decide", "index", "reasons", "verify"].flatMap((f) => [`dist/${f}.d.ts`, `dist/${f}.js`])].sort(),
    );
    const manifest = JSON.parse(fs.readFileSync(path.join(scratch, "node_modules/@iam-console/runtime/package.json"), "utf8"));
    expect(manifest).toMatchObject({ name: "@iam-console/runtime", version: expect.stringMatching(/^\d+\.\d+\.\d+$/), type: "module", dependencies: { jose: expect.any(String) } });
  });

  it("verifies a token and decides there, and refuses another environment's token with its reason", async () => {
    fs.writeFileSync(
      path.join(scratch, "check.mjs"),
      `import { createVerifier, decide } from "@iam-console/runtime";
const [issuer, jwks, token, resource] = process.argv.slice(2);
const verify = createVerifier({ issuer, jwks, environment: "prod" });
const result = await verify(token, { audience: "agent_studio" });
console.log(JSON.stringify(result.ok ? { ok: true, sub: result.claims.sub, decision: decide(result.claims, "agent_studio", resource).reason } : result));`,
    );
    const check = async (t: string) => JSON.parse((await run("node", ["check.mjs", ISSUER, `${base}/.well-known/jwks.json`, t, granted], { cwd: scratch })).stdout);
    expect(await check(token)).toEqual({ ok: true, sub: expect.stringMatching(/^[0-9a-f-]{36}$/), decision: "granted" });
    expect(await check(devToken)).toMatchObject({ ok: false, reason: "wrong_environment" });
    expect(await check(`${token.slice(0, -4)}AAAA`)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  it("type-checks a TypeScript consumer against the declarations (NodeNext)", async () => {
    fs.writeFileSync(
      path.join(scratch, "consumer.ts"),
      `import { createVerifier, decide, type Reason, type VerifyResult } from "@iam-console/runtime";
const verify = createVerifier({ issuer: "https://iam.example", jwks: "https://iam.example/.well-known/jwks.json", environment: "prod" });
export async function allowed(token: string, genie: string): Promise<boolean | Reason> {
  const result: VerifyResult = await verify(token, { audience: "agent_studio" });
  if (!result.ok) return result.reason;
  const email: string = result.claims.email;
  return email.length > 0 && decide(result.claims, "agent_studio", genie).allow;
}
`,
    );
    const tsc = path.join(root, "node_modules/typescript/bin/tsc");
    const args = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "consumer.ts"];
    await expect(run("node", [tsc, ...args], { cwd: scratch })).resolves.toMatchObject({ stdout: "" });
    // And the declarations are really read: a wrong use fails.
    fs.writeFileSync(path.join(scratch, "wrong.ts"), `import { createVerifier } from "@iam-console/runtime";\ncreateVerifier({ issuer: "x", jwks: "y" });\n`);
    const wrong = await run("node", [tsc, ...args.slice(0, -1), "wrong.ts"], { cwd: scratch }).catch((e: { stdout: string }) => e);
    expect((wrong as { stdout: string }).stdout).toMatch(/Property 'environment' is missing/);
  });
});

/** Starts an example component and resolves with its URL once it says where it listens. */
function startComponent(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ISSUER, JWKS_URL: `${base}/.well-known/jwks.json`, ENVIRONMENT: "prod", FEATURE: "agent_studio", PORT: "0", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on("exit", (code) => reject(new Error(`${command} exited (${code}): ${err}`)));
  });
}

async function ask(url: string, resource: string, bearer?: string) {
  const res = await fetch(`${url}/resources/${resource}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const body = (await res.json()) as { reason: string; allow?: boolean };
  return `${res.status} ${body.reason}`;
}

describe.each([
  { name: "Node, with @iam-console/runtime", command: "node", args: ["examples/node-component/server.mjs"] },
  { name: "Python, with PyJWT", command: "/usr/bin/python3", args: ["examples/python-component/server.py"] },
])("the example component ($name) against a live instance", ({ command, args }) => {
  let component: { url: string; child: ChildProcess };
  beforeAll(async () => {
    component = await startComponent(command, args, { API_TOKEN: apiToken, CONSOLE_URL: base });
  });
  afterAll(() => {
    component?.child.kill("SIGTERM");
  });

  it("lets the user use what they are granted, and says why not otherwise", async () => {
    const { url } = component;
    expect(await ask(url, granted, token)).toBe("200 granted");
    expect(await ask(url, other, token)).toBe("403 no_grant");
    expect(await ask(url, granted)).toBe("401 missing_token");
    expect(await ask(url, granted, devToken)).toBe("401 wrong_environment");
    expect(await ask(url, granted, `${token.slice(0, -4)}AAAA`)).toBe("401 bad_signature");
    expect(await ask(url, granted, "not-a-token")).toBe("401 malformed_token");
  });

  it("with a token too large to list its entitlements: asks the decision endpoint (Node) or says so (Python)", async () => {
    const answer = await ask(component.url, granted, overflowToken);
    if (command === "node") {
      expect(answer).toBe("200 granted");
      // The endpoint answers from live state: after a suspension, the same token is denied.
      await suspendUser(systemCtx, overflowUserId);
      expect(await ask(component.url, granted, overflowToken)).toBe("403 user_suspended");
    } else {
      expect(answer).toBe("403 entitlements_overflow");
    }
  });
});
