import "server-only";
import { publishedJwks } from "@/lib/tokens/keys";

/**
 * The published keys as a JWKS answer, for the console's `/.well-known/jwks.json` and each
 * environment's authorization server alike: caches may keep it five minutes (the next key is
 * published ahead).
 */
export async function jwksResponse(): Promise<Response> {
  return Response.json(await publishedJwks(), {
    headers: { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300, stale-while-revalidate=60", "access-control-allow-origin": "*" },
  });
}
