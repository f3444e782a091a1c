import { handleMcp } from "@/lib/doors/components/mcp";

// An MCP server (streamable HTTP) per MCP resource; see lib/doors/components/mcp.ts.
type Params = { params: Promise<{ id: string }> };
const handle = async (request: Request, { params }: Params) => handleMcp(request, (await params).id);

export const GET = handle;
export const POST = handle;
export const DELETE = handle;
