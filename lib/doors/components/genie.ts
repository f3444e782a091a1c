import "server-only";
import { z } from "zod";
import { getDb } from "@/db/client";
import { recordAudit } from "@/lib/audit/record";
import { admit } from "./door";

// A genie of Agent Studio: verifies the caller's token, enforces the policy, answers with a fixed
// reply (no AI), and audits the exchange.

const messageInput = z.object({ message: z.string().trim().min(1, "Write a message.").max(4000, "A message has at most 4,000 characters.") });

export async function handleGenieMessage(request: Request, genieId: string): Promise<Response> {
  const admitted = await admit(request, genieId, { feature: "agent_studio", audience: () => "agent_studio" });
  if (admitted instanceof Response) return admitted;
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return Response.json({ error: "invalid_request", message: "Send JSON: {\"message\": \"…\"}." }, { status: 400 });
  }
  const parsed = messageInput.safeParse(body);
  if (!parsed.success) return Response.json({ error: "invalid_request", message: parsed.error.issues[0]!.message }, { status: 400 });
  const { resource, environment, claims, decision, ip } = admitted;
  await recordAudit(getDb(), { actor: { type: "end_user", id: claims.sub, label: claims.email, environmentIds: [environment.id] }, ip }, {
    action: "agent_studio.message",
    targetType: "resource",
    targetId: resource.id,
    targetLabel: resource.name,
    environment,
    after: { characters: parsed.data.message.length, grant: decision.grant?.id, group: decision.group?.name ?? null },
  });
  return Response.json({
    genie: { id: resource.id, name: resource.name },
    reply: `${resource.name} here. I received your message (${parsed.data.message.length} characters), ${claims.name}. This genie answers with a fixed reply.`,
    allowedBy: { reason: decision.reason, grant: decision.grant, group: decision.group, path: decision.path },
  });
}
