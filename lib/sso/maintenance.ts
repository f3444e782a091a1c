import "server-only";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { pruneRequestLogs } from "@/lib/directories";
import { pruneIdempotencyKeys } from "@/lib/api-tokens/idempotency";
import { rotateIfDue } from "@/lib/tokens/keys";
import { enqueueAccessReviewUpkeep } from "@/lib/reviews";
import { pruneDeliveredWebhooks } from "@/lib/webhooks";
import { pruneFinishedJobs } from "@/lib/jobs";
import { pruneOAuthRecords } from "@/lib/oauth/adapter";
import { pruneSsoState } from "./flow";
import { identityProvidersDueForRefresh, refreshMetadata } from "./identity-providers";

/**
 * Hourly upkeep on every instance: refresh IdP metadata read more than a day ago (new
 * certificates are added beside the old as pending, audited, unless the IdP trusts its metadata
 * URL's rollovers), drop expired sign-in state, and rotate the
 * token signing keys when due. Idempotent:
 * two instances refreshing at once find the second refresh changes nothing.
 */
export async function runSsoMaintenance(): Promise<{ refreshed: number; failed: number }> {
  let refreshed = 0;
  let failed = 0;
  {
    for (const { id } of await identityProvidersDueForRefresh()) {
      try {
        const { idp, pending } = await refreshMetadata({ actor: { ...SYSTEM_ACTOR, label: "daily metadata refresh" } }, id);
        refreshed++;
        // Not trusted until an administrator approves them (the console shows them on the IdP's page).
        if (pending.length) console.warn(`[sso] ${idp.name}'s metadata lists ${pending.length} new signing certificate(s) awaiting approval: ${pending.join(", ")}`);
      } catch (error) {
        // Recorded on the IdP (metadataError) and shown in the console.
        failed++;
        console.warn(`[sso] metadata refresh failed for ${id}: ${(error as Error).message}`);
      }
    }
    await pruneSsoState();
    // (Also the SCIM request logs past each directory's retention: the same hourly upkeep.)
    await pruneRequestLogs();
    // And the REST API's Idempotency-Keys past their 24 hours.
    await pruneIdempotencyKeys();
    // And the runtime token keys: rotated when the active one is older than KEY_ROTATION_DAYS.
    if (await rotateIfDue()) console.log("[keys] scheduled rotation of the token signing keys");
    // And the webhook outbox: delivered rows after 30 days (pending and dead ones stay).
    await pruneDeliveredWebhooks();
    // And finished background jobs with their reports after 90 days (queued and running ones stay).
    await pruneFinishedJobs();
    // And the OAuth servers' expired records (codes, tokens, interactions: they read as absent already).
    await pruneOAuthRecords();
    // And the access reviews' reminders and recurring campaigns, as a background job (when any is due).
    await enqueueAccessReviewUpkeep(undefined, { onlyIfDue: true });
  }
  return { refreshed, failed };
}

const holder = globalThis as typeof globalThis & { __iamSsoMaintenance?: NodeJS.Timeout };

export function startSsoMaintenance(): void {
  if (holder.__iamSsoMaintenance) return;
  const run = () => void runSsoMaintenance().catch((e) => console.error("[sso] maintenance error", e));
  holder.__iamSsoMaintenance = setInterval(run, 60 * 60 * 1000);
  holder.__iamSsoMaintenance.unref?.();
  setTimeout(run, 30_000).unref?.();
}
