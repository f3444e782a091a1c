import "server-only";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { publicOrigin } from "@/env";
import { authorizationServerIssuer, OAUTH_SCOPE } from "@/lib/oauth/provider";
import { mcpServerUrl, protectedResourceMetadataUrl } from "@/lib/tokens/mint";
import { admit } from "./door";
import { buildIdentityServer } from "./mcp-tools";

// One MCP server per MCP resource, served over streamable HTTP (stateless: a server and transport
// per request) with the official SDK. A bearer access token whose audience is this server's URL
// is required; without one the answer is 401 pointing to the RFC 9728 metadata. A user with a
// grant on the server, or on one of its tools, is let in; the tools (mcp-tools.ts) decide each call.

export function protectedResourceMetadata(resourceId: string, name: string, environmentKey: string) {
  return {
    resource: mcpServerUrl(resourceId),
    // Its environment's OAuth authorization server (lib/oauth): MCP clients sign the user in there.
    authorization_servers: [authorizationServerIssuer(environmentKey)],
    scopes_supported: [OAUTH_SCOPE],
    bearer_methods_supported: ["header"],
    resource_name: name,
    resource_documentation: `${publicOrigin()}/`,
  };
}

export async function handleMcp(request: Request, resourceId: string): Promise<Response> {
  const admitted = await admit(request, resourceId, {
    feature: "mcp",
    audience: mcpServerUrl,
    anyTool: true,
    challenge: (id, _reason, message) => ({
      "www-authenticate": `Bearer resource_metadata="${protectedResourceMetadataUrl(id)}"${request.headers.get("authorization") ? `, error="invalid_token", error_description="${message.replace(/"/g, "'")}"` : ""}`,
    }),
  });
  if (admitted instanceof Response) return admitted;
  const server = buildIdentityServer(admitted);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    void server.close();
  }
}
