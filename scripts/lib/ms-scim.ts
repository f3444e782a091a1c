import fs from "node:fs";
import path from "node:path";
import newman from "newman";

// Microsoft's SCIM reference test collection (../shared/peers/scim), run with newman. Shared by
// `npm run peer:scim` and the e2e test; it imports nothing of the app.

export const MS_COLLECTION = path.resolve(import.meta.dirname, "../peers/ms-scim-reference.postman_collection.json");
export const MS_FOLDERS = [
  "Endpoint tests",
  "User tests",
  "Group tests",
  "ComplexAttribute tests",
  "User tests with garbage",
  "Group tests with garbage",
  "Teardown garbage",
];

/** Runs the collection against a base URL (…/scim/v2/<directory>) with a bearer token. */
export function runMicrosoftCollection(apiUrl: string, token: string, reportFile?: string): Promise<{ total: number; failed: number; failures: string[] }> {
  const url = new URL(apiUrl);
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection: JSON.parse(fs.readFileSync(MS_COLLECTION, "utf8")),
        folder: MS_FOLDERS,
        envVar: [
          { key: "Protocol", value: url.protocol.replace(":", "") },
          { key: "Server", value: url.hostname },
          { key: "Port", value: `:${url.port}` },
          { key: "Api", value: url.pathname.replace(/^\//, "") },
          { key: "token", value: token },
        ],
        // The collection authenticates with {{token}}; the "Get Token" folder is the reference server's own.
        reporters: reportFile ? ["json"] : [],
        reporter: reportFile ? { json: { export: reportFile } } : undefined,
      } as newman.NewmanRunOptions,
      (error, summary) => {
        if (error) return reject(error);
        const failures = summary.run.failures.map((f) => `${f.source?.name ?? "?"}: ${f.error?.test ?? ""} ${f.error?.message ?? ""}`.trim());
        resolve({ total: summary.run.stats.assertions.total ?? 0, failed: summary.run.stats.assertions.failed ?? 0, failures });
      },
    );
  });
}

