import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../db/embedded";
import { startApp } from "../scripts/lib/app-process";
import { APP_DATABASE } from "../scripts/lib/runtime";
import { startClientDocumentServer } from "./support/client-documents";
import { E2E_IDP_USERS, missingSimpleSamlPrerequisites, startSimpleSamlIdp, type SimpleSamlIdp } from "./support/simplesamlphp";

// Starts the app exactly as a person would (`npm start`: embedded Postgres, migrations, seed,
// production build, `next start`) in a fresh data folder on a free port, and reads the first
// owner's credentials from what it prints.

export default async function globalSetup() {
  if (!fs.existsSync("/usr/bin/chromium")) {
    throw new Error("Debian's Chromium is missing: run `apt-get install -y chromium` (.ci/run does).");
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-e2e-"));
  // An MCP client's website serving its Client ID Metadata Document (https, self-signed, loopback).
  const documentsDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-e2e-cimd-"));
  const documents = await startClientDocumentServer(documentsDir, await freePort());
  process.env.E2E_CLIENT_DOCUMENTS_URL = documents.baseUrl;
  // A fresh app: its own embedded database and generated secret, whatever the caller's environment
  // says; it trusts the document server's certificate and may fetch documents from loopback.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, NODE_EXTRA_CA_CERTS: documents.certFile, ALLOW_PRIVATE_CLIENT_METADATA_URLS: "true" };
  for (const key of ["DATABASE_URL", "NEXTAUTH_URL", "NEXTAUTH_SECRET", "SEED_OWNER_EMAIL", "SEED_OWNER_PASSWORD"]) delete env[key];
  const app = await startApp(env, { ready: /Identity console ready at[\s\S]*Password:\s+\S+/ });
  const output = app.output();
  process.env.E2E_BASE_URL = `http://localhost:${port}`;
  // The app's embedded database, for the spec that watches for writes (e2e/pages-read-only.spec.ts).
  const postmaster = fs.readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n");
  const dbPassword = fs.readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim();
  process.env.E2E_DATABASE_URL = `postgres://postgres:${encodeURIComponent(dbPassword)}@127.0.0.1:${postmaster[3]!.trim()}/${APP_DATABASE}`;

  // A real SAML IdP (Debian's SimpleSAMLphp) on loopback; the SSO specs connect it through the
  // console. Without the packages those specs fail saying what to install; the others still run.
  let idp: SimpleSamlIdp | undefined;
  const missing = missingSimpleSamlPrerequisites();
  if (missing.length === 0) {
    const idpDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-e2e-idp-"));
    idp = await startSimpleSamlIdp({
      dir: idpDir,
      port: await freePort(),
      spEntityId: `http://localhost:${port}/api/sso/metadata`,
      acsUrl: `http://localhost:${port}/api/sso/acs`,
      users: E2E_IDP_USERS,
    });
    process.env.E2E_IDP_DIR = idpDir;
    process.env.E2E_IDP_METADATA_URL = idp.metadataUrl;
    process.env.E2E_IDP_BASE_URL = idp.baseUrl;
    process.env.E2E_IDP_INITIATED_URL = idp.idpInitiatedUrl;
  } else {
    process.env.E2E_IDP_MISSING = `SimpleSAMLphp e2e tests need Debian packages that are not installed: ${missing.join(", ")}. Install them with: apt-get install -y simplesamlphp php-cli php-xml php-mbstring (.ci/run does this).`;
  }
  process.env.E2E_OWNER_EMAIL = /Email:\s+(\S+)/.exec(output)![1];
  process.env.E2E_OWNER_PASSWORD = /Password:\s+(\S+)/.exec(output)![1];

  return async () => {
    idp?.stop();
    documents.stop();
    fs.rmSync(documentsDir, { recursive: true, force: true });
    if (process.env.E2E_IDP_DIR) fs.rmSync(process.env.E2E_IDP_DIR, { recursive: true, force: true });
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
