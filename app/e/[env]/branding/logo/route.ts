import { brandingLogo } from "@/lib/branding";

// An environment's logo (lib/branding): a PNG, or an SVG sanitised when uploaded, served with its
// own type, never sniffed, and (for SVG) sandboxed with no script or fetch allowed. Public: the
// sign-in page shows it before anyone is signed in. Cached for long under its version (?v=).
export async function GET(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  const logo = /^[a-z][a-z0-9-]{0,31}$/.test(env) ? await brandingLogo(env) : null;
  if (!logo) return new Response("No logo.", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
  const versioned = new URL(request.url).searchParams.get("v") === String(logo.version);
  return new Response(new Uint8Array(logo.bytes), {
    headers: {
      "content-type": logo.type,
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache",
    },
  });
}
