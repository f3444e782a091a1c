import "server-only";
import { drainBeforeClose, getDb } from "@/db/client";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { recordAuditMany } from "@/lib/audit/record";

// Token issuance is audited in batches: a genie conversation mints a token per message, so one
// event per token would drown the trail. Each instance gathers its issuances per (user, audience)
// and writes them every few seconds as one event each: how many, the first and last, the key, and
// the first token ids. A crash loses at most the last few seconds' batch (said in the README).

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

const holder = globalThis as unknown as { __iamIssuance?: { pending: Map<string, Batch>; timer: ReturnType<typeof setTimeout> | null } };
const state = (holder.__iamIssuance ??= { pending: new Map(), timer: null });

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
  if (!state.timer) {
    state.timer = setTimeout(() => void flushIssuance().catch((e) => console.error("[tokens] issuance audit failed", e)), FLUSH_MS);
    state.timer.unref?.();
  }
}

drainBeforeClose("token issuance audit", () => flushIssuance());

/** Writes the gathered batches (one audit event per user and audience); returns how many. */
export async function flushIssuance(): Promise<number> {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
  const batches = [...state.pending.values()];
  state.pending.clear();
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
  return batches.length;
}
