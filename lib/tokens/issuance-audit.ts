import "server-only";
import { drainBeforeClose, getDb, writesInOrder } from "@/db/client";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { recordAuditMany } from "@/lib/audit/record";

// Token issuance is audited in batches: a genie conversation mints a token per message, so one
// event per token would drown the trail. Each instance gathers its issuances per (user, audience)
// and writes them every few seconds as one event each: how many, the first and last, the key, and
// the first token ids. A crash loses at most the last few seconds' batch (said in the README); a
// graceful stop writes it (issuanceWritten).

const FLUSH_MS = 5_000;
const KEEP_JTIS = 20;

type Batch = {
  environment: { id: string; key: string };
  user: { id: string; email: string };
  audience: string;
  kid: string;
  count: number;
  first: string;
  last: string;
  jtis: string[];
};

type State = {
  pending: Map<string, Batch>;
  timer: ReturnType<typeof setTimeout> | null;
  /** Settles when the pending batches have been written (or their write has failed). */
  written: { promise: Promise<void>; settle: () => void } | null;
};
const holder = globalThis as unknown as { __iamIssuance?: State };
const state = (holder.__iamIssuance ??= { pending: new Map(), timer: null, written: null });

/**
 * A promise that settles once the issuances noted so far are written. The token route hands it to
 * Next's `after()`: `next start` awaits pending `after()` work when it stops on SIGTERM, so a
 * graceful stop writes the last batch (at most FLUSH_MS later) instead of losing it.
 */
export function issuanceWritten(): Promise<void> {
  return state.written?.promise ?? Promise.resolve();
}

export function noteIssuance(issued: { environment: { id: string; key: string }; user: { id: string; email: string }; audience: string; kid: string; jti: string }): void {
  const key = `${issued.environment.id}|${issued.user.id}|${issued.audience}|${issued.kid}`;
  const now = new Date().toISOString();
  const batch = state.pending.get(key);
  if (batch) {
    batch.count++;
    batch.last = now;
    if (batch.jtis.length < KEEP_JTIS) batch.jtis.push(issued.jti);
  } else {
    state.pending.set(key, { environment: issued.environment, user: issued.user, audience: issued.audience, kid: issued.kid, count: 1, first: now, last: now, jtis: [issued.jti] });
  }
  if (!state.written) {
    let settle = () => {};
    const promise = new Promise<void>((resolve) => (settle = resolve));
    state.written = { promise, settle };
  }
  if (!state.timer) {
    state.timer = setTimeout(() => void flushIssuance().catch((e) => console.error("[tokens] issuance audit failed", e)), FLUSH_MS);
    state.timer.unref?.();
  }
}

drainBeforeClose("token issuance audit", () => flushIssuance());

// A flush returns only once the batches gathered before it are written, also those a flush
// started earlier (by the timer) is still writing.
const after = writesInOrder();

/** Writes the gathered batches (one audit event per user and audience); returns how many. */
export async function flushIssuance(): Promise<number> {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
  const batches = [...state.pending.values()];
  state.pending.clear();
  const written = state.written;
  state.written = null;
  const write = writeBatches(batches).finally(() => written?.settle());
  await after(write);
  await write;
  return batches.length;
}

async function writeBatches(batches: Batch[]): Promise<void> {
  if (!batches.length) return;
  // One statement for all of them; each event's actor is its end user.
  await recordAuditMany(
    getDb(),
    { actor: SYSTEM_ACTOR },
    batches.map((b) => ({
      actor: { type: "end_user", id: b.user.id, label: b.user.email, environmentIds: [b.environment.id] },
      action: "token.issue_batch",
      targetType: "user",
      targetId: b.user.id,
      targetLabel: b.user.email,
      environment: b.environment,
      after: { audience: b.audience, kid: b.kid, count: b.count, first: b.first, last: b.last, jtis: b.jtis },
    })),
  );
}
