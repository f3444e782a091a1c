import { and, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { resources } from "@/db/schema";
import { protectedResourceMetadata } from "@/lib/doors/components/mcp";
import { uuidSchema } from "@/lib/validation";

// RFC 9728 protected-resource metadata of one MCP server.
export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const [mcp] = uuidSchema.safeParse(id).success ? await getDb().select().from(resources).where(and(eq(resources.id, id), eq(resources.feature, "mcp"))) : [];
  if (!mcp) return Response.json({ error: "not_found", message: "No such MCP server." }, { status: 404 });
  return Response.json(protectedResourceMetadata(mcp.id, mcp.name), { headers: { "cache-control": "public, max-age=300", "access-control-allow-origin": "*" } });
}
