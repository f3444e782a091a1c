import net from "node:net";

// Whose request is it? The server owns the socket, so it knows the peer's address; an
// X-Forwarded-For header is believed only as far as the hops TRUST_PROXY names. Every rate limit
// and audit row then reads the one address this decides (the server rewrites X-Forwarded-For to it).

export type TrustProxy = { hops: number } | { ranges: net.BlockList } | null;

/**
 * TRUST_PROXY: unset, "" or "false": no proxy (X-Forwarded-For is ignored); a number N: the last N
 * hops (the peer included) are our proxies; a comma-separated list of addresses or CIDRs: hops in
 * those ranges are our proxies. Throws with the reason on anything else.
 */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? "").trim();
  if (v === "" || v === "false" || v === "0") return null;
  if (/^\d+$/.test(v)) return { hops: Number(v) };
  const ranges = new net.BlockList();
  for (const part of v.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [address, bits] = part.split("/");
    const family = net.isIPv4(address!) ? "ipv4" : net.isIPv6(address!) ? "ipv6" : null;
    if (!family) throw new Error(`TRUST_PROXY: "${part}" is not an address or CIDR range.`);
    if (bits === undefined) ranges.addAddress(address!, family);
    else {
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === "ipv4" ? 32 : 128)) throw new Error(`TRUST_PROXY: "${part}" has a bad prefix length.`);
      ranges.addSubnet(address!, prefix, family);
    }
  }
  return { ranges };
}

/** "::ffff:127.0.0.1" → "127.0.0.1"; brackets and ports of forwarded entries removed. */
function normalise(address: string): string | null {
  let a = address.trim();
  if (a.startsWith("[")) a = a.slice(1, a.indexOf("]") > 0 ? a.indexOf("]") : undefined);
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  if (a.toLowerCase().startsWith("::ffff:") && net.isIPv4(a.slice(7))) a = a.slice(7);
  return net.isIP(a) ? a : null;
}

function trusted(trust: Exclude<TrustProxy, null>, address: string, fromRight: number): boolean {
  // Own properties only: an "in" test would also see what a polluted Object.prototype carries.
  if (Object.hasOwn(trust, "hops")) return fromRight < (trust as { hops: number }).hops;
  return (trust as { ranges: net.BlockList }).ranges.check(address, net.isIPv4(address) ? "ipv4" : "ipv6");
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then, walking
 * X-Forwarded-For from the right, the first address that is not a trusted proxy.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustProxy): string {
  const socket = normalise(peer ?? "") ?? "unknown";
  if (!trust || socket === "unknown") return socket;
  const forwarded = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? "")).split(",").filter((s) => s.trim());
  const chain = [...forwarded.map((s) => normalise(s)), socket];
  for (let i = chain.length - 1, fromRight = 0; i >= 0; i--, fromRight++) {
    const hop = chain[i];
    // A malformed entry ends the walk: nothing left of it can be believed.
    if (!hop) return chain[i + 1] ?? socket;
    if (!trusted(trust, hop, fromRight)) return hop;
  }
  return chain[0] ?? socket;
}

/** Whether the socket's peer is one of our proxies (its forwarding headers are believed). */
export function isTrustedPeer(peer: string | undefined, trust: TrustProxy): boolean {
  const socket = normalise(peer ?? "");
  return !!trust && !!socket && trusted(trust, socket, 0);
}
