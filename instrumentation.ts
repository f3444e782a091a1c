// Runs once when a server instance starts: the background job worker polls Postgres for jobs.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startJobWorker } = await import("@/lib/jobs/worker");
    startJobWorker();
  }
}
