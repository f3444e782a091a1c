import "server-only";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

// Requests the server makes to URLs an administrator entered (IdP metadata, audit webhooks) must
// not reach this machine or the private network behind it (server-side request forgery), unless
// configuration allows it (the demo's local IdP and receivers). Checked when the URL is entered,
// and again when connecting, on the address actually connected to (a host can re-resolve).

// This machine, private networks, and special-purpose ranges (RFC 6890). BlockList also matches
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1, which URLs spell [::ffff:7f00:1]) by their IPv4 rules.
const PRIVATE = new BlockList();
for (const [net, prefix] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 3]] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
// ::/96 holds the unspecified, loopback and IPv4-compatible addresses; 64:ff9b::/96 is NAT64 and
// 64:ff9b:1::/48 local-use NAT64 (RFC 8215); 2001::/32 Teredo and 2002::/16 6to4 carry an IPv4
// address inside (6to4 relays are deprecated, RFC 7526: no receiver is reached that way today);
// fec0::/10 is the old site-local range, fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast.
for (const [net, prefix] of [["::", 96], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["2001::", 32], ["2002::", 16], ["fc00::", 7], ["fec0::", 10], ["fe80::", 10], ["ff00::", 8]] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  return family === 4 ? PRIVATE.check(ip, "ipv4") : family === 6 ? PRIVATE.check(ip, "ipv6") : false;
}

/** Why `host` may not be reached (it does not resolve, or resolves to a private address), or null. */
export async function privateHostReason(host: string, setting: string): Promise<string | null> {
  const bare = host.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(bare) ? [bare] : (await lookup(bare, { all: true })).map((a) => a.address);
  } catch {
    return `The host ${bare} cannot be resolved.`;
  }
  if (addresses.some(isPrivateAddress)) return `${bare} resolves to a private or loopback address; only public addresses are reached (${setting} allows it).`;
  return null;
}

/** A DNS lookup for node:http(s) that fails when the host resolves to a private address. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const usable = addresses.filter((a) => !isPrivateAddress(a.address));
    if (usable.length < addresses.length || !usable.length) {
      return callback(Object.assign(new Error(`${hostname} resolves to a private or loopback address.`), { code: "EPRIVATE" }), "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  });
};

/**
 * One HTTP request (redirects are not followed: a 3xx is answered as it is). The response body is
 * read up to `maxBytes` (beyond it the request fails with code ETOOLARGE; 0 drops it unread). With
 * `publicOnly`, a host that resolves to a private address when connecting is refused.
 */
export function requestOnce(
  url: string,
  options: { method: "GET" | "POST"; headers: Record<string, string>; body?: string; timeoutMs: number; publicOnly: boolean; maxBytes: number },
): Promise<{ status: number; body: string; headers: import("node:http").IncomingHttpHeaders }> {
  const target = new URL(url);
  const client = target.protocol === "https:" ? https : http;
  const host = target.hostname.replace(/^\[|\]$/g, "");
  // An address literal is connected to without a lookup: checked here.
  if (options.publicOnly && isIP(host) && isPrivateAddress(host)) return Promise.reject(new Error(`${host} is a private or loopback address.`));
  const headers = options.body === undefined ? options.headers : { ...options.headers, "content-length": String(Buffer.byteLength(options.body)) };
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(deadline);
      request.destroy();
      reject(error);
    };
    const request = client.request(target, { method: options.method, headers, lookup: options.publicOnly ? publicOnlyLookup : undefined }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (options.maxBytes && size > options.maxBytes) fail(Object.assign(new Error(`The answer is larger than ${options.maxBytes} bytes.`), { code: "ETOOLARGE" }));
        else if (options.maxBytes) chunks.push(chunk);
      });
      response.on("end", () => {
        clearTimeout(deadline);
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: response.headers });
      });
      response.on("error", fail);
    });
    const deadline = setTimeout(() => fail(Object.assign(new Error(`No answer within ${Math.round(options.timeoutMs / 1000)} s`), { name: "TimeoutError" })), options.timeoutMs);
    request.on("error", fail);
    request.end(options.body);
  });
}
