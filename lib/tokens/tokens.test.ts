import { expectFlushWaitsForEarlierWrite } from "@/test-support/table-lock";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { eq, sql } from "drizzle-orm";
import { base64url, decodeJwt, decodeProtectedHeader, exportJWK, SignJWT, type JWK } from "jose";
import { getDb } from "@/db/client";
import { signingKeys, type Environment } from "@/db/schema";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { serve } from "@/test-support/serve";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createEndUserSession, readEndUserSession, signOutEverywhere, type EndUserSession } from "@/lib/end-user/sessions";
import { addMembers, createGroup, removeMembers } from "@/lib/groups";
import { createUser, suspendUser } from "@/lib/users";
import { createVerifier, decide, type VerifierOptions } from "@iam-console/runtime";
import { malformedTokens } from "@/test-support/malformed-tokens";
import { activeSigningKey, ensureSigningKeys, listSigningKeys, publishedJwks, resetKeyCache, rotateIfDue, rotateSigningKeys } from "./keys";
import { MAX_TOKEN_BYTES, mintAccessToken } from "./mint";
import { decideWithToken, resetVerifierCache, verifyAccessToken } from "./verify";

const run = promisify(execFile);
let env: { dev: Environment; test: Environment; prod: Environment };
let jwksServer: Awaited<ReturnType<typeof serve>>;
let genieId: string;
let group: { id: string };

async function session(email: string, environment: Environment, envs = [environment.id]): Promise<EndUserSession> {
  const user = await createUser(systemCtx, { name: email.split("@")[0]!, email, environmentIds: envs });
  const { token } = await createEndUserSession(getDb(), { userId: user.id, environmentId: environment.id, method: "password" });
  return (await readEndUserSession(environment.key, token))!;
}

beforeAll(async () => {
  env = await createEnvironments();
  await ensureSigningKeys();
  jwksServer = await serve(async () => Response.json(await publishedJwks()));
  const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Helper genie" });
  genieId = genie.id;
  group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Genie users" });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
});
afterAll(() => jwksServer.close());

const ISSUER = "http://localhost:3000";

/** Signs arbitrary claims and header with our active key (for attacks that need a valid signature). */
async function signWithActive(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const key = await activeSigningKey();
  return new SignJWT(claims).setProtectedHeader({ alg: key.algorithm, typ: "at+jwt", kid: key.kid, ...header }).sign(key.key);
}

describe("signing keys", () => {
  it("keep one active and one next key, with private keys encrypted at rest", async () => {
    const keys = await listSigningKeys();
    expect(keys.filter((k) => k.state === "active")).toHaveLength(1);
    expect(keys.filter((k) => k.state === "next")).toHaveLength(1);
    const [stored] = await getDb().select().from(signingKeys).where(eq(signingKeys.state, "active"));
    expect(stored!.privateKeyEncrypted).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(stored!.privateKeyEncrypted).not.toContain("PRIVATE KEY");
    expect(stored!.publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: stored!.kid });
    expect(stored!.publicJwk).not.toHaveProperty("d");
    expect((await publishedJwks()).keys.map((k) => k.kid).sort()).toEqual(keys.map((k) => k.kid).sort());
  });

  it("rotate: next becomes active, active retires with its private half wiped, published until its tokens expire", async () => {
    const before = await listSigningKeys();
    const denied = await rotateSigningKeys(memberCtx("reviewer"), {}).catch((e) => e);
    expect((denied as Error).message).toBe("A reviewer cannot change signing keys.");
    const bad = await rotateSigningKeys(systemCtx, { algorithm: "RS256" }).catch((e) => e);
    expect((bad as Error & { fieldErrors?: Record<string, string[]> }).fieldErrors?.algorithm).toEqual(["Choose EdDSA or ES256."]);
    const r = (await rotateSigningKeys(systemCtx, { algorithm: "ES256" }))!;
    expect(r.retired).toBe(before.find((k) => k.state === "active")!.kid);
    expect(r.active).toBe(before.find((k) => k.state === "next")!.kid);
    const [retired] = await getDb().select().from(signingKeys).where(eq(signingKeys.kid, r.retired));
    expect(retired!.privateKeyEncrypted).toBe("");
    const windowSeconds = (retired!.publishUntil!.getTime() - retired!.retiredAt!.getTime()) / 1000;
    expect(windowSeconds).toBe(600 + 30);
    const [next] = await getDb().select().from(signingKeys).where(eq(signingKeys.kid, r.next));
    expect(next!.publicJwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256" });
  });

  it("rotate on schedule when the active key is older than KEY_ROTATION_DAYS", async () => {
    expect(await rotateIfDue()).toBe(false);
    await getDb().update(signingKeys).set({ activatedAt: sql`now() - interval '31 days'` }).where(eq(signingKeys.state, "active"));
    const [due] = await getDb().select().from(signingKeys).where(eq(signingKeys.state, "active"));
    // Two instances racing: the one that did not rotate sees the key already replaced.
    expect(await rotateSigningKeys(systemCtx, {}, { onlyIfActive: "some-other-kid" })).toBeNull();
    expect(await rotateIfDue()).toBe(true);
    expect((await listSigningKeys()).find((k) => k.kid === due!.kid)?.state).toBe("retired");
    const [active] = await getDb().select().from(signingKeys).where(eq(signingKeys.state, "active"));
    expect(Date.now() - active!.activatedAt!.getTime()).toBeLessThan(60_000);
    resetKeyCache();
  });
});

describe("access tokens", () => {
  it("a flush of the issuance audit waits for the batches a flush started earlier is still writing", async () => {
    const { flushIssuance } = await import("./issuance-audit");
    await flushIssuance();
    const s = await session("flushed-twice@example.com", env.prod);
    // The second flush finds nothing of its own to write.
    expect(await expectFlushWaitsForEarlierWrite("audit_events", () => mintAccessToken(s, "agent_studio"), flushIssuance)).toBe(0);
    const rows = await getDb().execute<{ count: number }>(sql`select (after->>'count')::int as count from audit_events where action = 'token.issue_batch' and target_id = ${s.user.id}`);
    expect(rows.map((r) => r.count)).toEqual([1]);
  });

  it("are audited in batches: one event per user and audience with the count and the token ids", async () => {
    const { flushIssuance } = await import("./issuance-audit");
    await flushIssuance();
    const s = await session("batched@example.com", env.prod);
    const minted = [];
    for (let i = 0; i < 3; i++) minted.push(decodeJwt((await mintAccessToken(s, "agent_studio")).token).jti);
    await mintAccessToken(s, "mcp");
    expect(await flushIssuance()).toBe(2);
    const rows = await getDb().execute<{ actor_type: string; target_id: string; environment_key: string; after: { audience: string; count: number; jtis: string[] } }>(
      sql`select actor_type, target_id, environment_key, after from audit_events where action = 'token.issue_batch' and target_id = ${s.user.id} order by after->>'audience'`,
    );
    expect(rows.map((r) => [r.actor_type, r.environment_key, r.after.audience, r.after.count])).toEqual([
      ["end_user", "prod", "agent_studio", 3],
      ["end_user", "prod", "mcp", 1],
    ]);
    expect(rows[0]!.after.jtis).toEqual(minted);
    // The tokens themselves are never written.
    expect(JSON.stringify(rows)).not.toMatch(/eyJ/);
  });

  it("carry the documented claims, with typ at+jwt and kid", async () => {
    const s = await session("claims@example.com", env.prod);
    await addMembers(systemCtx, { groupId: group.id, userIds: [s.user.id] });
    const { token, expiresIn } = await mintAccessToken(s, "agent_studio");
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: "at+jwt", kid: expect.any(String), alg: expect.stringMatching(/^(EdDSA|ES256)$/) });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: ISSUER, aud: "prod:agent_studio", sub: s.user.id, email: "claims@example.com", name: "claims", env: "prod", sid: s.session.id, groups: ["Everyone", "Genie users"], entitlements: { agent_studio: [genieId] } });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(expiresIn).toBe(600);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const verified = await verifyAccessToken(token, { audience: "agent_studio", environment: "prod" });
    expect(verified.ok && decide(verified.claims, "agent_studio", genieId)).toMatchObject({ allow: true, reason: "granted" });
    expect(verified.ok && decide(verified.claims, "agent_studio", crypto.randomUUID())).toMatchObject({ allow: false, reason: "no_grant" });
    const audience = await mintAccessToken(s, "https://evil.example/mcp/x").catch((e) => e);
    expect((audience as Error).message).toMatch(/^Unknown audience/);
  });

  it("a repeated token skips the signature check but never outlives its expiry, its audience or environment", async () => {
    const s = await session("repeat@example.com", env.prod);
    const { token } = await mintAccessToken(s, "agent_studio");
    const first = await verifyAccessToken(token, { audience: "agent_studio", environment: "prod" });
    expect(first.ok).toBe(true);
    // The same answer again, from memory (the very same object).
    expect(await verifyAccessToken(token, { audience: "agent_studio", environment: "prod" })).toBe(first);
    // Another door's expectations are checked on their own.
    expect(await verifyAccessToken(token, { audience: "mcp", environment: "prod" })).toMatchObject({ ok: false, reason: "wrong_audience" });
    expect(await verifyAccessToken(token, { audience: "agent_studio", environment: "dev" })).toMatchObject({ ok: false, reason: "wrong_environment" });
    // Past its expiry (and the clock skew), the remembered success is not used.
    const exp = decodeJwt(token).exp!;
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime((exp + 31) * 1000);
      expect(await verifyAccessToken(token, { audience: "agent_studio", environment: "prod" })).toMatchObject({ ok: false, reason: "expired" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("say so when the entitlements would make them too large, and the library then asks the endpoint", async () => {
    const s = await session("many@example.com", env.test);
    const many = await createGroup(systemCtx, { environmentId: env.test.id, name: "Many" });
    await addMembers(systemCtx, { groupId: many.id, userIds: [s.user.id] });
    for (let i = 0; i < 120; i++) {
      const r = await createResource(systemCtx, { environmentId: env.test.id, feature: "mcp", name: `Server ${i}` });
      await addGrants(systemCtx, { environmentId: env.test.id, feature: "mcp", resourceId: r.id, groupIds: [many.id] });
    }
    const { token, claims } = await mintAccessToken(s, "mcp");
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_BYTES);
    expect(claims.entitlements_overflow).toBe(true);
    expect(claims.entitlements).toBeUndefined();
    expect(claims.groups).toEqual(["Everyone", "Many"]);
    expect(decide(claims, "mcp", crypto.randomUUID())).toMatchObject({ allow: false, reason: "entitlements_overflow" });
  });

  it("are verified by an independent verifier (python3-jwt fetching our JWKS over HTTP)", async () => {
    const s = await session("python@example.com", env.prod);
    const { token } = await mintAccessToken(s, "agent_studio");
    const script = `
import json, sys, jwt
token, url, iss, aud = sys.argv[1:5]
key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
try:
    claims = jwt.decode(token, key.key, algorithms=["EdDSA", "ES256"], audience=aud, issuer=iss)
    print(json.dumps({"ok": True, "sub": claims["sub"], "env": claims["env"], "alg": jwt.get_unverified_header(token)["alg"]}))
except jwt.PyJWTError as e:
    print(json.dumps({"ok": False, "error": type(e).__name__}))
`;
    const py = async (aud: string, t = token) => JSON.parse((await run("/usr/bin/python3", ["-c", script, t, `${jwksServer.url}/.well-known/jwks.json`, ISSUER, aud])).stdout);
    expect(await py("prod:agent_studio")).toEqual({ ok: true, sub: s.user.id, env: "prod", alg: decodeProtectedHeader(token).alg });
    expect(await py("prod:workato_go")).toEqual({ ok: false, error: "InvalidAudienceError" });
    // The environment is in the audience: a verifier that checks only aud (as PyJWT does) is bound to it.
    expect(await py("agent_studio")).toEqual({ ok: false, error: "InvalidAudienceError" });
    const dev = await mintAccessToken(await session("python-dev@example.com", env.dev), "agent_studio");
    expect(await py("prod:agent_studio", dev.token)).toEqual({ ok: false, error: "InvalidAudienceError" });
    expect(await py("dev:agent_studio", dev.token)).toMatchObject({ ok: true, env: "dev" });
  });

  it("refuse every attack with its reason", async () => {
    const s = await session("attacks@example.com", env.prod);
    const { token, claims } = await mintAccessToken(s, "agent_studio");
    const now = Math.floor(Date.now() / 1000);
    const check = async (t: string, audience = "agent_studio", environment = "prod") => {
      const r = await verifyAccessToken(t, { audience, environment });
      return r.ok ? "ok" : r.reason;
    };
    const [h, p] = token.split(".");
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid: decodeProtectedHeader(token).kid }))}.${p}.`;
    expect(await check(none)).toBe("algorithm_not_allowed");
    // HS256 keyed with our public key (the classic algorithm confusion).
    const publicJwk = (await publishedJwks()).keys.find((k) => k.kid === decodeProtectedHeader(token).kid)!;
    const hs = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: publicJwk.kid }).sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    expect(await check(hs)).toBe("algorithm_not_allowed");
    const stranger = generateKeyPairSync("ed25519");
    const unknownKid = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: "not-ours" }).sign(stranger.privateKey);
    expect(await check(unknownKid)).toBe("unknown_key");
    const embedded = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: publicJwk.kid, jwk: await exportJWK(stranger.publicKey) }).sign(stranger.privateKey);
    expect(await check(embedded)).toBe("forbidden_header");
    const jku = await new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: publicJwk.kid, jku: "https://evil.example/jwks" }).sign(stranger.privateKey);
    expect(await check(jku)).toBe("forbidden_header");
    expect(await check(await signWithActive({ ...claims, iss: "https://evil.example" }))).toBe("wrong_issuer");
    expect(await check(token, "mcp")).toBe("wrong_audience");
    expect(await check(await signWithActive({ ...claims }, { typ: "JWT" }))).toBe("wrong_type");
    expect(await check(await signWithActive({ ...claims, iat: now - 700, exp: now - 120 }))).toBe("expired");
    expect(await check(await signWithActive({ ...claims, iat: now - 700, exp: now - 10 }))).toBe("ok"); // within the 30 s skew
    expect(await check(token, "agent_studio", "dev")).toBe("wrong_environment");
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims, entitlements: { agent_studio: ["*"], mcp: ["*"] } }))}.${token.split(".")[2]}`;
    expect(await check(tampered)).toBe("bad_signature");
    expect(await check("not.a.jwt")).toBe("malformed_token");
    expect(await check("")).toBe("missing_token");
  });

  it("are bound to their environment: a DEV token is refused by a PROD verifier whatever the call asks, and no verifier is made without one", async () => {
    const dev = await mintAccessToken(await session("bound-dev@example.com", env.dev), "agent_studio");
    expect(decodeJwt(dev.token)).toMatchObject({ aud: "dev:agent_studio", env: "dev" });
    const jwks = `${jwksServer.url}/.well-known/jwks.json`;
    const prod = createVerifier({ issuer: ISSUER, jwks, environment: "prod" });
    // The call names only the feature (the component forgot the environment): refused with the reason.
    expect(await prod(dev.token, { audience: "agent_studio" })).toMatchObject({ ok: false, reason: "wrong_environment", message: 'The token belongs to another environment. ("dev", not "prod")' });
    // Even when it names the DEV audience itself.
    expect(await prod(dev.token, { audience: "dev:agent_studio" })).toMatchObject({ ok: false, reason: "wrong_environment" });
    expect(await createVerifier({ issuer: ISSUER, jwks, environment: "dev" })(dev.token, { audience: "agent_studio" })).toMatchObject({ ok: true });
    // The environment is required: by the type, and at run time for JavaScript callers.
    for (const environment of [undefined, "", "PROD", "prod dev"]) {
      expect(() => createVerifier({ issuer: ISSUER, jwks, environment } as unknown as VerifierOptions)).toThrow(/"environment" is required/);
    }
    // The issuer mints the bound audience from either name, and only for the session's environment.
    const s = await session("bound-prod@example.com", env.prod);
    expect(decodeJwt((await mintAccessToken(s, "prod:agent_studio")).token).aud).toBe("prod:agent_studio");
    expect(((await mintAccessToken(s, "dev:agent_studio").catch((e) => e)) as Error).message).toMatch(/^Unknown audience/);
  });

  it("refuse every malformed token with its reason, never with an error", async () => {
    const s = await session("malformed@example.com", env.prod);
    const { token } = await mintAccessToken(s, "agent_studio");
    const table = await malformedTokens(token);
    const answers = [];
    for (const row of table) {
      const r = await verifyAccessToken(row.token, { audience: "agent_studio", environment: "prod" }).catch((e: Error) => ({ ok: "threw", reason: `${e.name}: ${e.message}`, message: "" }));
      answers.push([row.name, r.ok ? "ok" : r.reason]);
      // The message may go into a header as it is (WWW-Authenticate): printable ASCII.
      if (!r.ok) expect(r.message).toMatch(/^[\x20-\x7e]+$/);
    }
    expect(answers).toEqual(table.map((row) => [row.name, row.reason]));
  });

  it("answer an unusable key or an unreachable key set with a reason, never with an error", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const good = { ...(await exportJWK(ec.publicKey)), kid: "p256", alg: "ES256", use: "sig" } as JWK;
    const claims = { sub: crypto.randomUUID(), env: "prod", aud: "prod:agent_studio", jti: crypto.randomUUID(), sid: crypto.randomUUID() };
    const token = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "p256" }).setIssuer(ISSUER).setIssuedAt().setExpirationTime("5m").sign(ec.privateKey);
    const withSet = (keys: JWK[]) => createVerifier({ issuer: ISSUER, jwks: async () => ({ keys }), environment: "prod" });
    const attempt = (verify: ReturnType<typeof withSet>) => verify(token, { audience: "prod:agent_studio" }).catch((e: Error) => ({ ok: "threw", error: `${e.name}: ${e.message}` }));
    expect(await attempt(withSet([good]))).toMatchObject({ ok: true });
    // A point off the P-256 curve (x reused as y): WebCrypto's DataError, answered as bad_key.
    expect(await attempt(withSet([{ ...good, y: good.x }]))).toEqual({ ok: false, reason: "bad_key", message: expect.stringMatching(/^The issuer's key/) });
    expect(await attempt(withSet([{ ...good, x: "AA" }]))).toMatchObject({ ok: false, reason: "bad_key" });
    // A private key published by mistake.
    expect(await attempt(withSet([{ ...(await exportJWK(ec.privateKey)), kid: "p256", alg: "ES256" } as JWK]))).toMatchObject({ ok: false, reason: "bad_key" });
    // No key set to be had: the getter fails, the URL answers 503, nothing listens.
    const failing = createVerifier({ issuer: ISSUER, jwks: async () => Promise.reject(new Error("database gone")), environment: "prod" });
    expect(await attempt(failing)).toMatchObject({ ok: false, reason: "keys_unavailable" });
    const down = await serve(async () => new Response("maintenance", { status: 503 }));
    try {
      expect(await attempt(createVerifier({ issuer: ISSUER, jwks: `${down.url}/jwks.json`, environment: "prod" }))).toMatchObject({ ok: false, reason: "keys_unavailable" });
      const notJson = await serve(async () => new Response("<html>", { status: 200 }));
      expect(await attempt(createVerifier({ issuer: ISSUER, jwks: `${notJson.url}/jwks.json`, environment: "prod" }))).toMatchObject({ ok: false, reason: "keys_unavailable" });
      await notJson.close();
    } finally {
      await down.close();
    }
    expect(await attempt(createVerifier({ issuer: ISSUER, jwks: `${down.url}/jwks.json`, environment: "prod" }))).toMatchObject({ ok: false, reason: "keys_unavailable" });
  });

  it("rotation: old tokens verify until their key's window ends; a caching verifier picks up new keys", async () => {
    const s = await session("rotation@example.com", env.prod);
    const old = await mintAccessToken(s, "agent_studio");
    const remote = createVerifier({ issuer: ISSUER, jwks: `${jwksServer.url}/.well-known/jwks.json`, environment: "prod", cacheMaxAgeMs: 3_600_000 });
    expect((await remote(old.token, { audience: "agent_studio" })).ok).toBe(true); // the set is now cached
    // Two rotations: the key that signs next was created after the verifier cached the set.
    await rotateSigningKeys(systemCtx);
    const r = (await rotateSigningKeys(systemCtx))!;
    resetKeyCache();
    resetVerifierCache();
    const fresh = await mintAccessToken(s, "agent_studio");
    expect(decodeProtectedHeader(fresh.token).kid).toBe(r.active);
    await new Promise((done) => setTimeout(done, 1_100)); // the verifier's refetch cooldown
    expect(await remote(fresh.token, { audience: "agent_studio" })).toMatchObject({ ok: true });
    expect((await verifyAccessToken(old.token, { audience: "agent_studio", environment: "prod" })).ok).toBe(true);
    await getDb().update(signingKeys).set({ publishUntil: sql`now() - interval '1 second'` }).where(eq(signingKeys.kid, decodeProtectedHeader(old.token).kid!));
    resetVerifierCache();
    expect(await verifyAccessToken(old.token, { audience: "agent_studio", environment: "prod" })).toMatchObject({ ok: false, reason: "unknown_key" });
  });
});

describe("revocation on the decision path", () => {
  const ask = async (token: string) => (await decideWithToken(token, { environment: { id: env.prod.id, key: "prod" }, feature: "agent_studio", resources: [genieId], audience: "agent_studio" })).decisions[0]!;

  it("suspension denies at once; leaving the granted group denies with no_grant; sign-out everywhere revokes the token", async () => {
    const a = await session("revoke-a@example.com", env.prod);
    const b = await session("revoke-b@example.com", env.prod);
    const c = await session("revoke-c@example.com", env.prod);
    await addMembers(systemCtx, { groupId: group.id, userIds: [a.user.id, b.user.id, c.user.id] });
    const [ta, tb, tc] = await Promise.all([a, b, c].map((x) => mintAccessToken(x, "agent_studio")));
    expect(await ask(ta!.token)).toMatchObject({ allow: true, reason: "granted", group: { name: "Genie users" } });
    await suspendUser(systemCtx, a.user.id);
    expect(await ask(ta!.token)).toMatchObject({ allow: false, reason: "user_suspended" });
    await removeMembers(systemCtx, { groupId: group.id, userIds: [b.user.id] });
    expect(await ask(tb!.token)).toMatchObject({ allow: false, reason: "no_grant" });
    // Offline, the token still lists the grant until it expires (at most one lifetime).
    const offline = await verifyAccessToken(tb!.token, { audience: "agent_studio", environment: "prod" });
    expect(offline.ok && decide(offline.claims, "agent_studio", genieId).allow).toBe(true);
    await signOutEverywhere(systemCtx, c.user.id);
    expect(await ask(tc!.token)).toMatchObject({ allow: false, reason: "token_revoked" });
  });
});
