import { publishedJwks } from "@/lib/tokens/keys";

// The keys that verify runtime access tokens: next, active, and retired ones until every token
// they signed has expired. Caches may keep it five minutes (the next key is published ahead).
export const dynamic = "force-dynamic";

export async function GET() {
  return Response.json(await publishedJwks(), {
    headers: { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300, stale-while-revalidate=60", "access-control-allow-origin": "*" },
  });
}
