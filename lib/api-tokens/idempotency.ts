import "server-only";
import { createHash } from "node:crypto";
import { and, eq, lt, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { apiIdempotencyKeys } from "@/db/schema";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { DomainError, ValidationError } from "@/lib/errors";

// `Idempotency-Key` on REST POSTs, per API token (the only writer of api_idempotency_keys). A pipeline that retries
// after a timeout must not create a second user or a second directory: the first request with a key
// claims it, runs, and stores its answer; the same key with the same method, path and body answers
// that stored answer (with `Idempotent-Replayed: true`) for 24 hours; with a different request, 422.
// Only successful answers are kept: a refused request frees its key, so the corrected retry runs.
// Stored answers are sealed, since some hold a secret shown once (a directory's SCIM token).

export const IDEMPOTENCY_HOURS = 24;
const PURPOSE = "api-idempotency";

export type Answer = { status: number; body?: unknown; headers: Record<string, string> };

class IdempotencyConflict extends DomainError {
  constructor(message: string, status: 409 | 422, code: string) {
    super(code, status, message);
  }
}

const fingerprint = (text: string) => createHash("sha256").update(text).digest("hex");

/** Runs `run` once per (token, key): a replay of the same request answers the stored answer. */
export async function withIdempotency(
  request: { tokenId: string; key: string; method: string; path: string; bodyText: string },
  run: () => Promise<Answer>,
): Promise<Answer> {
  const key = request.key.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ValidationError("Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).", { "Idempotency-Key": ["Not a valid key."] });
  }
  const bodySha256 = fingerprint(request.bodyText);
  const db = getDb();
  // Keys expire: an old claim is forgotten before this one is made.
  await db.delete(apiIdempotencyKeys).where(and(eq(apiIdempotencyKeys.tokenId, request.tokenId), eq(apiIdempotencyKeys.key, key), lt(apiIdempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_HOURS})`)));
  const claimed = await db
    .insert(apiIdempotencyKeys)
    .values({ tokenId: request.tokenId, key, method: request.method, path: request.path, bodySha256 })
    .onConflictDoNothing()
    .returning({ key: apiIdempotencyKeys.key });
  if (claimed.length === 0) {
    const [previous] = await db.select().from(apiIdempotencyKeys).where(and(eq(apiIdempotencyKeys.tokenId, request.tokenId), eq(apiIdempotencyKeys.key, key)));
    if (!previous) return withIdempotency(request, run); // freed meanwhile: claim it now
    if (previous.method !== request.method || previous.path !== request.path || previous.bodySha256 !== bodySha256) {
      throw new IdempotencyConflict("This Idempotency-Key was already used for a different request (another path or body). Use a new key for a new request.", 422, "idempotency_key_reused");
    }
    if (previous.status === null || previous.responseSealed === null) {
      throw new IdempotencyConflict("A request with this Idempotency-Key is still running; retry when it has answered.", 409, "idempotency_key_in_progress");
    }
    const stored = JSON.parse(openSecret(PURPOSE, previous.responseSealed, "The stored answer")) as Answer;
    return { ...stored, headers: { ...stored.headers, "idempotent-replayed": "true" } };
  }
  const release = () => db.delete(apiIdempotencyKeys).where(and(eq(apiIdempotencyKeys.tokenId, request.tokenId), eq(apiIdempotencyKeys.key, key)));
  let answer: Answer;
  try {
    answer = await run();
  } catch (error) {
    await release();
    throw error;
  }
  if (answer.status >= 300) {
    await release();
    return answer;
  }
  await db
    .update(apiIdempotencyKeys)
    .set({ status: answer.status, responseSealed: sealSecret(PURPOSE, JSON.stringify(answer)) })
    .where(and(eq(apiIdempotencyKeys.tokenId, request.tokenId), eq(apiIdempotencyKeys.key, key)));
  return answer;
}

/** Hourly upkeep: keys past their 24 hours. */
export async function pruneIdempotencyKeys(): Promise<number> {
  const gone = await getDb().delete(apiIdempotencyKeys).where(lt(apiIdempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_HOURS})`)).returning({ key: apiIdempotencyKeys.key });
  return gone.length;
}
