// Runs once when a server instance starts: the background job worker polls Postgres for jobs,
// hourly upkeep refreshes IdP metadata, prunes expired sign-in state and rotates keys when due,
// and the audit sealer chains new audit events every two seconds.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startJobWorker } = await import("@/lib/jobs/worker");
    startJobWorker();
    const { startSsoMaintenance } = await import("@/lib/sso/maintenance");
    startSsoMaintenance();
    const { startAuditSealer } = await import("@/lib/audit/chain");
    startAuditSealer();
  }
}
