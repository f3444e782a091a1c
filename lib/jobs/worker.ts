import "server-only";
// Every job kind's handler registers itself on import; the worker runs them.
import "@/lib/import/csv-import";
import "@/lib/users/bulk-job";
import "@/lib/reviews/upkeep";
export { runPendingJobs, startJobWorker } from "./index";
