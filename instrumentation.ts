// Runs once when a server instance starts: the background job worker polls Postgres for jobs,
// hourly upkeep refreshes IdP metadata, prunes expired sign-in state and rotates keys when due,
// the first signing keys are made, the audit sealer chains new audit events every two seconds, and the webhook worker posts
// their signed deliveries.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startJobWorker } = await import("@/lib/jobs/worker");
    startJobWorker();
    const { startSsoMaintenance } = await import("@/lib/sso/maintenance");
    startSsoMaintenance();
    // The first signing keys, so the JWKS (a read-only GET) publishes them from the start.
    const { ensureSigningKeys } = await import("@/lib/tokens/keys");
    void ensureSigningKeys().catch((e) => console.error("[keys] could not make the first signing keys", e));
    const { startAuditSealer } = await import("@/lib/audit/chain");
    startAuditSealer();
    const { startWebhookWorker } = await import("@/lib/webhooks");
    startWebhookWorker();
  }
}
