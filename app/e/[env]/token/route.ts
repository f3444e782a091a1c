import { after } from "next/server";
import { problem, problemFromError } from "@/lib/doors/http/problem";
import { issuanceWritten } from "@/lib/tokens/issuance-audit";
import { mintAccessToken } from "@/lib/tokens/mint";
import { currentEndUserSession } from "../session";

// The signed-in end user's access token for one audience (a feature key or an MCP server URL).
// POST only: the session cookie is the credential, so the proxy's Origin check (proxy.ts: this
// site's pages only, 403 bad_origin otherwise) stands before it like before every state change.
export async function POST(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  const current = await currentEndUserSession(env);
  if (!current) return problem(401, "Sign in to this environment first.", { code: "no_session" });
  let audience: unknown;
  try {
    audience = ((await request.json()) as { audience?: unknown }).audience;
  } catch {
    return problem(400, "Send JSON: {\"audience\": \"agent_studio\"}.", { code: "invalid_json" });
  }
  if (typeof audience !== "string") return problem(400, "Name the audience: a feature key or an MCP server URL.", { code: "invalid_audience", fieldErrors: { audience: ["Required."] } });
  try {
    const minted = await mintAccessToken(current, audience);
    // The issuance is audited in the next batch; a graceful stop waits for that write.
    after(issuanceWritten());
    return Response.json({ access_token: minted.token, token_type: "Bearer", expires_in: minted.expiresIn }, { headers: { "cache-control": "no-store" } });
  } catch (error) {
    return problemFromError(error);
  }
}
