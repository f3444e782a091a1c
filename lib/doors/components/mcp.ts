import "server-only";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { z } from "zod";
import { getDb } from "@/db/client";
import { recordAudit } from "@/lib/audit/record";
import { publicOrigin } from "@/env";
import { mcpServerUrl, protectedResourceMetadataUrl } from "@/lib/tokens/mint";
import { admit, type Admitted } from "./door";

// One MCP server per MCP resource, served over streamable HTTP (stateless: a server and transport
// per request) with the official SDK. A bearer access token whose audience is this server's URL
// is required; without one the answer is 401 pointing to the RFC 9728 metadata.

export function protectedResourceMetadata(resourceId: string, name: string) {
  return {
    resource: mcpServerUrl(resourceId),
    authorization_servers: [publicOrigin()],
    bearer_methods_supported: ["header"],
    resource_name: name,
    resource_documentation: `${publicOrigin()}/`,
  };
}

function buildServer(admitted: Admitted): McpServer {
  const { resource, claims, environment } = admitted;
  const server = new McpServer({ name: resource.name, version: "1.0.0" });
  const audited = async (tool: string) =>
    recordAudit(getDb(), { actor: { type: "end_user", id: claims.sub, label: claims.email, environmentIds: [environment.id] }, ip: admitted.ip }, {
      action: "mcp.tool_call",
      targetType: "resource",
      targetId: resource.id,
      targetLabel: resource.name,
      environment,
      after: { tool },
    });
  server.registerTool("whoami", { description: "Who is calling, as the access token says.", inputSchema: {} }, async () => {
    await audited("whoami");
    return { content: [{ type: "text", text: JSON.stringify({ sub: claims.sub, email: claims.email, name: claims.name, env: claims.env, groups: claims.groups ?? null }) }] };
  });
  server.registerTool("echo", { description: "Answers with the text it is given.", inputSchema: { text: z.string().max(4000) } }, async ({ text }) => {
    await audited("echo");
    return { content: [{ type: "text", text: `${resource.name} echoes: ${text}` }] };
  });
  return server;
}

export async function handleMcp(request: Request, resourceId: string): Promise<Response> {
  const admitted = await admit(request, resourceId, {
    feature: "mcp",
    audience: mcpServerUrl,
    challenge: (id, _reason, message) => ({
      "www-authenticate": `Bearer resource_metadata="${protectedResourceMetadataUrl(id)}"${request.headers.get("authorization") ? `, error="invalid_token", error_description="${message.replace(/"/g, "'")}"` : ""}`,
    }),
  });
  if (admitted instanceof Response) return admitted;
  const server = buildServer(admitted);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    void server.close();
  }
}
