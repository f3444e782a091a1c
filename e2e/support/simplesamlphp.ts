// Runs Debian's SimpleSAMLphp as a real SAML 2.0 IdP on loopback for the e2e tests.
// The harness installs nothing: .ci/run installs the packages; without them this says what is missing.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const SIMPLESAMLPHP_WWW = "/usr/share/simplesamlphp/www";

export interface IdpUser {
  username: string;
  password: string;
  email: string;
  name: string;
  groups: string[];
}

export interface SimpleSamlIdp {
  baseUrl: string;
  metadataUrl: string;
  entityId: string;
  /** IdP-initiated sign-in into our SP. */
  idpInitiatedUrl: string;
  setUsers(users: IdpUser[]): void;
  stop(): void;
}

export function missingSimpleSamlPrerequisites(): string[] {
  const missing: string[] = [];
  if (!existsSync(SIMPLESAMLPHP_WWW)) missing.push("simplesamlphp");
  if (!existsSync("/usr/bin/php")) missing.push("php-cli");
  else {
    const modules = execFileSync("/usr/bin/php", ["-m"], { encoding: "utf8" });
    if (!/^dom$/im.test(modules)) missing.push("php-xml");
    if (!/^mbstring$/im.test(modules)) missing.push("php-mbstring");
  }
  if (!existsSync("/usr/bin/openssl")) missing.push("openssl");
  return missing;
}

function phpArray(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(phpArray).join(", ")}]`;
  if (value && typeof value === "object") {
    return `[${Object.entries(value)
      .map(([k, v]) => `${phpArray(k)} => ${phpArray(v)}`)
      .join(", ")}]`;
  }
  return typeof value === "string" ? `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'` : String(value);
}

/** The IdP's users (read on every login, so a test can change someone's groups between sign-ins). */
export function writeIdpUsers(dir: string, users: IdpUser[]): void {
  const entries = users
    .map((u) => `${phpArray(`${u.username}:${u.password}`)} => ${phpArray({ email: [u.email], name: [u.name], groups: u.groups })}`)
    .join(",\n  ");
  writeFileSync(
    path.join(dir, "config", "authsources.php"),
    `<?php\n$config = [\n  'admin' => ['core:AdminPassword'],\n  'example-userpass' => ['exampleauth:UserPass',\n  ${entries}],\n];\n`,
  );
}

/** The users the e2e IdP starts with. */
export const E2E_IDP_USERS: IdpUser[] = [
  { username: "alice", password: "alice-password", email: "alice@sso.example", name: "Alice Anders", groups: ["Engineering", "Operations"] },
  { username: "carol", password: "carol-password", email: "carol@sso.example", name: "Carol Chen", groups: ["Engineering"] },
];

export async function startSimpleSamlIdp(options: {
  dir: string;
  port: number;
  spEntityId: string;
  acsUrl: string;
  users: IdpUser[];
}): Promise<SimpleSamlIdp> {
  const missing = missingSimpleSamlPrerequisites();
  if (missing.length) {
    throw new Error(
      `SimpleSAMLphp e2e tests need Debian packages that are not installed: ${missing.join(", ")}. ` +
        `Install them with: apt-get install -y simplesamlphp php-cli php-xml php-mbstring (.ci/run does this).`,
    );
  }
  const { dir, port } = options;
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = path.join(dir, "config");
  const metadata = path.join(dir, "metadata");
  const cert = path.join(dir, "cert");
  for (const d of [config, metadata, cert, path.join(dir, "tmp"), path.join(dir, "log"), path.join(dir, "data")]) {
    mkdirSync(d, { recursive: true });
  }
  execFileSync("/usr/bin/openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
    "-subj", "/CN=simplesamlphp-e2e", "-keyout", path.join(cert, "idp.pem"), "-out", path.join(cert, "idp.crt"),
  ], { stdio: "ignore" });

  writeFileSync(
    path.join(config, "config.php"),
    `<?php
$config = ${phpArray({
      baseurlpath: `${baseUrl}/`,
      certdir: `${cert}/`,
      loggingdir: `${dir}/log/`,
      datadir: `${dir}/data/`,
      tempdir: `${dir}/tmp`,
      secretsalt: "e2e-salt-not-secret",
      "auth.adminpassword": "e2e-admin",
      technicalcontact_email: "e2e@example.test",
      timezone: "UTC",
      "logging.level": 5,
      "logging.handler": "file",
      "logging.logfile": "simplesamlphp.log",
      "enable.saml20-idp": true,
      "module.enable": { exampleauth: true, core: true, saml: true, admin: true },
      "session.cookie.secure": false,
      "session.cookie.samesite": "Lax",
      "session.phpsession.savepath": `${dir}/tmp`,
      "metadata.sources": [{ type: "flatfile", directory: `${metadata}` }],
      "store.type": "phpsession",
      "language.default": "en",
      theme_use: "default",
    })};
`,
  );
  writeFileSync(
    path.join(metadata, "saml20-idp-hosted.php"),
    `<?php
$metadata['__DYNAMIC:1__'] = ${phpArray({
      host: "__DEFAULT__",
      privatekey: "idp.pem",
      certificate: "idp.crt",
      auth: "example-userpass",
      "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
      "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
      "simplesaml.nameidattribute": "email",
      "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    })};
`,
  );
  writeFileSync(
    path.join(metadata, "saml20-sp-remote.php"),
    `<?php
$metadata[${phpArray(options.spEntityId)}] = ${phpArray({
      AssertionConsumerService: [
        { index: 0, Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", Location: options.acsUrl },
      ],
      "saml20.sign.response": true,
      "saml20.sign.assertion": true,
      "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
      "simplesaml.nameidattribute": "email",
      "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
      validate: { authnrequest: false },
    })};
`,
  );
  const setUsers = (users: IdpUser[]) => writeIdpUsers(dir, users);
  setUsers(options.users);

  const child: ChildProcess = spawn("/usr/bin/php", ["-S", `127.0.0.1:${port}`, "-t", SIMPLESAMLPHP_WWW], {
    env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: config },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const metadataUrl = `${baseUrl}/saml2/idp/metadata.php`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(metadataUrl);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`SimpleSAMLphp did not start on ${baseUrl}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    baseUrl,
    metadataUrl,
    entityId: metadataUrl,
    idpInitiatedUrl: `${baseUrl}/saml2/idp/SSOService.php?spentityid=${encodeURIComponent(options.spEntityId)}`,
    setUsers,
    stop: () => child.kill(),
  };
}
