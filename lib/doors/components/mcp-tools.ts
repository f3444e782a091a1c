import "server-only";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/client";
import { FEATURES, FEATURE_LABELS, MCP_TOOLS, MCP_TOOL_LABELS, type Feature, type McpTool } from "@/db/enums";
import { resources } from "@/db/schema";
import { requestAccess, requestsOf } from "@/lib/access-requests";
import { decide, type Decision } from "@/lib/access/policy";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { DomainError, NotFoundError, ValidationError } from "@/lib/errors";
import { userGroupsIn } from "@/lib/sso/provision";
import { uuidSchema } from "@/lib/validation";
import type { Admitted } from "./door";

// The identity MCP server every MCP resource serves: who am I, my groups, what I may use and why,
// and asking for access. Each tool is guarded on its own: a grant on the whole server (or on all MCP
// servers) allows every tool, a grant on one tool allows that tool. `tools/list` shows only the
// tools the caller may call; calling another answers a JSON-RPC error whose data carries the
// decision's reason. Every call, allowed or denied, is audited.

type ToolSpec = { description: string; input: z.ZodObject; run: (args: Record<string, unknown>, admitted: Admitted) => Promise<unknown> };

const resourceRef = z.string({ error: "Name the resource (its id or its exact name)." }).trim().min(1, "Name the resource (its id or its exact name).").max(200);

async function findResource(environmentId: string, ref: string, feature?: Feature) {
  const byId = uuidSchema.safeParse(ref).success ? eq(resources.id, ref) : sql`lower(${resources.name}) = lower(${ref})`;
  const rows = await getDb()
    .select()
    .from(resources)
    .where(and(eq(resources.environmentId, environmentId), byId, feature ? eq(resources.feature, feature) : undefined))
    .limit(2);
  if (rows.length > 1) throw new ValidationError(`Several resources are named “${ref}”: use the id.`);
  if (!rows[0]) throw new NotFoundError(`No resource “${ref}” in this environment.`);
  return rows[0];
}

const explainDecision = (d: Decision, name: string, feature: Feature) => ({ resource: name, feature: FEATURE_LABELS[feature], allow: d.allow, reason: d.reason, why: d.path.join(" → ") });

const TOOLS: Record<McpTool, ToolSpec> = {
  whoami: {
    description: "Who is calling, as the access token says: id, email, name, environment and groups.",
    input: z.object({}),
    run: async (_args, { claims }) => ({ sub: claims.sub, email: claims.email, name: claims.name, env: claims.env, groups: claims.groups ?? null }),
  },
  my_groups: {
    description: "My groups in this environment, and where each membership comes from (manual, directory, SSO).",
    input: z.object({}),
    run: async (_args, { claims, environment }) => (await userGroupsIn(getDb(), claims.sub, environment.id)).map((g) => ({ name: g.name, source: g.source })),
  },
  my_access: {
    description:
      "What I may use in this environment, and why (the grant and group that allow it). With `resource`, the decision on that one resource (or, with `tool`, one tool of an MCP server), allowed or not, with the reason.",
    input: z.object({
      feature: z.enum(FEATURES).optional(),
      resource: resourceRef.optional(),
      tool: z.enum(MCP_TOOLS).optional(),
    }),
    run: async (args, { claims, environment }) => {
      const { feature, resource: ref, tool } = args as { feature?: Feature; resource?: string; tool?: McpTool };
      const user = { id: claims.sub };
      if (ref) {
        const resource = await findResource(environment.id, ref, feature);
        const [d] = await decide({ environment, user, feature: resource.feature, resources: [resource.id], ...(tool ? { tool } : {}) });
        return explainDecision(d!, resource.name, resource.feature);
      }
      const all = await getDb()
        .select({ id: resources.id, name: resources.name, feature: resources.feature })
        .from(resources)
        .where(and(eq(resources.environmentId, environment.id), feature ? eq(resources.feature, feature) : undefined))
        .orderBy(resources.feature, sql`lower(${resources.name})`)
        .limit(500);
      const allowed: ReturnType<typeof explainDecision>[] = [];
      for (const f of feature ? [feature] : FEATURES) {
        const mine = all.filter((r) => r.feature === f);
        if (!mine.length) continue;
        const decisions = await decide({ environment, user, feature: f, resources: mine.map((r) => r.id), anyTool: f === "mcp" });
        decisions.forEach((d, i) => d.allow && allowed.push(explainDecision(d, mine[i]!.name, f)));
      }
      return { allowed, notAllowed: all.length - allowed.length, requests: (await requestsOf(claims.sub, environment.id)).map((r) => ({ resource: r.resourceName, tool: r.tool, status: r.status, comment: r.comment })) };
    },
  },
  request_access: {
    description: "Ask the environment's admins for access to a resource (or one tool of an MCP server), saying why. They approve or deny it in the console.",
    input: z.object({
      resource: resourceRef,
      tool: z.enum(MCP_TOOLS).optional(),
      reason: z.string().trim().min(1, "Say why you need this access.").max(500),
    }),
    run: async (args, { claims, environment, ip }) => {
      const { resource: ref, tool, reason } = args as { resource: string; tool?: McpTool; reason: string };
      const resource = await findResource(environment.id, ref);
      const ctx: DomainContext = { actor: { type: "end_user", id: claims.sub, label: claims.email, environmentIds: [environment.id] }, ip };
      const { request, created } = await requestAccess(ctx, { environmentId: environment.id, userId: claims.sub, resourceId: resource.id, tool: tool ?? null, reason });
      return {
        request: request.id,
        status: request.status,
        message: created ? `Requested. An admin of ${environment.key} will approve or deny it.` : "You already asked for this; the request is still open.",
      };
    },
  },
};

const text = (value: unknown, isError = false): CallToolResult => ({ content: [{ type: "text", text: typeof value === "string" ? value : JSON.stringify(value) }], ...(isError ? { isError } : {}) });

/** The MCP server for one admitted caller: the tools they may call, each call decided and audited. */
export function buildIdentityServer(admitted: Admitted): Server {
  const { resource, claims, environment } = admitted;
  const server = new Server({ name: resource.name, version: "1.0.0" }, { capabilities: { tools: {} } });
  const decideTool = async (tool: McpTool) =>
    (await decide({ environment, user: { id: claims.sub }, feature: "mcp", resources: [resource.id], tool, tokenIssuedAt: claims.iat, sessionId: claims.sid }))[0]!;
  const audit = (tool: string, decision: Decision) =>
    recordAudit(getDb(), { actor: { type: "end_user", id: claims.sub, label: claims.email, environmentIds: [environment.id] }, ip: admitted.ip }, {
      action: "mcp.tool_call",
      targetType: "resource",
      targetId: resource.id,
      targetLabel: resource.name,
      environment,
      outcome: decision.allow ? "success" : "denied",
      ...(decision.allow ? {} : { reason: decision.reason }),
      after: { tool },
    });

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const decisions = await Promise.all(MCP_TOOLS.map(decideTool));
    const tools: Tool[] = MCP_TOOLS.filter((_, i) => decisions[i]!.allow).map((name) => ({
      name,
      title: MCP_TOOL_LABELS[name],
      description: TOOLS[name].description,
      inputSchema: z.toJSONSchema(TOOLS[name].input, { io: "input" }) as Tool["inputSchema"],
    }));
    return { tools };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const name = request.params.name;
    if (!(MCP_TOOLS as readonly string[]).includes(name)) throw new McpError(ErrorCode.InvalidParams, `No tool “${name}” on this server.`);
    const tool = name as McpTool;
    const decision = await decideTool(tool);
    await audit(tool, decision);
    if (!decision.allow) throw new McpError(ErrorCode.InvalidRequest, `${decision.message} (${decision.reason})`, { reason: decision.reason, message: decision.message, tool });
    const args = TOOLS[tool].input.safeParse(request.params.arguments ?? {});
    if (!args.success) throw new McpError(ErrorCode.InvalidParams, args.error.issues.map((i) => `${i.path.join(".") || "arguments"}: ${i.message}`).join("; "));
    try {
      return text(await TOOLS[tool].run(args.data, admitted));
    } catch (error) {
      // What the caller can fix (an unknown resource, already allowed, a reason too long) is a tool
      // error the model can read; anything else is the server's.
      if (error instanceof DomainError) return text(error.message, true);
      throw error;
    }
  });
  return server;
}
