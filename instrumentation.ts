// Runs once when a server instance starts: the background job worker polls Postgres for jobs,
// and hourly SSO upkeep refreshes IdP metadata and prunes expired sign-in state.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startJobWorker } = await import("@/lib/jobs/worker");
    startJobWorker();
    const { startSsoMaintenance } = await import("@/lib/sso/maintenance");
    startSsoMaintenance();
  }
}
