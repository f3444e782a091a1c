import os from "node:os";
import { parseArgs } from "node:util";
import { inArray } from "drizzle-orm";
import { getDb } from "@/db/client";
import { users } from "@/db/schema";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { hashPassword } from "@/lib/auth/password";
import { signInWithPassword } from "@/lib/end-user/password-accounts";
import { findEnvironmentByKey } from "@/lib/environments";
import { createUser } from "@/lib/users";
import { spEndpoints } from "@/lib/sso/endpoints";
import { updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { handleAcs, startSso } from "@/lib/sso/flow";
import { createIdentityProvider } from "@/lib/sso/identity-providers";
import { jackson } from "@/lib/sso/jackson";
import { buildResponse, generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { freshBenchDatabase } from "./fresh-database";
import { runBench } from "./harness";

// npm run bench:sso -- --iterations 300 --rounds 3
// Full SSO sign-in through our ACS (our checks + Jackson's validation + existing user + group sync
// + session + trace + audit) beside Jackson's bare SAML flow for the same kind of response
// (samlResponse → token → userInfo: from the assertion POST to the app holding the profile), in
// the same run, alternating one sign-in of each. Building and signing the responses (the IdP's work) and the
// AuthnRequest are outside the timed part for both. Then password sign-ins per second on one core
// at our argon2id settings. Last line: JSON.

const { values } = parseArgs({ options: { iterations: { type: "string", default: "300" }, rounds: { type: "string", default: "3" }, users: { type: "string", default: "50" } } });
const iterations = Number(values.iterations);
const rounds = Number(values.rounds);
const userCount = Number(values.users);

const database = "iam_bench_sso";
await runBench(async (db) => {
  await freshBenchDatabase(db, database);
  const ctx = { actor: { ...SYSTEM_ACTOR, label: "bench:sso" } };
  const prod = (await findEnvironmentByKey("prod"))!;
  const sp = spEndpoints();

  // Ours: an IdP connected through the domain layer; PROD on SSO with JIT and group sync.
  const key = generateKeyPair("bench-idp");
  const ours = await createIdentityProvider(ctx, { name: "Bench IdP", metadataXml: idpMetadata("https://bench-idp.example", "https://bench-idp.example/sso", [key.certBase64]) });
  await updateEnvironmentAuth(ctx, prod.id, {
    passwordEnabled: false, ssoEnabled: true, identityProviderId: ours.id, enforcement: "all", enforcedDomains: [], breakGlassUserIds: [],
    jitEnabled: true, jitGroupIds: [], groupSyncEnabled: true, groupAttribute: null, sessionLifetimeMinutes: 720, idleTimeoutMinutes: 60,
  });
  // Jackson bare: its own connection for another IdP entity, same key and response shape.
  const { connections, oauth } = await jackson();
  const bare = await connections.createSAMLConnection({
    rawMetadata: idpMetadata("https://bare-idp.example", "https://bare-idp.example/sso", [key.certBase64]),
    tenant: "bench-bare",
    product: "bench",
    defaultRedirectUrl: sp.callbackUrl,
    redirectUrl: [sp.callbackUrl],
  });

  const person = (i: number) => `bench.user.${i % userCount}@example.com`;
  const attributes = (i: number) => ({ email: [person(i)], name: [`Bench User ${i % userCount}`], groups: ["Engineering", "Support"] });

  async function oursOnce(i: number): Promise<number> {
    const start = await startSso("prod");
    if (!("redirectUrl" in start)) throw new Error("expected a redirect binding");
    const u = new URL(start.redirectUrl);
    const relayState = u.searchParams.get("RelayState")!;
    const requestId = (await import("node:zlib")).inflateRawSync(Buffer.from(u.searchParams.get("SAMLRequest")!, "base64")).toString().match(/ID="([^"]+)"/)![1]!;
    const { base64 } = buildResponse({ key, issuer: "https://bench-idp.example", destination: sp.acsUrl, audience: sp.entityId, subject: person(i), attributes: attributes(i), inResponseTo: requestId });
    const t = performance.now();
    const result = await handleAcs({ SAMLResponse: base64, RelayState: relayState, browserBinding: start.binding, ip: "203.0.113.1" });
    const elapsed = performance.now() - t;
    if (!result.ok) throw new Error(`our sign-in failed: ${result.check}: ${result.reason}`);
    return elapsed;
  }

  async function bareOnce(i: number): Promise<number> {
    const res = (await oauth.authorize({ client_id: "dummy", tenant: "bench-bare", product: "bench", redirect_uri: sp.callbackUrl, response_type: "code", state: "s", code_challenge: "", code_challenge_method: "" })) as { redirect_url: string };
    const u = new URL(res.redirect_url);
    const relayState = u.searchParams.get("RelayState")!;
    const requestId = (await import("node:zlib")).inflateRawSync(Buffer.from(u.searchParams.get("SAMLRequest")!, "base64")).toString().match(/ID="([^"]+)"/)![1]!;
    const { base64 } = buildResponse({ key, issuer: "https://bare-idp.example", destination: sp.acsUrl, audience: sp.entityId, subject: person(i), attributes: attributes(i), inResponseTo: requestId });
    const t = performance.now();
    const response = (await oauth.samlResponse({ SAMLResponse: base64, RelayState: relayState })) as { redirect_url?: string };
    const code = new URL(response.redirect_url!).searchParams.get("code");
    if (!code) throw new Error(`Jackson refused: ${response.redirect_url}`);
    const token = await oauth.token({ code, grant_type: "authorization_code", redirect_uri: sp.callbackUrl, client_id: bare.clientID, client_secret: bare.clientSecret });
    const profile = await oauth.userInfo(token.access_token);
    const elapsed = performance.now() - t;
    if (profile.email !== person(i)) throw new Error("Jackson returned another profile");
    return elapsed;
  }

  // Warm-up: every bench user exists (JIT on the first pass), both paths are compiled and cached.
  for (let i = 0; i < userCount; i++) await oursOnce(i);
  for (let i = 0; i < 20; i++) await bareOnce(i);

  let oursMs = 0;
  let bareMs = 0;
  let oursCpu = 0;
  let bareCpu = 0;
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  // Alternating one by one, so drift in the machine's speed touches both sides alike.
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < iterations; i++) {
      let c = cpu();
      bareMs += await bareOnce(i);
      bareCpu += cpu() - c;
      c = cpu();
      oursMs += await oursOnce(i);
      oursCpu += cpu() - c;
    }
    console.log(`round ${r + 1}: ours ${((iterations * (r + 1)) / (oursMs / 1000)).toFixed(1)}/s, Jackson bare ${((iterations * (r + 1)) / (bareMs / 1000)).toFixed(1)}/s (cumulative)`);
  }
  const ssoPerSec = (iterations * rounds) / (oursMs / 1000);
  const jacksonPerSec = (iterations * rounds) / (bareMs / 1000);

  // Password sign-ins on one core: sequential, so one argon2id verification at a time.
  const dev = (await findEnvironmentByKey("dev"))!;
  const pwUsers: string[] = [];
  const hash = await hashPassword("bench password that is long enough");
  for (let i = 0; i < 40; i++) {
    const u = await createUser(ctx, { name: `Password User ${i}`, email: `pw.user.${i}@example.com`, environmentIds: [dev.id] });
    pwUsers.push(u.id);
  }
  await getDb().update(users).set({ passwordHash: hash }).where(inArray(users.id, pwUsers));
  await updateEnvironmentAuth(ctx, dev.id, {
    passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", enforcedDomains: [], breakGlassUserIds: [],
    jitEnabled: false, jitGroupIds: [], groupSyncEnabled: false, groupAttribute: null, sessionLifetimeMinutes: 720, idleTimeoutMinutes: 60,
  });
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 5000 || count < 20) {
    const r = await signInWithPassword("dev", { email: `pw.user.${count % 40}@example.com`, password: "bench password that is long enough" }, { ip: `10.9.${Math.floor(count / 250)}.${count % 250}` });
    if (!r.ok) throw new Error(`password sign-in failed: ${r.message}`);
    count++;
  }
  const passwordPerSecPerCore = count / ((performance.now() - t0) / 1000);

  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), Postgres ${db.embedded ? "embedded" : "from DATABASE_URL"}`);
  console.log(`mean time per sign-in: ours ${(oursMs / (iterations * rounds)).toFixed(1)} ms, Jackson bare ${(bareMs / (iterations * rounds)).toFixed(1)} ms; app-process CPU per iteration incl. the untimed IdP-side signing: ours ${(oursCpu / (iterations * rounds)).toFixed(1)} ms, Jackson bare ${(bareCpu / (iterations * rounds)).toFixed(1)} ms`);
  console.log(`full SSO sign-in (ours): ${ssoPerSec.toFixed(1)}/s; Jackson bare flow: ${jacksonPerSec.toFixed(1)}/s; ratio ${(ssoPerSec / jacksonPerSec).toFixed(2)} (goal ≥ 0.8)`);
  console.log(`password sign-ins: ${passwordPerSecPerCore.toFixed(1)}/s on one core (goal ≥ 15)`);
  console.log(JSON.stringify({ ssoPerSec: +ssoPerSec.toFixed(1), jacksonPerSec: +jacksonPerSec.toFixed(1), ratio: +(ssoPerSec / jacksonPerSec).toFixed(3), passwordPerSecPerCore: +passwordPerSecPerCore.toFixed(1) }));
});
