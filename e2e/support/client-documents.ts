// Serves OAuth Client ID Metadata Documents over https on loopback for the e2e tests, as an MCP
// client's website would: https://localhost:<port>/clients/<callback port>/client.json is the
// document of a client whose redirect URI is http://127.0.0.1:<callback port>/callback. The app
// is started trusting its self-signed certificate (NODE_EXTRA_CA_CERTS) and allowed to fetch
// documents from private addresses (ALLOW_PRIVATE_CLIENT_METADATA_URLS), which it refuses by default.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";

export type ClientDocumentServer = { baseUrl: string; certFile: string; stop(): void };

export async function startClientDocumentServer(dir: string, port: number): Promise<ClientDocumentServer> {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync("/usr/bin/openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  const baseUrl = `https://localhost:${port}`;
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const m = /^\/clients\/(\d{2,5})\/client\.json$/.exec(req.url ?? "");
    if (!m) return void res.writeHead(404).end();
    const document = {
      client_id: `${baseUrl}${req.url}`,
      client_name: "SDK client by metadata document",
      client_uri: baseUrl,
      redirect_uris: [`http://127.0.0.1:${m[1]}/callback`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=60" }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { baseUrl, certFile: cert, stop: () => server.close() };
}
