import { demoIdp, demoIdpMetadata } from "@/lib/sso/testing/demo-idp";

// The demo IdP's SAML metadata (demo mode only: 404 unless `npm start`'s demo seed created it).
export async function GET() {
  const idp = await demoIdp();
  if (!idp) return new Response("Not found.", { status: 404 });
  return new Response(demoIdpMetadata(idp.key), { headers: { "content-type": "application/samlmetadata+xml; charset=utf-8", "cache-control": "no-store" } });
}
