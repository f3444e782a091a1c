import { NextResponse, type NextRequest } from "next/server";
import { jackson } from "@/lib/sso/jackson";

// Our SP metadata (entity ID, ACS URL, signing certificate) for the IdP's administrator.
export async function GET(request: NextRequest) {
  const { spConfig } = await jackson();
  const xml = await spConfig.toXMLMetadata();
  const headers: Record<string, string> = { "content-type": "application/samlmetadata+xml; charset=utf-8", "cache-control": "public, max-age=300" };
  if (request.nextUrl.searchParams.has("download")) headers["content-disposition"] = 'attachment; filename="sp-metadata.xml"';
  return new NextResponse(xml, { headers });
}
