import "server-only";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Feature } from "@/db/enums";
import { environments, resources, type Resource } from "@/db/schema";
import type { Decision } from "@/lib/access/policy";
import { recordAudit } from "@/lib/audit/record";
import { clientIp } from "@/lib/auth/request-info";
import { bearerToken, REASONS, type AccessTokenClaims, type Reason } from "@iam-console/runtime";
import { decideWithToken } from "@/lib/tokens/verify";
import { uuidSchema } from "@/lib/validation";

// The door of the platform's components (genies, MCP servers): bearer access token → verified with
// @iam-console/runtime → decided on the live policy. Token problems answer 401 with the reason; policy
// denials 403 with the reason; a key set that could not be read 503 (try again). Every denial is audited.

const TOKEN_REASONS: ReadonlySet<Reason> = new Set([
  "missing_token",
  "malformed_token",
  "token_too_large",
  "algorithm_not_allowed",
  "forbidden_header",
  "unsupported_header",
  "unknown_key",
  "bad_key",
  "bad_signature",
  "expired",
  "not_yet_valid",
  "wrong_issuer",
  "wrong_audience",
  "wrong_type",
  "missing_claim",
  "wrong_environment",
  "token_revoked",
]);

export type Admitted = { resource: Resource; environment: { id: string; key: string }; claims: AccessTokenClaims; decision: Decision; ip: string | undefined };

export type DoorOptions = {
  feature: Feature;
  audience: (resourceId: string) => string;
  /** A grant on some tool of the resource admits (the MCP server then decides each tool). */
  anyTool?: boolean;
  /** Extra headers on a 401 (the MCP server's RFC 9728 challenge). */
  challenge?: (resourceId: string, reason: Reason, message: string) => Record<string, string>;
};

export function denialBody(reason: Reason, message: string = REASONS[reason]) {
  return { error: TOKEN_REASONS.has(reason) ? "invalid_token" : reason === "keys_unavailable" ? "temporarily_unavailable" : "access_denied", reason, message };
}

export async function admit(request: Request, resourceId: string, options: DoorOptions): Promise<Admitted | Response> {
  const ip = clientIp((n) => request.headers.get(n));
  const [row] = uuidSchema.safeParse(resourceId).success
    ? await getDb().select({ resource: resources, env: { id: environments.id, key: environments.key } }).from(resources).innerJoin(environments, eq(environments.id, resources.environmentId)).where(eq(resources.id, resourceId))
    : [];
  if (!row || row.resource.feature !== options.feature) return Response.json(denialBody("resource_not_found"), { status: 404 });
  const token = bearerToken(request.headers.get("authorization"));
  const { claims, decisions } = await decideWithToken(token, { environment: row.env, feature: options.feature, resources: [row.resource.id], audience: options.audience(row.resource.id), anyTool: options.anyTool });
  const decision = decisions[0]!;
  if (decision.allow && claims) return { resource: row.resource, environment: row.env, claims, decision, ip };

  const actor = claims
    ? { type: "end_user" as const, id: claims.sub, label: claims.email, environmentIds: [row.env.id] }
    : { type: "anonymous" as const, id: null, label: "anonymous (no valid token)" };
  await recordAudit(getDb(), { actor, ip }, {
    action: `${options.feature}.access`,
    targetType: "resource",
    targetId: row.resource.id,
    targetLabel: row.resource.name,
    environment: row.env,
    outcome: "denied",
    reason: decision.reason,
  });
  const status = TOKEN_REASONS.has(decision.reason) ? 401 : decision.reason === "keys_unavailable" ? 503 : 403;
  const headers: Record<string, string> =
    status === 503
      ? { "retry-after": "5" }
      : status === 401
      ? options.challenge?.(row.resource.id, decision.reason, decision.message) ?? { "www-authenticate": `Bearer error="invalid_token", error_description="${decision.message.replace(/"/g, "'")}"` }
      : { "www-authenticate": `Bearer error="insufficient_scope", error_description="${decision.message.replace(/"/g, "'")}"` };
  return Response.json(denialBody(decision.reason, decision.message), { status, headers });
}
