import { issuerMetadata } from "@/lib/tokens/discovery";

export const dynamic = "force-dynamic";

export function GET() {
  return Response.json(issuerMetadata(), { headers: { "cache-control": "public, max-age=3600", "access-control-allow-origin": "*" } });
}
