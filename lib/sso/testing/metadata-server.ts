// A metadata server on loopback for tests (what it serves changes per test), and a switch for
// ALLOW_PRIVATE_METADATA_URLS, which it needs: plain http is fetched only from loopback, with it on.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type MetadataServer = { url: string; serve(xml: string): void; close(): Promise<void> };

export async function startMetadataServer(extra: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false): Promise<MetadataServer> {
  let served = "";
  const server = http.createServer((req, res) => {
    if (extra(req, res)) return;
    res.writeHead(200, { "content-type": "application/xml" }).end(served);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`,
    serve: (xml) => void (served = xml),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function withPrivateUrls<T>(allowed: boolean, fn: () => Promise<T>): Promise<T> {
  const { env } = await import("@/env");
  const settings = env() as { ALLOW_PRIVATE_METADATA_URLS: boolean };
  const before = settings.ALLOW_PRIVATE_METADATA_URLS;
  settings.ALLOW_PRIVATE_METADATA_URLS = allowed;
  try {
    return await fn();
  } finally {
    settings.ALLOW_PRIVATE_METADATA_URLS = before;
  }
}
