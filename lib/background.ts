// The background workers instrumentation.ts starts (job worker, SSO upkeep, audit sealer, webhook
// worker) keep their timers on globalThis. A graceful stop clears them before the database client
// closes, so no tick starts against a database that is going away.
const holder = globalThis as unknown as {
  __iamAuditSealer?: ReturnType<typeof setInterval>;
  __iamJobWorker?: { timer: ReturnType<typeof setInterval> };
  __iamWebhookWorker?: ReturnType<typeof setInterval>;
  __iamSsoMaintenance?: ReturnType<typeof setInterval>;
};

export function stopBackgroundWorkers(): void {
  for (const timer of [holder.__iamAuditSealer, holder.__iamJobWorker?.timer, holder.__iamWebhookWorker, holder.__iamSsoMaintenance]) {
    if (timer) clearInterval(timer);
  }
}
