import { and, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { environments, resources } from "@/db/schema";
import { handleGenieMessage } from "@/lib/doors/components/genie";
import { handleMcp, protectedResourceMetadata } from "@/lib/doors/components/mcp";
import { handleOAuth } from "@/lib/doors/oauth/handler";
import { handleApiRequest, MAX_BODY_BYTES as API_MAX_BODY_BYTES } from "@/lib/doors/rest/handler";
import { openApiDocument } from "@/lib/doors/rest/openapi";
import { handleScim, MAX_BODY_BYTES as SCIM_MAX_BODY_BYTES } from "@/lib/doors/scim/handler";
import { scimRefusal } from "@/lib/doors/scim/errors";
import { MAX_RESPONSE_BYTES } from "@/lib/sso/saml-response";
import { issuerMetadata } from "@/lib/tokens/discovery";
import { jwksResponse } from "@/lib/doors/http/jwks";
import { uuidSchema } from "@/lib/validation";

// The machine doors, answered by the lean server (lib/doors/server) without Next's router: each is
// the door's one handler (web Request → Response). Browsers' paths go to Next. The authorization
// sweep and the GET-safety test read this table, so a door added here is swept like a Next route.

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A refusal the lean server answers itself (a body too large, NUL, bad encoding, a method not allowed), in the door's own error shape. */
export type Refuse = (status: number, detail: string, extra: { code?: string; requestId?: string; headers?: Record<string, string>; invalidValue?: boolean }) => Response;

export type MachineRoute = {
  /** A name for tests and logs. */
  name: string;
  pattern: RegExp;
  methods: readonly Method[];
  /** A path it answers, for the tests that sweep every door ({id} is any id). */
  example: string;
  /** How it authenticates, and what a request without any credential gets. */
  door: string;
  anonymous: readonly number[];
  /** The largest body accepted (bytes), enforced while the body streams in. */
  maxBody: number;
  handle: (request: Request, match: RegExpExecArray) => Promise<Response> | Response;
  /** The shape of the server's own refusals for this door; RFC 9457 problem details unless said. */
  refuse?: Refuse;
};

const SMALL = 64 * 1024;
const uuid = "([0-9a-fA-F-]{1,64})";

export const MACHINE_ROUTES: readonly MachineRoute[] = [
  {
    // For load balancers and uptime checks: the process answers (no database work, so it is also the
    // server's own floor in the benchmarks).
    name: "health",
    example: "/healthz",
    pattern: /^\/healthz$/,
    methods: ["GET"],
    door: "public",
    anonymous: [200],
    maxBody: SMALL,
    handle: () => Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } }),
  },
  {
    name: "scim",
    example: "/scim/v2/{id}/Users",
    pattern: /^\/scim\/v2\/([^/]+)((?:\/[^/]*)*)$/,
    methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
    door: "directory token",
    anonymous: [401],
    maxBody: SCIM_MAX_BODY_BYTES,
    refuse: scimRefusal,
    handle: (request, m) => {
      try {
        return handleScim(request, decodeURIComponent(m[1]!), (m[2] ?? "").split("/").filter(Boolean).map(decodeURIComponent));
      } catch (error) {
        if (!(error instanceof URIError)) throw error;
        return Response.json(
          { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404", detail: "The path is not valid percent-encoding." },
          { status: 404, headers: { "content-type": "application/scim+json" } },
        );
      }
    },
  },
  {
    name: "openapi",
    example: "/api/v1/openapi.json",
    pattern: /^\/api\/v1\/openapi\.json$/,
    methods: ["GET"],
    door: "public",
    anonymous: [200],
    maxBody: SMALL,
    handle: () => Response.json(openApiDocument(), { headers: { "cache-control": "public, max-age=300" } }),
  },
  {
    name: "rest",
    example: "/api/v1/users",
    pattern: /^\/api\/v1(\/.*)?$/,
    methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
    door: "API token",
    // 404/405 for a path or method with no endpoint (said before the token is read).
    anonymous: [401, 404, 405],
    maxBody: API_MAX_BODY_BYTES,
    handle: (request) => handleApiRequest(request, request.method as Method),
  },
  {
    name: "jwks",
    example: "/.well-known/jwks.json",
    pattern: /^\/\.well-known\/jwks\.json$/,
    methods: ["GET"],
    door: "public",
    anonymous: [200],
    maxBody: SMALL,
    // The keys that verify runtime access tokens: next, active, and retired ones until every token
    // they signed has expired.
    handle: () => jwksResponse(),
  },
  {
    name: "issuer-metadata",
    example: "/.well-known/openid-configuration",
    pattern: /^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/,
    methods: ["GET"],
    door: "public",
    anonymous: [200],
    maxBody: SMALL,
    handle: () => Response.json(issuerMetadata(), { headers: { "cache-control": "public, max-age=3600", "access-control-allow-origin": "*" } }),
  },
  {
    // Each environment's OAuth authorization server (MCP clients): authorize, token, register,
    // revoke, its keys (lib/oauth, lib/doors/oauth). Public clients: anyone may call it.
    name: "oauth",
    example: "/e/dev/oauth/token",
    pattern: /^\/e\/([a-z][a-z0-9-]{0,31})(\/oauth(?:\/[A-Za-z0-9_\-./]*)?)$/,
    methods: ["GET", "POST"],
    door: "OAuth (public clients, PKCE)",
    anonymous: [200, 302, 303, 400, 401, 404, 405],
    maxBody: SMALL,
    handle: (request, m) => handleOAuth(request, m[1]!, m[2]!),
  },
  {
    // Its metadata (RFC 8414), at the path-inserted address and under the issuer, and as OpenID discovery.
    name: "oauth-metadata",
    example: "/.well-known/oauth-authorization-server/e/dev",
    pattern: /^(?:\/\.well-known\/(?:oauth-authorization-server|openid-configuration)\/e\/([a-z][a-z0-9-]{0,31})|\/e\/([a-z][a-z0-9-]{0,31})\/\.well-known\/(?:oauth-authorization-server|openid-configuration))$/,
    methods: ["GET"],
    door: "public",
    anonymous: [200, 404],
    maxBody: SMALL,
    handle: async (request, m) => {
      const answer = await handleOAuth(request, (m[1] ?? m[2])!, "/.well-known/openid-configuration");
      if (answer.ok) answer.headers.set("access-control-allow-origin", "*");
      return answer;
    },
  },
  {
    name: "mcp-resource-metadata",
    example: "/.well-known/oauth-protected-resource/mcp/{id}",
    // Any id (the handler checks it): a client asking with a malformed one gets JSON, not Next's page.
    pattern: /^\/\.well-known\/oauth-protected-resource\/mcp\/([^/]{1,200})$/,
    methods: ["GET"],
    door: "public",
    anonymous: [404],
    maxBody: SMALL,
    // RFC 9728 protected-resource metadata of one MCP server.
    handle: async (_request, m) => {
      const id = m[1]!;
      const [mcp] = uuidSchema.safeParse(id).success
        ? await getDb().select({ id: resources.id, name: resources.name, environmentKey: environments.key }).from(resources).innerJoin(environments, eq(environments.id, resources.environmentId)).where(and(eq(resources.id, id), eq(resources.feature, "mcp")))
        : [];
      if (!mcp) return Response.json({ error: "not_found", message: "No such MCP server." }, { status: 404 });
      return Response.json(protectedResourceMetadata(mcp.id, mcp.name, mcp.environmentKey), { headers: { "cache-control": "public, max-age=300", "access-control-allow-origin": "*" } });
    },
  },
  {
    name: "mcp",
    example: "/mcp/{id}",
    pattern: new RegExp(`^/mcp/${uuid}$`),
    methods: ["GET", "POST", "DELETE"],
    door: "access token",
    anonymous: [401, 404],
    maxBody: SCIM_MAX_BODY_BYTES,
    handle: (request, m) => handleMcp(request, m[1]!),
  },
  {
    name: "genie",
    example: "/api/genies/{id}/messages",
    pattern: new RegExp(`^/api/genies/${uuid}/messages$`),
    methods: ["POST"],
    door: "access token",
    anonymous: [401, 404],
    maxBody: SMALL,
    // A genie's message endpoint: bearer access token (aud agent_studio) → verify → live policy → fixed reply.
    handle: (request, m) => handleGenieMessage(request, m[1]!),
  },
];

/** The machine door for a path, or undefined (a browser path: Next answers it). */
export function machineRoute(pathname: string): { route: MachineRoute; match: RegExpExecArray } | undefined {
  for (const route of MACHINE_ROUTES) {
    const match = route.pattern.exec(pathname);
    if (match) return { route, match };
  }
  return undefined;
}

/**
 * Answers a web Request as the server would if it is a machine door's (the tests call the doors
 * through this, so they test the same routing); undefined for a browser path.
 */
export async function dispatchMachine(request: Request): Promise<Response | undefined> {
  const found = machineRoute(new URL(request.url).pathname);
  if (!found) return undefined;
  if (!(found.route.methods as readonly string[]).includes(request.method)) {
    return new Response(null, { status: 405, headers: { allow: found.route.methods.join(", ") } });
  }
  return found.route.handle(request, found.match);
}

/**
 * Browser doors whose bodies the server caps while they stream, before Next reads them (a chunked
 * body has no Content-Length to check up front). Server actions have Next's own limit; the CSV
 * upload streams into Postgres chunk by chunk.
 */
export const CAPPED_NEXT_PATHS: readonly { pattern: RegExp; maxBody: number }[] = [
  // The SAML ACS: a form post from the IdP.
  { pattern: /^\/api\/sso\/acs$/, maxBody: MAX_RESPONSE_BYTES * 2 },
  // Starting SSO, an end user's access token, next-auth's sign-in: small forms and JSON.
  { pattern: /^\/e\/[^/]+\/(sso|token)$/, maxBody: SMALL },
  { pattern: /^\/sign-in\/sso$/, maxBody: SMALL },
  { pattern: /^\/api\/auth\//, maxBody: SMALL },
];
