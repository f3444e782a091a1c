import "server-only";
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { calculateJwkThumbprint, type JWK } from "jose";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import { KEY_ALGORITHMS } from "@/db/enums";
import { environmentAuth, signingKeys, type SigningKey } from "@/db/schema";
import { SYSTEM_ACTOR, type DomainContext } from "@/lib/auth/actor";
import { recordAudit, recordAuditMany } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { env } from "@/env";
import { authorize } from "@/lib/permissions";
import { parseInput } from "@/lib/validation";

// The keys that sign runtime access tokens. Exactly one is active (it signs); one is next (already
// published, so verifiers caching the JWKS know it before it signs); retired keys stay published
// until every token they signed has expired, and their private half is wiped at retirement.
// Private keys are encrypted at rest (AES-256-GCM, key derived from NEXTAUTH_SECRET by HKDF).

export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const CLOCK_SKEW_SECONDS = 30;
const MAX_TOKEN_LIFETIME_SECONDS = 3600;

const KEY_PURPOSE = "signing-keys/v1";

async function newKeyRow(algorithm: KeyAlgorithm, state: "next" | "active") {
  const { publicKey, privateKey } = algorithm === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" }) as JWK;
  const kid = await calculateJwkThumbprint(jwk, "sha256");
  return {
    kid,
    algorithm,
    state,
    publicJwk: { ...jwk, kid, alg: algorithm, use: "sig" },
    privateKeyEncrypted: sealSecret(KEY_PURPOSE, privateKey.export({ format: "pem", type: "pkcs8" }).toString()),
    activatedAt: state === "active" ? sql`now()` : null,
  } as const;
}

const lockKeys = (tx: Tx) => tx.execute(sql`select pg_advisory_xact_lock(hashtext('signing_keys'))`);

/** Makes sure there is an active and a next key (first start, or after a manual clean-up). */
export async function ensureSigningKeys(): Promise<void> {
  const present = await getDb().select({ state: signingKeys.state }).from(signingKeys).where(inArray(signingKeys.state, ["active", "next"]));
  if (present.some((k) => k.state === "active") && present.some((k) => k.state === "next")) return;
  await inTransaction(async (tx) => {
    await lockKeys(tx);
    const states = new Set((await tx.select({ state: signingKeys.state }).from(signingKeys).where(inArray(signingKeys.state, ["active", "next"]))).map((k) => k.state));
    const rows = [];
    if (!states.has("active")) rows.push(await newKeyRow("EdDSA", "active"));
    if (!states.has("next")) rows.push(await newKeyRow("EdDSA", "next"));
    if (!rows.length) return;
    await tx.insert(signingKeys).values(rows);
    await recordAuditMany(tx, { actor: SYSTEM_ACTOR }, rows.map((r) => ({ action: "signing_key.create", targetType: "signing_key", targetId: r.kid, targetLabel: `${r.algorithm} key ${r.kid.slice(0, 8)}`, after: { algorithm: r.algorithm, state: r.state } })));
  });
}

/** The longest token lifetime any environment allows, plus the verifiers' skew. */
async function publishWindowSeconds(tx: Executor): Promise<number> {
  const [row] = await tx.select({ max: sql<number>`coalesce(max(${environmentAuth.tokenLifetimeSeconds}), 600)::int` }).from(environmentAuth);
  return Math.min(row?.max ?? 600, MAX_TOKEN_LIFETIME_SECONDS) + CLOCK_SKEW_SECONDS;
}

export const rotateInput = z.object({ algorithm: z.enum(KEY_ALGORITHMS, { error: "Choose EdDSA or ES256." }).default("EdDSA") });

/**
 * Rotation: the active key retires (published until its last token expires, private half wiped),
 * the next key becomes active, and a new next key of `algorithm` is made and published.
 */
export async function rotateSigningKeys(ctx: DomainContext, input: unknown = {}, options: { onlyIfActive?: string } = {}): Promise<{ retired: string; active: string; next: string } | null> {
  const { algorithm } = parseInput(rotateInput, input);
  authorize(ctx.actor, "signing_keys", "write");
  await ensureSigningKeys();
  const fresh = await newKeyRow(algorithm, "next");
  const result = await inTransaction(async (tx) => {
    await lockKeys(tx);
    // A scheduled rotation on two instances at once: the second finds the key already rotated.
    if (options.onlyIfActive) {
      const [current] = await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.state, "active"));
      if (current?.kid !== options.onlyIfActive) return null;
    }
    const window = await publishWindowSeconds(tx);
    const [retired] = await tx
      .update(signingKeys)
      .set({ state: "retired", retiredAt: sql`now()`, publishUntil: sql`now() + make_interval(secs => ${window})`, privateKeyEncrypted: "" })
      .where(eq(signingKeys.state, "active"))
      .returning();
    const [active] = await tx.update(signingKeys).set({ state: "active", activatedAt: sql`now()` }).where(eq(signingKeys.state, "next")).returning();
    await tx.insert(signingKeys).values(fresh);
    const summary = { retired: retired!.kid, active: active!.kid, next: fresh.kid };
    await recordAudit(tx, ctx, { action: "signing_key.rotate", targetType: "signing_key", targetId: active!.kid, targetLabel: `${active!.algorithm} key ${active!.kid.slice(0, 8)}`, after: { ...summary, nextAlgorithm: algorithm, retiredPublishedForSeconds: window } });
    return summary;
  });
  activeCache = undefined;
  return result;
}

/** Scheduled rotation (hourly upkeep): rotates when the active key is older than KEY_ROTATION_DAYS. */
export async function rotateIfDue(now = new Date()): Promise<boolean> {
  await ensureSigningKeys();
  const days = env().KEY_ROTATION_DAYS;
  const [active] = await getDb().select().from(signingKeys).where(eq(signingKeys.state, "active"));
  const since = active?.activatedAt ?? active?.createdAt;
  if (!active || !since || now.getTime() - since.getTime() < days * 86_400_000) return false;
  const [next] = await getDb().select({ algorithm: signingKeys.algorithm }).from(signingKeys).where(eq(signingKeys.state, "next"));
  const rotated = await rotateSigningKeys({ actor: { ...SYSTEM_ACTOR, label: "scheduled key rotation" } }, { algorithm: next?.algorithm ?? "EdDSA" }, { onlyIfActive: active.kid });
  return rotated !== null;
}

export type KeyView = Omit<SigningKey, "privateKeyEncrypted"> & { published: boolean };

export async function listSigningKeys(executor: Executor = getDb()): Promise<KeyView[]> {
  const rows = await executor
    .select({
      kid: signingKeys.kid,
      algorithm: signingKeys.algorithm,
      state: signingKeys.state,
      publicJwk: signingKeys.publicJwk,
      createdAt: signingKeys.createdAt,
      activatedAt: signingKeys.activatedAt,
      retiredAt: signingKeys.retiredAt,
      publishUntil: signingKeys.publishUntil,
      published: sql<boolean>`${signingKeys.state} <> 'retired' or ${signingKeys.publishUntil} > now()`,
    })
    .from(signingKeys)
    .orderBy(sql`case ${signingKeys.state} when 'next' then 0 when 'active' then 1 else 2 end`, sql`${signingKeys.retiredAt} desc nulls last`)
    .limit(50);
  return rows;
}

/**
 * The public keys verifiers may use: next, active, and retired ones still within their window.
 * A read only (GET never changes state): the first keys are made at start-up (instrumentation.ts)
 * or by the first token minted.
 */
export async function publishedJwks(): Promise<{ keys: JWK[] }> {
  const rows = await getDb()
    .select({ jwk: signingKeys.publicJwk })
    .from(signingKeys)
    .where(sql`${signingKeys.state} <> 'retired' or ${signingKeys.publishUntil} > now()`)
    .orderBy(asc(signingKeys.createdAt));
  return { keys: rows.map((r) => r.jwk as JWK) };
}

// The active key, decrypted, for a few seconds: a rotation elsewhere is picked up within them
// (the previous key stays published, so its tokens still verify).
let activeCache: { at: number; kid: string; algorithm: KeyAlgorithm; key: KeyObject } | undefined;

export async function activeSigningKey(): Promise<{ kid: string; algorithm: KeyAlgorithm; key: KeyObject }> {
  if (activeCache && Date.now() - activeCache.at < 5_000) return activeCache;
  let [row] = await getDb().select().from(signingKeys).where(and(eq(signingKeys.state, "active")));
  if (!row) {
    await ensureSigningKeys();
    [row] = await getDb().select().from(signingKeys).where(eq(signingKeys.state, "active"));
  }
  activeCache = { at: Date.now(), kid: row!.kid, algorithm: row!.algorithm, key: createPrivateKey(openSecret(KEY_PURPOSE, row!.privateKeyEncrypted, "This signing key's private half (retired)")) };
  return activeCache;
}

/** Tests: forget the cached active key. */
export function resetKeyCache(): void {
  activeCache = undefined;
}
