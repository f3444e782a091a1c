// Where to send a browser that named its own next page in a request (the console's ?callbackUrl=,
// an end user's return_to, a SAML RelayState): only somewhere on our own origin. A test on the
// spelling ("starts with / but not //") is not enough: browsers read "/\evil.example",
// "/<tab>/evil.example" (tabs and newlines are dropped anywhere) and "https:evil.example" as other
// origins. So the target is resolved the way a browser resolves it, and kept only when it stays on
// `origin`; a layer that decodes it once more (a proxy, a router: "/%2F%2Fevil.example",
// "/%5Cevil.example") must find our origin too.

const MAX_LENGTH = 2048;
// Raw whitespace and control characters have no place in a target (encoded, they are welcome).
const RAW_FORBIDDEN = /[\s\u0000-\u001f\u007f-\u009f]/;

/** `value` resolved against `base` as a browser would, as a path, if it stays on base's origin. */
function pathOnOrigin(value: string, base: URL): string | null {
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return null;
  }
  if (url.origin !== base.origin) return null;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // "/.//evil.example" normalises to the path "//evil.example", which a browser reads as a host.
  return path.startsWith("/") && !path.startsWith("//") ? path : null;
}

/**
 * The target as a path on `origin` (pathname, query and hash, normalised), or null when it would
 * leave `origin` (another host or scheme, `javascript:`, a scheme-relative spelling), carries raw
 * whitespace or control characters, or is not a string. Callers fall back to a fixed page on null.
 */
export function safeRedirectTarget(target: unknown, origin: string): string | null {
  if (typeof target !== "string" || target === "" || target.length > MAX_LENGTH || RAW_FORBIDDEN.test(target)) return null;
  let base: URL;
  try {
    base = new URL(origin);
  } catch {
    return null;
  }
  const path = pathOnOrigin(target, base);
  if (path === null) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    return null; // malformed percent-encoding: no page of ours is named that way
  }
  return decoded === target || pathOnOrigin(decoded, base) !== null ? path : null;
}
